"""The animation :meth:`CinemagraphPipeline.plan <cinescape.methods.al.CinemagraphPipeline.plan>` returns: motion is
predicted, frames are rendered one at a time on demand (so memory does not grow with the number of frames), at full
resolution with OpenCV (:mod:`cinescape.ops.render`), the two layers of :class:`~cinescape.ops.layers.PhotoLayers`
composited and the colour maps of the appearance network applied."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Iterator

import cv2
import numpy as np
import torch
from tqdm import tqdm

from ...io.image import tensor_to_image
from ...models.precision import torch_threads
from ...ops import flow_normalized_to_pixels, flow_to_color, resize_flow, warp
from ...ops.layers import PhotoLayers, composite_layers_hwc, photo_to_float
from ...ops.render import (apply_local_affine_hwc, flow_to_pixel_map, grade_statistics, guided_color_coefficients,
                           hwc_to_uint8, maps_to_hwc, remap_hwc, tone_statistics)
from ...ops.render_fast import FastLayers, grade_matrix, render_frame_bands
from .grade_keyframes import KeyframedGrade

#: torch threads for a frame's working-size loop maths (small tensors: see Animation.frame); the appearance net
#: runs with the process's own count. On the idle 2-core machine (cinescape bench's 1024x576 row, 101 frames,
#: medians of 2): 1 thread for both 15.7 s (appearance 10.3 s), 2 for both 12.2 s, this split 11.1 s.
FRAME_TORCH_THREADS = 1
MAP_BATCH = 4              # colour maps predicted per appearance-net call while rendering (8: no faster, +80 MB)



class Animation:
    """A planned animation: motion is already predicted, frames are rendered on iteration.

    Attributes: ``height``, ``width``, ``num_frames``; :meth:`frames` yields uint8 (H, W, 3) frames and
    :meth:`flow_frames` their colour-coded frame-to-frame flow. With ``layers`` only the fluid layer moves and
    the still layer (the photo) is composited over it with the matte.
    """

    def __init__(self, image: torch.Tensor, small: torch.Tensor, accumulated: torch.Tensor, steps: torch.Tensor,
                 schedule: list[tuple[tuple[int, float], ...]], maps_fn, progress: bool, *,
                 map_stride: int = 1, cyclic: bool = True, layers: PhotoLayers | None = None,
                 color_locality: float = 1.0, phased=None, grade_corners: list[int] | None = None):
        self.image, self.small = image, small
        self.phased = phased                                 # a PixelPhasedLoop: renders instead of ``schedule``
        self.layers = layers
        self.color_locality = color_locality                 # see guided_color_coefficients
        self.accumulated, self.steps = accumulated, steps   # (M, 2, h, w) each, normalised
        self.schedule = schedule                             # per output frame: ((motion index, weight), ...)
        # (output indices, small frames) -> a list of (h, w, 6) maps or None each; maps_fn None: no appearance
        self._maps_fn = maps_fn
        self._progress = progress
        self.map_stride = map_stride                         # colour maps predicted every map_stride-th frame
        self.cyclic = cyclic                                 # frame num_frames is frame 0 again (a loop)
        self._anchor_cache: dict[int, np.ndarray | None] = {}
        self._model_threads = torch.get_num_threads()       # the appearance net's threads (frame() sets 1 around it)
        self._image_hwc: np.ndarray | None = None            # the photo as (H, W, 3) float32, for rendering
        # the photo: uint8 (H, W, 3) (no float copy of a 24 MP photo held, 288 MB) or a (1, 3, H, W) tensor in [-1, 1]
        self.height, self.width = image.shape[:2] if isinstance(image, np.ndarray) else image.shape[-2:]
        self.num_frames = len(schedule)
        self.timings: dict[str, float] = defaultdict(float)  # seconds per stage, for benchmarks
        self.control: dict[str, list[dict]] = {}             # "arrows" / "patches": latent optimisation loss histories
        # Render on uint8 bands (cinescape.ops.render_fast) where the frame allows it: one or two copies and a
        # global colour grade (color_locality 0); False: always the float reference path below.
        self.fast = True
        self._fast_layers: FastLayers | None = None
        # The global grade of a loop from network statistics at keyframes (grade_keyframes.py); ``grade_corners``:
        # the frames next to which the appearance code bends, None: every frame predicted
        self.grade: KeyframedGrade | None = None
        if (grade_corners is not None and maps_fn is not None and color_locality == 0 and map_stride == 1
                and cyclic):
            self.grade = KeyframedGrade(self.num_frames, grade_corners, self._grade_statistics, batch=MAP_BATCH)

    def _blend_small(self, index: int) -> torch.Tensor:
        if self.phased is not None:
            source = self.small if self.layers is None else self.layers.fluid_small
            blend = self.phased.blend_small(source, index)
            return blend if self.layers is None else self.layers.composite_small(blend)
        if self.layers is None:
            return sum(w * warp(self.small, self.accumulated[m:m + 1]) for m, w in self.schedule[index])
        fluid = sum(w * warp(self.layers.fluid_small, self.accumulated[m:m + 1]) for m, w in self.schedule[index])
        return self.layers.composite_small(fluid)

    def _predict_maps(self, indices: list[int]) -> list[np.ndarray | None]:
        """Colour coefficients (h, w, 6) of output frames ``indices`` (one batched appearance-net call): the
        predicted maps re-expressed as local affine maps of each working-size frame
        (:func:`~cinescape.ops.render.guided_color_coefficients`), so that the colour change follows the
        full-resolution edges."""
        maps, small_hwc = self._network_maps(indices)
        return [None if m is None else guided_color_coefficients(m, small_hwc[k], locality=self.color_locality)
                for k, m in enumerate(maps)]

    def _network_maps(self, indices: list[int]) -> tuple[list[np.ndarray | None], np.ndarray]:
        """The appearance net's maps of output frames ``indices`` (one batched call) and their (B, h, w, 3)
        working-size frames."""
        frames_small = torch.cat([self._blend_small(index) for index in indices])
        with torch_threads(self._model_threads):   # a network call: worth every core (frame() runs on one)
            maps = self._maps_fn(indices, frames_small)
        return maps, maps_to_hwc(frames_small)

    def _grade_statistics(self, indices: list[int]) -> list[np.ndarray]:
        """What the keyframed grade takes from output frames ``indices`` (one batched network call): (18,) each,
        the appearance net's :func:`~cinescape.ops.render.grade_statistics` and the working-size frame's
        :func:`~cinescape.ops.render.tone_statistics`."""
        maps, small_hwc = self._network_maps(indices)
        return [np.concatenate((grade_statistics(m, small), tone_statistics(small)))
                for m, small in zip(maps, small_hwc)]

    def _anchors(self) -> list[int]:
        """The output frames whose colour maps are predicted: every ``map_stride``-th one (and the last, without
        a loop)."""
        anchors = list(range(0, self.num_frames, self.map_stride))
        if not self.cyclic and anchors[-1] != self.num_frames - 1:
            anchors.append(self.num_frames - 1)
        return anchors

    def _anchor_maps(self, index: int) -> np.ndarray | None:
        """Maps of anchor frame ``index``. Anchors are predicted MAP_BATCH at a time, from ``index`` on: batched
        calls use the cores better, and the rendering in between them runs without the network (see
        :mod:`cinescape.ops.render`). The anchor before ``index`` stays cached (the frames between the two lerp
        from it), and so does frame 0 (a loop's last frames lerp towards it): with frames rendered in order,
        every anchor is predicted once."""
        if index not in self._anchor_cache:
            anchors = self._anchors()
            position = anchors.index(index)
            batch = anchors[position:position + MAP_BATCH]
            kept = {a: maps for a, maps in self._anchor_cache.items() if a == 0 or index - self.map_stride <= a < index}
            self._anchor_cache = {**kept, **dict(zip(batch, self._predict_maps(batch)))}
        return self._anchor_cache[index]

    def _maps_hwc(self, index: int) -> np.ndarray | None:
        if self._maps_fn is None:
            return None
        if self.grade is not None:   # one grade per channel, as the (h, w, 6) coefficients of the other paths
            return np.tile(self.grade.grade(index), self.small.shape[-2:] + (1,))
        stride, count = self.map_stride, self.num_frames
        lower = index - index % stride
        upper = min(lower + stride, count)
        if not self.cyclic and upper == count:
            upper = count - 1
        if index == lower or index == upper:
            return self._anchor_maps(index)
        low_maps, high_maps = self._anchor_maps(lower), self._anchor_maps(upper % count)
        if low_maps is None or high_maps is None:  # the photo's own colours have no maps: predict this frame's
            return self._predict_maps([index])[0]
        return cv2.addWeighted(low_maps, 1 - (index - lower) / (upper - lower), high_maps,
                               (index - lower) / (upper - lower), 0.0)

    def maps(self, index: int) -> torch.Tensor | None:
        """Colour coefficients (1, 6, h, w) ``[a, b]`` of output frame ``index`` (the frame's colours are
        ``a * I + b``, the appearance net's ``tanh(C_w * I + C_b)`` fitted locally, see :meth:`_predict_maps`), or
        None (no appearance, or the photo's own colours). With ``map_stride`` k > 1 the predictor runs on every k-th frame (and the last one, without a
        loop) and the maps in between are interpolated linearly; in a loop the anchor after the last frame is
        frame 0. The maps change slowly (smooth codes, slow motion at the working size), and the predictor is
        the costliest part of a frame. With the keyframed grade (``self.grade``: a loop's global grade, stride 1)
        the (h, w, 6) coefficients are that frame's one grade per channel (:mod:`.grade_keyframes`)."""
        maps = self._maps_hwc(index)
        return None if maps is None else torch.from_numpy(maps).permute(2, 0, 1).unsqueeze(0)

    def frame(self, index: int) -> np.ndarray:
        """Output frame ``index`` as uint8 (H, W, 3) (:meth:`_frame`), its torch work on one thread: it is small,
        and the encoder and OpenCV keep the other cores busy (:func:`~cinescape.models.precision.torch_threads`)."""
        with torch_threads(FRAME_TORCH_THREADS):
            return self._frame(index)

    @torch.no_grad()
    def _frame(self, index: int) -> np.ndarray:
        """Output frame ``index`` as uint8 (H, W, 3): the photo sampled once per blended motion state.

        Rendered on (H, W, 3) arrays with OpenCV (:mod:`cinescape.ops.render`): the same as
        :func:`~cinescape.ops.warp` with ``mode="bicubic"`` and :func:`~cinescape.ops.color_transfer`, 2-3x faster.
        Bicubic sampling keeps moved frames as sharp as the photo (see :mod:`cinescape.ops.render`)."""
        self.prepare()
        if (self.fast and (self._maps_fn is None or self.color_locality == 0)
                and (self.phased is not None or len(self.schedule[index]) <= 2)):
            return self._frame_fast(index)
        started = time.perf_counter()
        size = (self.height, self.width)
        source = self._photo_hwc() if self.layers is None else self.layers.fluid
        frame = None
        if self.phased is not None:   # per-pixel phases: two remaps, a per-pixel blend (ops/phased.py)
            frame = self.phased.render_hwc(source, self.small if self.layers is None else self.layers.fluid_small,
                                           index)
        for m, w in self.schedule[index] if frame is None else ():
            warped = remap_hwc(source, flow_to_pixel_map(self.accumulated[m:m + 1], size))
            if frame is None:
                frame = warped if w == 1 else np.multiply(warped, np.float32(w), out=warped)
            else:
                cv2.scaleAdd(warped, float(w), frame, dst=frame)  # frame += w * warped, in place
        if self.layers is not None:
            frame = composite_layers_hwc(frame, self.layers.still, self.layers.alpha)
        loop_done = time.perf_counter()
        coefficients = self._maps_hwc(index)
        if coefficients is not None:
            frame = apply_local_affine_hwc(coefficients, frame)
        appearance_done = time.perf_counter()
        image = hwc_to_uint8(frame)
        # "loop" = full-resolution warps, blends and the conversion to uint8; "appearance" = colour maps
        self.timings["loop"] += (loop_done - started) + (time.perf_counter() - appearance_done)
        self.timings["appearance"] += appearance_done - loop_done
        return image

    def prepare(self) -> None:
        """The per-photo work the first frame would do, done now (part of planning: a plan made ahead, as the web
        page's, then renders its first frame at once): the phased loop's sharpening calibration."""
        if self.phased is not None and self.phased.sharpen and self.phased.sharpening is None:
            self._calibrate_phased()

    def _calibrate_phased(self) -> None:
        """Measure how much the photo's moving region loses to bicubic sampling (the phased loop's sharpening,
        :meth:`~cinescape.methods.al.phased_loop.PixelPhasedLoop.calibrate`); once, on the first frame."""
        started = time.perf_counter()
        if self.layers is None:
            photo = self.image if isinstance(self.image, np.ndarray) else tensor_to_image(self.image)
            self.phased.calibrate(photo, None)
        else:
            self.phased.calibrate(self.layers.fluid_pixels, self.layers.alpha[..., 0])
        self.timings["loop"] += time.perf_counter() - started

    def _photo_hwc(self) -> np.ndarray:
        """The photo as (H, W, 3) float32 in [-1, 1], made on first use."""
        if self._image_hwc is None:
            self._image_hwc = (photo_to_float(self.image) if isinstance(self.image, np.ndarray) else
                               np.ascontiguousarray(self.image[0].float().permute(1, 2, 0).numpy()))
        return self._image_hwc

    def _frame_fast(self, index: int) -> np.ndarray:
        """:meth:`frame` on uint8 bands (:func:`~cinescape.ops.render_fast.render_frame_bands`): within a level or
        so of the float path (PSNR > 45 dB), in a fraction of its time and memory."""
        started = time.perf_counter()
        if self._fast_layers is None:
            photo = self.image if isinstance(self.image, np.ndarray) else tensor_to_image(self.image)
            if self.layers is None:   # uint8 sources: the renderer converts the rows a band samples (render_fast)
                self._fast_layers = FastLayers(photo, photo)
            else:   # the copies sample the fluid layer; no float copy of the photo or still layer (288 MB each at 24 MP)
                self._fast_layers = FastLayers(photo, self.layers.fluid_pixels, self.layers.alpha)
        blend = None   # the per-pixel phased loop's working-size blend coefficients
        if self.phased is not None:
            copies, blend = self.phased.band_inputs(self.small if self.layers is None else self.layers.fluid_small,
                                                    index, (self.height, self.width))
        else:
            scale = np.float32([self.width / 2.0, self.height / 2.0])
            copies = [(np.ascontiguousarray(self.accumulated[m].float().numpy().transpose(1, 2, 0)) * scale, w)
                      for m, w in self.schedule[index]]
        appearance_started = time.perf_counter()
        coefficients = self._maps_hwc(index)   # constant maps: one grade per channel (color_locality 0)
        grade = None if coefficients is None else grade_matrix(coefficients[0, 0, :3], coefficients[0, 0, 3:])
        appearance_done = time.perf_counter()
        frame = render_frame_bands(self._fast_layers, copies, grade, coefficients=blend)
        self.timings["loop"] += (appearance_started - started) + (time.perf_counter() - appearance_done)
        self.timings["appearance"] += appearance_done - appearance_started
        return frame

    def release_frame_caches(self) -> None:
        """Drop what rendering frames keeps for the next ones (the phased loop's per-frame inputs, up to a cycle's
        worth, and the colour maps of anchor frames); they are made again on demand. The keyframed grade's
        statistics stay (18 numbers a keyframe). For a plan kept for later renders (the web page's)."""
        if self.phased is not None:
            self.phased.release()
        self._anchor_cache = {}

    def frames(self) -> Iterator[np.ndarray]:
        for index in tqdm(range(self.num_frames), desc="rendering", unit="frame", disable=not self._progress):
            yield self.frame(index)

    def flow_frames(self, max_magnitude: float | None = None) -> Iterator[np.ndarray]:
        """Colour-coded frame-to-frame flow in pixels, one saturation scale for the whole video."""
        pixels = flow_normalized_to_pixels(self.steps, self.height, self.width)
        if max_magnitude is None:
            max_magnitude = max(float(pixels.norm(dim=1).amax()), 1e-6)
        for index in range(self.num_frames):
            flow = (sum(w * pixels[m:m + 1] for m, w in self.schedule[index]) if self.phased is None else
                    flow_normalized_to_pixels(self.phased.step_flow(index), self.height, self.width))
            color = flow_to_color(resize_flow(flow, (self.height, self.width)), max_magnitude)
            yield tensor_to_image(color * 2 - 1)
