"""AL's Algorithm 1 as named stages over any motion model: the engine AL's and FGLA's pipelines compose.

:meth:`CinemagraphEngine.animate` runs, for one photo, the stages every flow-warp method shares, each a method of
its own (the data flow is described in :mod:`cinescape.methods.al.pipeline`):

1. matte: :meth:`~CinemagraphEngine.fluid_matte` at full resolution and the motion mask at working size
   (:meth:`~CinemagraphEngine.motion_mask`); with a ``regions`` stage (AL's motion by kind) the moving regions and
   their kinds, false water joining the still layer; the photo's layers (:class:`~cinescape.ops.layers.PhotoLayers`);
2. motion: arrows (a field, or the method's fit of its code to them), then :meth:`~CinemagraphEngine.motion_states`
   (Eulerian or recurrent) from the method's motion model and code;
3. loop: :meth:`~CinemagraphEngine.loop_states` (the loop plan's states and schedule, the per-pixel phased loop);
4. colours: :meth:`~CinemagraphEngine.colour_maps` (appearance codes keyframed through a codebook sequence);
5. frames: the lazily rendered :class:`~cinescape.methods.al.animation.Animation`.

What a method brings: its motion model (``predict_flow(image, z)``, ``predict_velocity(image, z)``) and code,
its flow scale, a per-pixel weight on the motion mask (FGLA's per-group speeds), the regions stage and the
arrow fit (AL). The engine holds what they share: the appearance model and codebook, the segmenters of the
automatic matte (loaded on first use), the working size and the model folder's defaults.
"""

from __future__ import annotations

import math
import random
import threading
import time
import warnings
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ...errors import CinescapeError, OptionError
from ...io.image import image_to_tensor, load_image, tensor_to_image
from ...models.precision import inference_autocast
from ...ops import accumulate_flow, integrate_velocity, interpolate_cyclic, warp
from ...ops.loop import schedule_corners
from ...ops.layers import PhotoLayers
from ...ops.phased import phased_cycle
from ...ops.render import maps_to_hwc
from ...regions import kind_velocity, parse_kinds, without_still
from ..engine import LoopPlan, plan_loop
from .animation import Animation
from .appearance import AppearanceModel
from .appearance_lstm import AppearanceLSTM
from .codebook import Codebook, CodeSelector
from .control import AppearancePatches, arrow_field, load_arrows, load_patches, optimize_appearance_code
from .phased_loop import PixelPhasedLoop
from .settings import FLOW_SMOOTH_SIGMA, AnimationSettings, working_shape
from .time_of_day import TimeOfDayCodes, time_of_day_keyframes

__all__ = ["AnimationSettingsShells", "CinemagraphEngine", "PhotoInput", "downsample_photo", "engine_attribute"]


@dataclass(frozen=True)
class PhotoInput:
    """One photo as the stages read it: ``photo`` uint8 (H, W, 3), and ``small`` (1, 3, h, w) in [-1, 1] at working
    size (short side ~ the working size, sides multiples of 8, antialiased bilinear). No float copy of the
    full-resolution photo is kept (288 MB at 24 MP): the stages work from the uint8 photo."""

    photo: np.ndarray
    small: torch.Tensor

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the photo."""
        return self.photo.shape[:2]

    @property
    def working(self) -> tuple[int, int]:
        """(h, w) of the working-size copy."""
        return tuple(self.small.shape[-2:])


def downsample_photo(photo: np.ndarray, size: tuple[int, int], band_pixels: int = 1 << 21) -> torch.Tensor:
    """A uint8 (H, W, 3) photo as a (1, 3, h, w) float32 tensor in [-1, 1] at ``size`` = (h, w): the antialiased
    bilinear resize (``F.interpolate(image_to_tensor(photo), size, mode="bilinear", antialias=True)``) done as its
    two separable passes, across on bands of rows, then down, so no full-resolution float tensor is made. Equal
    to the one-call resize (PyTorch makes the same passes).

    Example:
        >>> photo = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
        >>> whole = F.interpolate(image_to_tensor(photo), size=(8, 12), mode="bilinear", antialias=True)
        >>> bool((downsample_photo(photo, (8, 12), band_pixels=700) == whole).all())
        True
    """
    height, width = photo.shape[:2]
    rows = max(1, band_pixels // max(1, width))
    across = torch.cat([F.interpolate(image_to_tensor(photo[top:top + rows]), size=(min(rows, height - top), size[1]),
                                      mode="bilinear", align_corners=False, antialias=True)
                        for top in range(0, height, rows)], dim=2)
    return F.interpolate(across, size=size, mode="bilinear", align_corners=False, antialias=True)


class CinemagraphEngine:
    """The stages AL's Algorithm 1 shares between methods (see the module docstring).

    ``appearance``: the appearance model (None: motion only); ``codebook``: the codes of the training clips (its
    appearance sequences keyframe the colours; a method's motion codes are its own business); ``working_size``:
    the short side the networks run at; ``defaults``: the model folder's recommended settings (``auto_mask``);
    ``appearance_lstm``: AL App. B's code-sequence LSTM, if the folder has one. Holds only models and caches
    (filled under a lock), so one engine serves two threads at once.
    """

    def __init__(self, appearance: AppearanceModel | None, codebook: Codebook, working_size: int = 144,
                 defaults: dict | None = None, appearance_lstm: AppearanceLSTM | None = None):
        self.appearance = appearance.eval() if appearance is not None else None
        self.codebook = codebook
        self.working_size = working_size
        self.defaults = dict(defaults or {})
        self.appearance_lstm = appearance_lstm
        self.sky_matte = None   # the U²-Net-p sky matte, loaded on first use (auto_mask="sky" or "sky+water")
        self.segmenter = None   # the ADE20K segmenter, loaded on first use (auto_mask="sky+water")
        self._time_of_day: TimeOfDayCodes | None = None  # labelled appearance codes, computed on first use
        self._warned_no_mask = False
        self._lock = threading.Lock()   # the lazily loaded parts above are loaded once, by one thread

    # ---------------------------------------------------------------------------------------- 0. photo

    def photo_input(self, image: np.ndarray | torch.Tensor | str | Path, working_size: int | None = None
                    ) -> PhotoInput:
        """``image`` (a path, uint8 (H, W, 3) RGB, or (1, 3, H, W) in [-1, 1]) and its working-size copy."""
        if isinstance(image, (str, Path)):
            image = load_image(image)
        if isinstance(image, np.ndarray):   # no full-resolution float tensor (288 MB at 24 MP)
            size = working_shape(*image.shape[:2], working_size or self.working_size)
            return PhotoInput(image, downsample_photo(image, size))
        full = image.float()
        small = F.interpolate(full, size=working_shape(*full.shape[-2:], working_size or self.working_size),
                              mode="bilinear", align_corners=False, antialias=True)
        return PhotoInput(tensor_to_image(full), small)

    # ----------------------------------------------------------------------------------------- 1. matte

    def fluid_matte(self, image: np.ndarray, settings: AnimationSettings, *,
                    evidence: dict | None = None) -> np.ndarray | None:
        """The photo's fluid matte at full resolution: (H, W) float32 in [0, 1], 1 = moves (fluid layer), 0 = the
        still layer; None when everything moves (no user mask and no automatic mask).

        ``image``: the photo, uint8 (H, W, 3). The automatic mask (``"sky"`` or ``"sky+water"``/``"fluid"``) is
        :func:`~cinescape.segmentation.automatic_matte`, the full-resolution matte refined against the photo's own
        edges that every method shares, so thin still structures inside the sky (branches, wires, tree tops) and
        ridges fall in the still layer. A user mask (any size, resized bilinearly) multiplies it as given.
        ``evidence``: a dict that receives the sky matte's output (``"sky"``), for the regions.
        """
        from ...regions import RecordingModel
        from ...segmentation import ADE20KSegmenter, SkyMatte, as_mask_tensor, automatic_matte

        height, width = image.shape[:2]
        matte = None
        if settings.mask is not None:
            user = as_mask_tensor(settings.mask)[0, 0].numpy().astype(np.float32)
            matte = cv2.resize(user, (width, height), interpolation=cv2.INTER_LINEAR)
        auto_mask = settings.auto_mask
        from_model = auto_mask is None
        if from_model:
            auto_mask = self.defaults.get("auto_mask", "none")
        if auto_mask != "none":
            try:
                with self._lock:
                    if self.sky_matte is None:
                        self.sky_matte = SkyMatte()  # loaded once per engine; a missing file or package fails here
                    if auto_mask != "sky" and self.segmenter is None:
                        self.segmenter = ADE20KSegmenter()  # likewise loaded once
            except CinescapeError as exc:
                if not from_model:
                    raise
                # The model's default mask is a refinement: without its weights the photo still animates.
                if not self._warned_no_mask:
                    warnings.warn(f"animating without the model's default {auto_mask} mask, land may drift: {exc}",
                                  stacklevel=2)
                    self._warned_no_mask = True
                auto_mask = "none"
        if auto_mask != "none":
            sky_model = self.sky_matte if evidence is None else RecordingModel(self.sky_matte)
            auto = automatic_matte(image, auto_mask, sky_model, self.segmenter)
            if evidence is not None:   # the sky matte's output, for the regions (cinescape.regions)
                evidence["sky"] = sky_model.last
            matte = auto if matte is None else matte * auto
        if matte is None or bool((matte >= 1).all()):
            return None
        return np.clip(matte, 0.0, 1.0).astype(np.float32)

    @staticmethod
    def motion_mask(matte: np.ndarray | None, size: tuple[int, int], weights: torch.Tensor | None = None
                    ) -> torch.Tensor | None:
        """The (1, 1, h, w) motion mask at working size ``size`` (1 = moves), or None when everything moves: the
        full-resolution ``matte`` area-averaged down, times ``weights`` (1, 1, h, w), a method's per-pixel speeds
        (FGLA's per-group speeds), when given."""
        mask = None
        if matte is not None:
            small = cv2.resize(matte, (size[1], size[0]), interpolation=cv2.INTER_AREA)
            mask = torch.from_numpy(np.ascontiguousarray(small))[None, None]
        if weights is None:
            return mask
        return weights if mask is None else mask * weights

    # ---------------------------------------------------------------------------------------- 2. motion

    @torch.no_grad()
    def predict_motion(self, motion, small: torch.Tensor, z: torch.Tensor, count: int, speed: float,
                       progress: bool = False, *, mask: torch.Tensor | None = None,
                       direction: float = 1.0, layers: PhotoLayers | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Recurrent motion prediction at working size (Algorithm 1, lines 1-8) with ``motion``'s
        ``predict_flow(image, z)``.

        Returns ``(accumulated, steps)``, each (count, 2, h, w) normalised backward flows: frame ``t`` is the
        photo warped by ``accumulated[t]`` (``accumulated[0] = 0``), and ``steps[t]`` the flow from frame t to t-1.
        ``mask`` (1, 1, h, w) in [0, 1] multiplies every step (0 = frozen). ``direction=-1`` runs the motion
        backwards in time: each step is the *negated* prediction for the current frame (the symmetric loop's
        backward half). With ``layers`` each step is the fluid layer's motion (:meth:`PhotoLayers.fluid_flow`) and
        the network sees the still layer composited over the moved fluid layer.
        """
        accumulated = [torch.zeros_like(small[:, :2])]
        steps = [torch.zeros_like(small[:, :2])]
        current = small
        for _ in tqdm(range(count - 1), desc="motion", unit="frame", disable=not progress):
            with inference_autocast():
                step = motion.predict_flow(current, z[None]).float() * (speed * direction)
            if mask is not None:
                step = step * mask
            if layers is not None:
                step = layers.fluid_flow(step, FLOW_SMOOTH_SIGMA)
            accumulated.append(accumulate_flow(accumulated[-1], step))
            steps.append(step)
            if layers is None:
                current = warp(small, accumulated[-1])  # the original is sampled once: no blur accumulates
            else:
                current = layers.composite_small(warp(layers.fluid_small, accumulated[-1]))
        return torch.cat(accumulated), torch.cat(steps)

    @staticmethod
    @torch.no_grad()
    def predict_velocity(motion, small: torch.Tensor, z: torch.Tensor, speed: float,
                         mask: torch.Tensor | None = None) -> torch.Tensor:
        """Eulerian motion (Holynski et al. 2021): ONE prediction on the photo, a static velocity field.

        Returns the (1, 2, h, w) normalised backward flow per frame step, ``V(small, z) * speed * mask``, in
        the units of :meth:`predict_motion`'s steps; :func:`~cinescape.ops.integrate_velocity` turns it into
        accumulated flows. ``V`` is ``motion.predict_velocity``: AL's velocity predictor, distilled to the
        recurrent mode's mean flow (:mod:`cinescape.methods.al.velocity`), or a model's flow on the photo.
        """
        with inference_autocast():
            velocity = motion.predict_velocity(small, z[None]).float() * speed
        return velocity * mask if mask is not None else velocity

    def motion_states(self, motion, small: torch.Tensor, z: torch.Tensor, count: int,
                      settings: AnimationSettings, mask: torch.Tensor | None, progress: bool,
                      field: torch.Tensor | None = None, layers: PhotoLayers | None = None, both_ways: bool = False,
                      regions=None, kind_scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """``(accumulated, steps)`` for :class:`Animation`: ``count`` forward states, followed, for the symmetric
        and phased loops, by ``count - 1`` backward states (the photo moved 1..count-1 steps back in time).
        ``steps`` of a backward state is its flow in the direction of play (the negated backward step), for the
        flow video. ``field`` (1, 2, h, w), e.g. an arrow field, replaces the network: a static velocity field
        (times speed and mask), integrated as in the Eulerian mode whatever ``settings.mode`` (a recurrent run of
        a static field is the same). With ``layers`` the flows move the fluid layer
        (:meth:`PhotoLayers.fluid_flow`). ``regions`` (a :class:`~cinescape.regions.RegionMap`): each region
        moves as its kind (:func:`~cinescape.regions.kind_velocity`, its speeds times ``kind_scale``)."""
        speed = settings.motion_speed
        if settings.mode == "eulerian" or field is not None:
            if field is None:
                velocity = self.predict_velocity(motion, small, z, speed, mask)
                if regions is not None:   # each region moves as its kind (cinescape.regions)
                    velocity = kind_velocity(velocity, mask, regions, settings.kind_speeds, settings.seed,
                                             scale=kind_scale)
            else:
                velocity = field * speed if mask is None else field * speed * mask
            if layers is not None:
                velocity = layers.fluid_flow(velocity, FLOW_SMOOTH_SIGMA)
            accumulated = integrate_velocity(velocity, count - 1)[:, 0]
            steps = torch.cat((torch.zeros_like(velocity), velocity.expand(count - 1, -1, -1, -1)))
            if both_ways:
                backward = integrate_velocity(-velocity, count - 1)[1:, 0]
                accumulated = torch.cat((accumulated, backward))
                steps = torch.cat((steps, velocity.expand(count - 1, -1, -1, -1)))
            return accumulated, steps.contiguous()
        accumulated, steps = self.predict_motion(motion, small, z, count, speed, progress, mask=mask, layers=layers)
        if both_ways:
            # Recurrent backward half: the network sees each backward-moved frame; its negated flow is the step.
            back_accumulated, back_steps = self.predict_motion(motion, small, z, count, speed, progress, mask=mask,
                                                               direction=-1.0, layers=layers)
            accumulated = torch.cat((accumulated, back_accumulated[1:]))
            steps = torch.cat((steps, -back_steps[1:]))
        return accumulated, steps

    # ------------------------------------------------------------------------------------------ 3. loop

    @staticmethod
    def loop_plan(settings: AnimationSettings) -> LoopPlan:
        """The loop of ``settings`` (:func:`~cinescape.methods.engine.plan_loop`); the per-pixel phased loop
        (``loop_phase_spread`` or ``loop_contrast``) needs each pixel's phase to reach -T/2 and +T/2 steps."""
        loop = plan_loop(settings.loop, settings.num_frames, settings.appearance_speed, settings.loop_period)
        if CinemagraphEngine.per_pixel_phases(settings):
            loop_length = settings.num_frames // settings.appearance_speed
            loop = replace(loop, motion_frames=math.ceil(phased_cycle(loop_length, settings.loop_period) / 2) + 1,
                           both_ways=True)
        return loop

    @staticmethod
    def per_pixel_phases(settings: AnimationSettings) -> bool:
        """Whether ``settings``' loop is the per-pixel phased loop (:mod:`cinescape.ops.phased`)."""
        return settings.loop == "phased" and (settings.loop_phase_spread > 0 or settings.loop_contrast)

    @staticmethod
    def loop_states(loop: LoopPlan, accumulated: torch.Tensor, steps: torch.Tensor, settings: AnimationSettings,
                    size: tuple[int, int], layers: PhotoLayers | None, *, keep_cycle: bool = True):
        """``(accumulated, steps, schedule, pixel_phased)``: the motion states the frames blend, each output
        frame's ``((state, weight), ...)``, and the per-pixel phased loop (or None) over working size ``size``;
        ``steps`` are what moves on screen (times the fluid layer's alpha: the still layer does not). ``keep_cycle``:
        the phased loop keeps a cycle of per-frame inputs (:class:`PixelPhasedLoop`)."""
        pixel_phased = None
        if CinemagraphEngine.per_pixel_phases(settings):
            loop_length = settings.num_frames // settings.appearance_speed
            offsets = PixelPhasedLoop.offsets_for(size, settings.loop_phase_scale, settings.loop_phase_spread,
                                                  settings.seed, None if layers is None else layers.alpha_small)
            pixel_phased = PixelPhasedLoop(accumulated, steps if layers is None else steps * layers.alpha_small,
                                           phased_cycle(loop_length, settings.loop_period), offsets,
                                           settings.loop_contrast, settings.loop_sharpen, keep_cycle=keep_cycle)
        if pixel_phased is None:
            accumulated, steps, schedule = loop.schedule_of(accumulated, steps)
        else:   # each pixel samples its own states (PixelPhasedLoop): no states at the frames' common displacements
            schedule = [()] * loop.num_frames
        if layers is not None:
            steps = steps * layers.alpha_small
        return accumulated, steps, schedule, pixel_phased

    # --------------------------------------------------------------------------------------- 4. colours

    @staticmethod
    def gaussian_codes(model, count: int, rng: random.Random) -> torch.Tensor:
        """(count, D) codes drawn from N(0, I) with a generator seeded from ``rng``; only for a model whose
        encoder was trained with a latent prior (``--latent-prior vae|wae``), whose codes follow N(0, I)."""
        if model.prior == "none":
            raise OptionError(f"gaussian codes need a {model.prefix} model trained with a latent prior "
                              f"(cinescape train {model.prefix} --latent-prior vae|wae); this one draws its "
                              f"codes from its codebook")
        generator = torch.Generator().manual_seed(rng.getrandbits(63))
        return torch.randn(count, model.latent_dim, generator=generator)

    def appearance_codes(self, small: torch.Tensor, settings: AnimationSettings, rng: random.Random, *,
                         image_size: tuple[int, int] | None = None, info: dict | None = None) -> torch.Tensor:
        """(N, D) codes: from the photo's own code through keyframes and back (cyclic).

        The keyframes: ``appearance_patches``: the code optimised towards the patches (AL Eq. 13,
        :meth:`patch_appearance_code`); ``time_of_day``: one labelled codebook code per listed time
        (:meth:`time_of_day_codes`); else ``settings.appearance_keyframes`` codes spread over a codebook sequence
        (``appearance_sequence="codebook"``) or over a sequence the appearance LSTM generates from the photo's own
        code (``"lstm"``, AL App. B). ``image_size``: the photo's (H, W), whose pixels patch boxes are in (default:
        ``small``'s). ``info``: a dict that receives the patch optimisation's loss history.
        """
        with torch.no_grad():
            own = self.appearance.encode(small)
        if settings.appearance_patches is not None:
            patches = load_patches(settings.appearance_patches, image_size or tuple(small.shape[-2:]))
            code, history = self.patch_appearance_code(small, patches, own[0], steps=settings.control_steps)
            if info is not None:
                info["patches"] = history
            return interpolate_cyclic(torch.stack((own[0], code)), settings.num_frames)
        if settings.time_of_day is not None:
            keyframes = time_of_day_keyframes(self.time_of_day_codes(), settings.time_of_day)
            return interpolate_cyclic(torch.cat((own, keyframes)), settings.num_frames)
        if settings.appearance_sequence == "lstm":
            lstm = self.require_lstm()
            sequence = lstm.generate(own[0], lstm.config.sequence_length + 1)[1:]  # [0] is the photo's own code
        elif CodeSelector.parse(settings.appearance_code).gaussian:
            sequence = self.gaussian_codes(self.appearance, settings.appearance_keyframes, rng)
        else:
            sequence = self.codebook.appearance_sequence(CodeSelector.parse(settings.appearance_code), rng)
        count = min(settings.appearance_keyframes, sequence.shape[0])
        picks = torch.linspace(0, sequence.shape[0] - 1, count).round().long()
        keyframes = torch.cat((own, sequence[picks]))
        return interpolate_cyclic(keyframes, settings.num_frames)

    def patch_appearance_code(self, small: torch.Tensor, patches: AppearancePatches, start: torch.Tensor, *,
                              steps: int, **options) -> tuple[torch.Tensor, list[dict]]:
        """AL Eq. 13: the appearance code, optimised from ``start`` (usually the photo's own), whose colour transfer
        of ``small`` matches ``patches``; returns it and the loss history."""
        target, weight = patches.at(tuple(small.shape[-2:]))
        return optimize_appearance_code(self.appearance, small, target, weight, start, steps=steps, **options)

    def time_of_day_codes(self) -> TimeOfDayCodes:
        """Every codebook appearance code labelled day/sunset/twilight/night (:mod:`cinescape.methods.al.time_of_day`),
        computed once per engine."""
        if self.appearance is None:
            raise OptionError("this model has no appearance predictor to label its codes with")
        with self._lock:
            if self._time_of_day is None:
                self._time_of_day = TimeOfDayCodes.from_codebook(self.appearance, self.codebook)
        return self._time_of_day

    def require_lstm(self) -> AppearanceLSTM:
        """The appearance LSTM, or a one-line OptionError saying how to train one."""
        if self.appearance_lstm is None:
            raise OptionError("appearance_sequence='lstm': this model has no appearance LSTM (appearance_lstm/ in its "
                              "folder); train one with `cinescape codebook --model DIR --train-lstm`")
        return self.appearance_lstm

    def check_colours(self, settings: AnimationSettings) -> None:
        """Refuse, before any work, colours this engine cannot give."""
        if settings.appearance and self.appearance is None:
            raise OptionError("this model has no appearance predictor: set appearance=False")
        if settings.appearance and settings.appearance_sequence == "lstm":
            self.require_lstm()

    def colour_maps(self, photo: PhotoInput, settings: AnimationSettings, rng: random.Random, control: dict
                    ) -> tuple[Callable[[list[int], torch.Tensor], list[np.ndarray | None]] | None, list[int]]:
        """The colours stage: a function of (frame indices, their working-size frames) -> each frame's colour
        transfer maps (HWC, or None: the photo's own colours), or None for motion only; and the frames next to
        which the appearance code bends (:func:`~cinescape.ops.loop.schedule_corners`). ``control`` receives the
        patch optimisation's loss history."""
        if not settings.appearance:
            return None, []
        codes = self.appearance_codes(photo.small, settings, rng, image_size=photo.size, info=control)
        keep_input = settings.loop == "none"

        def maps_fn(indices: list[int], frames_small: torch.Tensor) -> list[np.ndarray | None]:
            with torch.no_grad(), inference_autocast():
                maps = maps_to_hwc(self.appearance.predict_maps(frames_small, codes[indices]))
            # loop "none": frame 0 is the photo itself
            return [None if keep_input and index == 0 else maps[k] for k, index in enumerate(indices)]
        return maps_fn, schedule_corners(codes, cyclic=settings.loop != "none")

    # ------------------------------------------------------------------------------------ all the stages

    def animate(self, photo: PhotoInput, settings: AnimationSettings, motion, z_motion: torch.Tensor, rng: random.Random,
                *, flow_scale: float = 1.0, mask_weights: torch.Tensor | None = None, regions_stage=None,
                fit_arrows=None, progress: bool = False) -> Animation:
        """Animate ``photo`` with a method's ``motion`` model and code ``z_motion`` (see the module docstring).

        ``settings``: validated, with arrows and patches already parsed (photo pixels); ``rng``: the method's
        random source after its code was drawn (the colours draw from it next); ``flow_scale``: what the network's
        flow is multiplied by at ``motion_speed=1`` (not an arrow's: an arrow says its speed); ``mask_weights``:
        per-pixel speeds (1, 1, h, w) on the motion mask; ``regions_stage(photo, mask, sky_evidence, settings)``:
        the moving regions and their kinds (a :class:`~cinescape.regions.RegionMap`) or None; ``fit_arrows(small,
        arrows, z, steps, velocity)``: the method's code fitted to the arrows and the loss history
        (``arrows_mode="latent"``; None: the method has none).
        """
        started = time.perf_counter()
        loop = self.loop_plan(settings)
        # 1. matte: the fluid matte, the motion mask, the regions and kinds, the layers
        evidence: dict = {}
        matte = self.fluid_matte(photo.photo, settings, evidence=evidence)
        mask = self.motion_mask(matte, photo.working, mask_weights)
        regions = None
        if regions_stage is not None:
            regions = regions_stage(photo, mask, evidence.get("sky"), settings)
            if regions is not None and any(region.kind == "still" for region in regions.regions):
                matte = without_still(matte, regions)   # false water joins the still layer
                mask = self.motion_mask(matte, photo.working, mask_weights)
        layers = None
        if matte is not None:
            layers = PhotoLayers.from_photo(photo.photo, matte, photo.working)   # uint8: no float copy kept
        # 2. motion: arrows (a field, or the code fitted to them), then the motion states
        field, control = None, {}
        if settings.arrows is not None and settings.arrows_mode == "latent":
            if fit_arrows is None:
                raise OptionError("arrows_mode='latent' fits a single motion code, which this method does not "
                                  "have: use arrows_mode='direct'")
            z_motion, control["arrows"] = fit_arrows(photo.small, settings.arrows, z_motion, settings.control_steps,
                                                     settings.mode == "eulerian")
        elif settings.arrows is not None:
            field = arrow_field(settings.arrows, photo.working)
        # The model folder's speed calibration scales what its network predicts from codes; an arrow (a field, or
        # a code fitted to the drawn arrows) already says its speed, and keeps it.
        network_speed = settings.motion_speed * (1.0 if settings.arrows is not None else flow_scale)
        accumulated, steps = self.motion_states(
            motion, photo.small, z_motion, loop.motion_frames,
            replace(settings, motion_speed=network_speed) if field is None else settings, mask, progress, field,
            layers, both_ways=loop.both_ways, regions=regions,
            kind_scale=network_speed / flow_scale if flow_scale else 0.0)
        # 3. loop
        # A cycle of the phased loop's working-size inputs (~50 MB) saves a frame ~15 ms: worth keeping unless the
        # frame's own full-resolution work dwarfs that and memory is what binds (a camera photo).
        keep_cycle = photo.size[0] * photo.size[1] <= PixelPhasedLoop.KEEP_CYCLE_MAX_PIXELS
        accumulated, steps, schedule, pixel_phased = self.loop_states(loop, accumulated, steps, settings,
                                                                      photo.working, layers, keep_cycle=keep_cycle)
        motion_seconds = time.perf_counter() - started
        # 4. colours
        maps_fn, corners = self.colour_maps(photo, settings, rng, control)
        # 5. frames, rendered on demand
        animation = Animation(photo.photo, photo.small, accumulated, steps, schedule, maps_fn, progress,
                              map_stride=settings.appearance_stride, cyclic=settings.loop != "none", layers=layers,
                              color_locality=settings.appearance_locality, phased=pixel_phased,
                              grade_corners=corners if settings.grade_keyframes else None)
        animation.prepare()
        animation.timings["motion"] = motion_seconds
        animation.control = control  # loss histories of the arrow / patch optimisations, if any
        animation.regions = regions  # the moving regions and their kinds (cinescape.regions.RegionMap), or None
        return animation


def engine_attribute(name: str, doc: str) -> property:
    """A pipeline attribute that is its engine's ``name`` (read and set), for pipelines composing the engine."""
    return property(lambda self: getattr(self.engine, name), lambda self, value: setattr(self.engine, name, value),
                    doc=doc)


class AnimationSettingsShells:
    """What AL's and FGLA's pipelines share about their settings (:class:`AnimationSettings` or a subclass, their
    ``settings_class``): the shells' inputs mapped to them, one call's settings resolved and its control files
    read, and the photo's fluid matte. Expects ``self.engine`` (a :class:`CinemagraphEngine`)."""

    @classmethod
    def settings_from_cli(cls, options, folder: Path, photo_size: tuple[int, int] | None = None):
        """``cinescape animate``'s options -> :class:`AnimationSettings` (:meth:`MethodPipeline.settings_from_cli`);
        with ``photo_size`` the mask, arrow and patch files are read and checked here, before any model loads."""
        from ...segmentation import load_mask
        from ...regions import parse_kind_mask, parse_kind_point
        from ..select import resolve_settings

        kinds = ([parse_kind_point(text) for text in options.get("kind") or ()]
                 + [parse_kind_mask(text) for text in options.get("kind_mask") or ()])
        settings = resolve_settings(
            cls, num_frames=options["frames"], loop=options["loop"], loop_period=options["loop_period"],
            appearance_locality=options["appearance_locality"], seed=options["seed"],
            motion_code=options["motion_code"], appearance_code=options["appearance_code"],
            motion_speed=options["motion_speed"], appearance_speed=options["appearance_speed"],
            appearance=not options["no_appearance"], working_size=options["working_size"], mode=options["mode"],
            auto_mask=options["auto_mask"], arrows_mode=options["arrows_mode"],
            control_steps=options["control_steps"], time_of_day=options["time_of_day"],
            appearance_sequence=options["appearance_sequence"], appearance_stride=options["appearance_stride"],
            motion_by_kind=not options.get("no_kinds", False), kinds=kinds or None,
            kind_speeds=options.get("kind_speed") or None)
        if photo_size is None:
            return settings
        if options.get("mask"):
            settings.mask = load_mask(options["mask"])  # read before the model, so a bad mask fails early
        if options.get("arrows"):  # likewise the control files (schema errors)
            settings.arrows = load_arrows(options["arrows"], photo_size)
        if options.get("appearance_patches"):
            settings.appearance_patches = load_patches(options["appearance_patches"], photo_size)
            settings.validate()
        return settings

    def eval_settings(self, num_frames: int, seed: int, *, loop: str | None = None, appearance: bool | None = None,
                      mode: str | None = None, auto_mask: str | None = None, overrides=None):
        """:meth:`MethodPipeline.eval_settings`: :class:`AnimationSettings` defaults (those of ``cinescape
        animate``) with the protocol's values that are given, then ``overrides``."""
        given = {"num_frames": num_frames, "seed": seed, "loop": loop, "appearance": appearance, "mode": mode,
                 "auto_mask": auto_mask}
        return replace(self.settings_class(), **{**{k: v for k, v in given.items() if v is not None},
                                               **dict(overrides or {})})

    def resolve(self, settings: AnimationSettings | None, overrides: dict) -> AnimationSettings:
        """``settings`` (None: the defaults) with ``overrides`` (settings fields by name), validated."""
        settings = settings or self.settings_class()
        if not isinstance(settings, self.settings_class) and issubclass(self.settings_class, type(settings)):
            # AL's settings given to a method whose settings extend them (FGLA's): its fields, the rest defaults
            settings = self.settings_class(**{f.name: getattr(settings, f.name) for f in fields(settings)})
        unknown = set(overrides) - {f.name for f in fields(settings)}
        if unknown:
            raise TypeError(f"unknown animation settings {sorted(unknown)}")
        settings = replace(settings, **overrides) if overrides else settings
        settings.validate()
        self.engine.check_colours(settings)
        return settings

    @staticmethod
    def read_controls(settings: AnimationSettings, size: tuple[int, int]) -> AnimationSettings:
        """The arrow, patch and kind inputs of ``settings`` parsed for a photo of ``size`` (H, W), so a bad one
        fails before any work."""
        return replace(settings, **{
            "arrows": None if settings.arrows is None else load_arrows(settings.arrows, size),
            "appearance_patches": None if settings.appearance_patches is None
            else load_patches(settings.appearance_patches, size),
            "kinds": parse_kinds(settings.kinds)})

    def fluid_matte(self, image: np.ndarray, settings: AnimationSettings | None = None, *,
                    evidence: dict | None = None) -> np.ndarray | None:
        """The photo's full-resolution fluid matte (:meth:`CinemagraphEngine.fluid_matte`)."""
        return self.engine.fluid_matte(image, settings or AnimationSettings(), evidence=evidence)
