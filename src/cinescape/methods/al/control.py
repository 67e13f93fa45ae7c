"""User control of the future (AL Sec. 6.4): arrow annotations for motion, colour patches for appearance.

Arrows (AL Sec. 6.4.2). A user draws arrows on the photo, each ``{"from": [x, y], "to": [x, y]}`` in pixels of
the *input* photo (the image spans [0, W] x [0, H], y grows downward; pixel centres at ``i + 0.5``). An arrow
says "the content here moves this way", its length the speed in pixels per frame at the input's size. Two ways
to follow them:

* ``latent`` (AL Eq. 12): the arrows are rasterised into a sparse map ``U^M`` of backward flows at working size
  (:func:`rasterize_arrows`: each arrow's segment, :data:`ARROW_RADIUS` px either side, holds the arrow's flow)
  and the motion code ``z^M`` alone is optimised with Adam, the network frozen, to minimise
  ``mean_{arrow pixels} max(0, 1 - cos(U^M, P^M(I, z^M)) - m)^2`` with margin ``m = 0.5`` (AL), plus an optional
  relative speed term ``((|P^M| - |U^M|) / |U^M|)^2`` so the flow's speed follows the arrows' lengths
  (:func:`arrow_loss`, :func:`optimize_motion_code`). The whole flow field stays the network's, so clouds keep
  their natural, content-aware motion, but only directions the model can produce are reachable.
* ``direct``: a smooth flow field is interpolated from the arrows (:func:`arrow_field`: inverse-distance
  weights ``1 / (d_i(p)^2 + s^2)`` with ``d_i(p)`` the distance from pixel ``p`` to arrow ``i``'s segment) and
  used as a static (Eulerian) velocity field, restricted to the motion mask. Any direction is possible; the
  motion is a rigid drift with no network in the loop.

The *backward* flow of content moving by ``d`` per frame is ``-d`` (``warp(I, F)[p] = I[p + F[p]]``, see
:mod:`cinescape.ops.warp`): :attr:`Arrows.flow` holds these backward flows, normalised (one pixel = 2/W in x,
2/H in y), so they are valid at every resolution.

Appearance patches (AL Sec. 6.4.3). Target colours on some pixels of the photo, from a JSON list
``[{"box": [x0, y0, x1, y1], "color": [r, g, b]}, ...]`` (input pixels, colours 0-255) or an RGBA PNG whose
painted pixels (alpha > 0) hold the wanted colours (:func:`load_patches`). The appearance code is optimised
(Adam on ``z^A`` only) to minimise AL Eq. 13, the mean squared difference between the patch colours and the
colour-transferred working-size photo on the constrained pixels (:func:`patch_loss`,
:func:`optimize_appearance_code`); the animation then interpolates from the photo's own code to it and back.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ...errors import OptionError
from ...ops import base_grid, color_transfer, flow_normalized_to_pixels

__all__ = [
    "ARROW_MARGIN",
    "ARROW_MODES",
    "ARROW_RADIUS",
    "AppearancePatches",
    "Arrows",
    "arrow_field",
    "arrow_loss",
    "load_arrows",
    "load_patches",
    "optimize_appearance_code",
    "optimize_motion_code",
    "parse_arrows",
    "patch_loss",
    "rasterize_arrows",
]

ARROW_MODES = ("latent", "direct")
ARROW_MARGIN = 0.5          # m in AL Eq. 12: cosines above 0.5 (within 60 degrees) cost nothing
ARROW_RADIUS = 1.5          # arrow pixels: within this many working-size pixels of an arrow's segment
ARROW_SMOOTHING = 2.0       # s in the direct field's weights 1 / (d^2 + s^2), working-size pixels
DEFAULT_CONTROL_STEPS = 100   # Adam steps of the latent optimisations (about 4 s for arrows at 144 px, 1 thread)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _read_json(source: str | os.PathLike, option: str) -> Any:
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OptionError(f"{option}: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionError(f"{option}: cannot read {path}: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise OptionError(f"{option}: {path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _json_objects(data: Any, option: str, noun: str, nouns: str, keys: tuple[str, str], schema: str
                  ) -> Iterator[dict]:
    """The items of ``data``, a non-empty JSON list of objects with exactly the two ``keys``, each checked as it is
    yielded (so a caller's own checks of item i come before the checks of item i + 1); ``noun`` (plural ``nouns``)
    names the objects and ``schema`` shows one in the messages."""
    if not isinstance(data, list):
        raise OptionError(f"{option}: expected a JSON list of {schema} objects, got a {type(data).__name__}")
    if not data:
        raise OptionError(f"{option}: the list of {nouns} is empty")
    both = f'"{keys[0]}" and "{keys[1]}"'
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise OptionError(f"{option}: {noun} {i} must be an object {schema}, got {json.dumps(item)}")
        missing = [key for key in keys if key not in item]
        if missing:
            raise OptionError(f'{option}: {noun} {i} has no "{missing[0]}" key (each {noun} needs {both})')
        unknown = sorted(set(item) - set(keys))
        if unknown:
            raise OptionError(f'{option}: {noun} {i} has unknown key "{unknown[0]}" (only {both})')
        yield item


def _point(value: Any, what: str, width: int, height: int, option: str) -> tuple[float, float]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_number(v) for v in value)):
        raise OptionError(f"{option}: {what} must be [x, y], two numbers, got {json.dumps(value)}")
    x, y = float(value[0]), float(value[1])
    if not (0 <= x <= width and 0 <= y <= height):
        raise OptionError(f"{option}: {what} [{x:g}, {y:g}] is outside the {width}x{height} image "
                          f"(x in 0..{width}, y in 0..{height})")
    return x, y


# ---------------------------------------------------------------------------------------------- arrows


@dataclass(frozen=True)
class Arrows:
    """Arrow annotations in normalised image positions, independent of resolution.

    ``start``, ``end``: (K, 2) float tensors of (x, y) in [-1, 1] (image edges at -1 and +1, i.e. pixel position
    ``x`` of a W-wide image is ``2 x / W - 1``). The content at an arrow moves from ``start`` to ``end`` in one
    frame.
    """

    start: torch.Tensor
    end: torch.Tensor

    def __len__(self) -> int:
        return self.start.shape[0]

    @property
    def flow(self) -> torch.Tensor:
        """(K, 2) backward flow per frame of each arrow, normalised: ``start - end``."""
        return self.start - self.end

    @classmethod
    def from_pixels(cls, arrows: list[tuple[tuple[float, float], tuple[float, float]]], width: int,
                    height: int) -> Arrows:
        """From ``[((x0, y0), (x1, y1)), ...]`` in pixels of a ``width`` x ``height`` image (no checks)."""
        points = torch.tensor(arrows, dtype=torch.float64).view(-1, 2, 2)
        scale = torch.tensor([2.0 / width, 2.0 / height], dtype=torch.float64)
        normalised = (points * scale - 1).float()
        return cls(normalised[:, 0].contiguous(), normalised[:, 1].contiguous())


# Bounds of an arrow list: each arrow costs an interpolation over the photo, and an arrow's length is a speed in
# pixels per frame, so one longer than the photo's longer side moves content out of view in one frame.
MAX_ARROWS = 64
MAX_ARROW_LENGTH_FRACTION = 1.0


def parse_arrows(data: Any, width: int, height: int, option: str = "--arrows") -> Arrows:
    """Validate decoded JSON ``[{"from": [x, y], "to": [x, y]}, ...]`` (pixels of a width x height image): at most
    :data:`MAX_ARROWS` arrows, each inside the image and at most :data:`MAX_ARROW_LENGTH_FRACTION` of its longer
    side long; anything else is a one-line :class:`~cinescape.errors.OptionError`.

    Example:
        >>> parse_arrows([{"from": [10, 10], "to": [20, 10]}], 64, 48).start.shape
        torch.Size([1, 2])
        >>> parse_arrows([{"from": [0, 0], "to": [64, 48]}], 64, 48)
        Traceback (most recent call last):
        ...
        cinescape.errors.OptionError: --arrows: arrow 0 is 80 px long; at most 64 px (the photo's longer side)
    """
    arrows = []
    schema = '{"from": [x, y], "to": [x, y]}'
    if isinstance(data, list) and len(data) > MAX_ARROWS:
        raise OptionError(f"{option}: {len(data)} arrows; at most {MAX_ARROWS}")
    max_length = MAX_ARROW_LENGTH_FRACTION * max(width, height)
    for i, item in enumerate(_json_objects(data, option, "arrow", "arrows", ("from", "to"), schema)):
        start = _point(item["from"], f'arrow {i} "from"', width, height, option)
        end = _point(item["to"], f'arrow {i} "to"', width, height, option)
        if start == end:
            raise OptionError(f"{option}: arrow {i} has zero length (from = to = [{start[0]:g}, {start[1]:g}])")
        length = math.hypot(end[0] - start[0], end[1] - start[1])
        if length > max_length:
            raise OptionError(f"{option}: arrow {i} is {length:.4g} px long; at most {max_length:.4g} px (the "
                              f"photo's longer side)")
        arrows.append((start, end))
    return Arrows.from_pixels(arrows, width, height)


def load_arrows(source: Arrows | str | os.PathLike | list, image_size: tuple[int, int],
                option: str = "--arrows") -> Arrows:
    """Arrows from a JSON file path, an already decoded list, or :class:`Arrows` (returned as is).

    ``image_size``: (H, W) of the input photo, whose pixels the coordinates are in. Any schema error (not a list,
    a missing key, a non-numeric or non-finite coordinate, a point outside the image, a zero-length arrow)
    raises :class:`~cinescape.errors.OptionError` with a one-line message.
    """
    if isinstance(source, Arrows):
        return source
    if isinstance(source, (str, os.PathLike)):
        source = _read_json(source, option)
    height, width = image_size
    return parse_arrows(source, width, height, option)


def _segment_distances(arrows: Arrows, size: tuple[int, int]) -> torch.Tensor:
    """(K, h, w) distance, in pixels of an h x w grid, from each pixel centre to each arrow's segment."""
    height, width = size
    to_pixels = torch.tensor([width / 2.0, height / 2.0])
    grid = base_grid(height, width)[0] * to_pixels                        # (h, w, 2) pixel-centre positions
    start = (arrows.start * to_pixels)[:, None, None, :]                 # (K, 1, 1, 2)
    direction = ((arrows.end - arrows.start) * to_pixels)[:, None, None, :]
    length2 = (direction ** 2).sum(-1).clamp_min(1e-12)
    t = (((grid[None] - start) * direction).sum(-1) / length2).clamp(0, 1)  # projection onto the segment
    closest = start + t[..., None] * direction
    return (grid[None] - closest).norm(dim=-1)


def rasterize_arrows(arrows: Arrows, size: tuple[int, int], radius: float = ARROW_RADIUS
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """AL Eq. 12's sparse map ``U^M`` and mask ``M`` at ``size`` = (h, w).

    Returns ``(target, mask)``: target (1, 2, h, w), the normalised backward flow of the arrow(s) within
    ``radius`` pixels of each pixel (their mean where arrows cross) and 0 elsewhere; mask (1, 1, h, w), 1 on
    those pixels. Every arrow marks at least the pixel nearest to it, however small the grid.
    """
    distances = _segment_distances(arrows, size)                               # (K, h, w)
    near = distances <= radius + 1e-4   # (rounding: a pixel centre exactly at the radius counts)
    nearest = distances.flatten(1).argmin(1)
    near.view(len(arrows), -1)[torch.arange(len(arrows)), nearest] = True        # at least one pixel per arrow
    weights = near.float()
    count = weights.sum(0)
    target = torch.einsum("khw,kc->chw", weights, arrows.flow) / count.clamp_min(1)
    return target[None], (count > 0).float()[None, None]


def arrow_field(arrows: Arrows, size: tuple[int, int], smoothing: float = ARROW_SMOOTHING) -> torch.Tensor:
    """A smooth (1, 2, h, w) normalised backward-flow field interpolated from the arrows (the direct mode).

    Inverse-distance weighting (Shepard): ``F(p) = sum_i w_i(p) f_i / sum_i w_i(p)`` with
    ``w_i(p) = 1 / (d_i(p)^2 + s^2)``, ``d_i(p)`` the distance in pixels from ``p`` to arrow ``i``'s segment and
    ``s = smoothing``. On an arrow (d = 0) its own vector dominates as soon as the other arrows are a few ``s``
    away; far from all arrows the field is a smooth blend of them (one arrow: the same vector everywhere). It
    covers the whole image: confine it with a motion mask.
    """
    distances = _segment_distances(arrows, size).double()
    weights = 1.0 / (distances ** 2 + smoothing ** 2)
    weights = weights / weights.sum(0, keepdim=True)
    return torch.einsum("khw,kc->chw", weights, arrows.flow.double()).float()[None]


def arrow_loss(flow: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, *, margin: float = ARROW_MARGIN,
               speed_weight: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """AL Eq. 12 on the arrow pixels, plus an optional speed term.

    ``direction = mean_{mask} max(0, 1 - cos(target, flow) - margin)^2`` (AL sums over the arrow pixels; the mean
    makes the value independent of the arrows' length in pixels) and
    ``speed = mean_{mask} ((|flow| - |target|) / |target|)^2``. Cosines and lengths are taken in pixels, so x and
    y count alike on non-square images. flow, target: (1, 2, h, w) normalised backward flows; mask (1, 1, h, w).

    Returns ``direction + speed_weight * speed`` and both parts as floats.
    """
    flow_px = flow_normalized_to_pixels(flow)
    target_px = flow_normalized_to_pixels(target)
    flow_norm = flow_px.norm(dim=1, keepdim=True)
    target_norm = target_px.norm(dim=1, keepdim=True)
    cosine = (flow_px * target_px).sum(1, keepdim=True) / (flow_norm * target_norm).clamp_min(1e-12)
    count = mask.sum().clamp_min(1)
    direction = (mask * F.relu(1 - cosine - margin) ** 2).sum() / count
    speed = (mask * ((flow_norm - target_norm) / target_norm.clamp_min(1e-12)) ** 2).sum() / count
    total = direction + speed_weight * speed if speed_weight else direction
    return total, {"loss": total.item(), "direction": direction.item(), "speed": speed.item(),
                   "agreement": ((mask * (cosine >= 1 - margin).float()).sum() / count).item()}


def _adam_on_code(loss_fn: Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, float]]], start: torch.Tensor,
                  steps: int, lr: float) -> tuple[torch.Tensor, list[dict[str, float]]]:
    """Adam on a (D,) code alone; the networks inside ``loss_fn`` get no gradients. Keeps the best code seen."""
    z = start.detach().clone().float().requires_grad_(True)
    optimiser = torch.optim.Adam([z], lr=lr)
    best, best_loss, history = z.detach().clone(), math.inf, []
    with torch.enable_grad():
        for step in range(steps + 1):
            loss, stats = loss_fn(z)
            history.append(stats)
            if stats["loss"] < best_loss:
                best, best_loss = z.detach().clone(), stats["loss"]
            if step == steps or stats["loss"] == 0:
                break
            (grad,) = torch.autograd.grad(loss, z)   # only z's gradient: the frozen weights accumulate nothing
            z.grad = grad
            optimiser.step()
    return best, history


def optimize_motion_code(motion, image: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, start: torch.Tensor,
                         *, steps: int = DEFAULT_CONTROL_STEPS, lr: float = 0.2, margin: float = ARROW_MARGIN,
                         speed_weight: float = 0.5,
                         velocity: bool = False) -> tuple[torch.Tensor, list[dict[str, float]]]:
    """AL Eq. 12: the motion code whose predicted flow on ``image`` follows the arrows.

    Args:
        motion: a :class:`~cinescape.methods.al.motion.MotionModel` (frozen; only the code is optimised).
        image: (1, 3, h, w) working-size photo in [-1, 1].
        target, mask: :func:`rasterize_arrows` at (h, w).
        start: (D,) the code to start from (the selected codebook code).
        steps, lr: Adam iterations and step size.
        speed_weight: weight of the speed term of :func:`arrow_loss` (0: directions only, as AL).
        velocity: fit the Eulerian mode's static field (``motion.predict_velocity``: the velocity predictor when the
            model has one) instead of P^M's per-frame flow, so the arrows steer the field that is integrated.

    Returns:
        The (D,) code with the lowest loss met (``start`` itself if nothing improves on it) and the loss
        history, one :func:`arrow_loss` stats dict per evaluation (``history[0]`` is the start code's).
    """
    predict = motion.predict_velocity if velocity else motion.predict_flow

    def loss_fn(z):
        return arrow_loss(predict(image, z[None]).float(), target, mask, margin=margin,
                          speed_weight=speed_weight)

    return _adam_on_code(loss_fn, start, steps, lr)


# ------------------------------------------------------------------------------------------ appearance patches


@dataclass(frozen=True)
class AppearancePatches:
    """Target colours on some pixels, resolution-independent; :meth:`at` rasterises them.

    Either ``boxes`` (K, 4) of (x0, y0, x1, y1) as fractions of the image's width and height with ``colors`` (K, 3)
    in [-1, 1], or ``image`` (1, 4, H, W): premultiplied colours in [-1, 1] times the constraint mask, and the
    mask (1 = constrained, from alpha > 0).
    """

    boxes: torch.Tensor | None = None
    colors: torch.Tensor | None = None
    image: torch.Tensor | None = None

    def at(self, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(target, weight)`` at ``size`` = (h, w): target (1, 3, h, w) colours in [-1, 1], weight (1, 1, h, w)
        in [0, 1], the constrained fraction of each pixel (area coverage)."""
        height, width = size
        if self.image is not None:
            shrink = height < self.image.shape[-2] or width < self.image.shape[-1]
            resized = F.interpolate(self.image, size=size, mode="bilinear", align_corners=False, antialias=shrink)
            weight = resized[:, 3:].clamp(0, 1)
            target = resized[:, :3] / weight.clamp_min(1e-6)
            return target.clamp(-1, 1) * (weight > 0), weight
        # boxes: the overlap of each pixel [j, j + 1] with [x0, x1] (in pixels of this grid), per axis
        cols = torch.arange(width, dtype=torch.float32)
        rows = torch.arange(height, dtype=torch.float32)
        x0, y0, x1, y1 = (self.boxes * torch.tensor([width, height, width, height])).unbind(1)
        cover_x = (torch.minimum(cols[None] + 1, x1[:, None]) - torch.maximum(cols[None], x0[:, None])).clamp(0, 1)
        cover_y = (torch.minimum(rows[None] + 1, y1[:, None]) - torch.maximum(rows[None], y0[:, None])).clamp(0, 1)
        cover = cover_y[:, :, None] * cover_x[:, None, :]                   # (K, h, w)
        total = cover.sum(0)
        target = torch.einsum("khw,kc->chw", cover, self.colors) / total.clamp_min(1e-6)
        return target[None], total.clamp(max=1)[None, None]


def _parse_patch_json(data: Any, width: int, height: int, option: str) -> AppearancePatches:
    boxes, colors = [], []
    schema = '{"box": [x0, y0, x1, y1], "color": [r, g, b]}'
    for i, item in enumerate(_json_objects(data, option, "patch", "patches", ("box", "color"), schema)):
        box, color = item["box"], item["color"]
        if not (isinstance(box, list) and len(box) == 4 and all(_is_number(v) for v in box)):
            raise OptionError(f"{option}: patch {i} box must be [x0, y0, x1, y1], four numbers, got {json.dumps(box)}")
        x0, y0, x1, y1 = map(float, box)
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            raise OptionError(f"{option}: patch {i} box [{x0:g}, {y0:g}, {x1:g}, {y1:g}] must satisfy "
                              f"0 <= x0 < x1 <= {width} and 0 <= y0 < y1 <= {height} (the image is {width}x{height})")
        if not (isinstance(color, list) and len(color) == 3 and all(_is_number(v) and 0 <= v <= 255 for v in color)):
            raise OptionError(f"{option}: patch {i} color must be [r, g, b] with values in 0..255, "
                              f"got {json.dumps(color)}")
        boxes.append((x0 / width, y0 / height, x1 / width, y1 / height))
        colors.append([v / 127.5 - 1 for v in color])
    return AppearancePatches(boxes=torch.tensor(boxes, dtype=torch.float32),
                             colors=torch.tensor(colors, dtype=torch.float32))


def _patch_image(path: Path, option: str) -> AppearancePatches:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as handle:
            handle.load()
            has_alpha = "A" in handle.getbands() or "transparency" in handle.info
            rgba = np.asarray(handle.convert("RGBA"))
    except FileNotFoundError:
        raise OptionError(f"{option}: {path} does not exist") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise OptionError(f"{option}: cannot read {path} as an image or JSON file: {str(exc).splitlines()[0]}") from None
    if not has_alpha:
        raise OptionError(f"{option}: {path} has no alpha channel; paint the wanted colours on a transparent image "
                          f"(alpha > 0 marks the constrained pixels)")
    constrained = rgba[..., 3] > 0
    if not constrained.any():
        raise OptionError(f"{option}: {path} is fully transparent: no pixel is constrained")
    colors = torch.from_numpy(rgba[..., :3].astype(np.float32) / 127.5 - 1).permute(2, 0, 1)
    weight = torch.from_numpy(constrained.astype(np.float32))[None]
    return AppearancePatches(image=torch.cat((colors * weight, weight))[None])


def load_patches(source: AppearancePatches | str | os.PathLike | list, image_size: tuple[int, int],
                 option: str = "--appearance-patches") -> AppearancePatches:
    """Appearance patches from a JSON file (``.json``, or any file starting with ``[``), an RGBA image file, a
    decoded JSON list, or :class:`AppearancePatches` (returned as is).

    ``image_size``: (H, W) of the photo (JSON boxes are in its pixels; a patch image of another size is resized to
    it). Schema errors raise :class:`~cinescape.errors.OptionError` with a one-line message.
    """
    if isinstance(source, AppearancePatches):
        return source
    height, width = image_size
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            head = path.read_bytes()[:64].lstrip() if path.is_file() else b""
        except OSError:
            head = b""
        if path.suffix.lower() == ".json" or head.startswith((b"[", b"{")):
            return _parse_patch_json(_read_json(path, option), width, height, option)
        return _patch_image(path, option)
    return _parse_patch_json(source, width, height, option)


def patch_loss(output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor
               ) -> tuple[torch.Tensor, dict[str, float]]:
    """AL Eq. 13 as a mean: ``sum(weight * (target - output)^2) / (3 sum(weight))``; images (1, 3, h, w) in
    [-1, 1], weight (1, 1, h, w)."""
    loss = (weight * (target - output) ** 2).sum() / (3 * weight.sum().clamp_min(1e-6))
    return loss, {"loss": loss.item()}


def optimize_appearance_code(appearance, image: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                             start: torch.Tensor, *, steps: int = DEFAULT_CONTROL_STEPS, lr: float = 0.05
                             ) -> tuple[torch.Tensor, list[dict[str, float]]]:
    """AL Eq. 13: the appearance code whose colour transfer of ``image`` matches the patches.

    ``appearance``: an :class:`~cinescape.methods.al.appearance.AppearanceModel` (frozen); ``image`` (1, 3, h, w) in [-1, 1];
    ``target``, ``weight``: :meth:`AppearancePatches.at` (h, w); ``start``: (D,) code, usually the photo's own.
    Returns the best (D,) code and the loss history (``history[0]``: the start code's).
    """
    def loss_fn(z):
        return patch_loss(color_transfer(appearance.predict_maps(image, z[None]).float(), image), target, weight)

    return _adam_on_code(loss_fn, start, steps, lr)
