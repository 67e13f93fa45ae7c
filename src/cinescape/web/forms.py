"""The page's render request, checked: JSON in, the pipeline's settings and output options out.

A request is ``{"settings": {...}, "mask": "data:image/png;base64,..." | null}``. Every field of ``settings`` is
optional and mirrors a ``cinescape animate`` option; unknown fields, wrong types and out-of-range values are refused
with a one-line :class:`~cinescape.web.errors.BadRequest`. The fields depend on the server's method:

* AL and FGLA (:class:`~cinescape.AnimationSettings`): :data:`WEB_DEFAULTS` fills the missing ones;
* DeepLandscape (:class:`~cinescape.methods.deeplandscape.DeepLandscapeSettings`): :func:`deeplandscape_defaults`
  (loop length, frame rate, motion speed and direction, lighting, seed, format, automatic mask); AL's own fields
  (arrows, loop type, mode, colours, flow) are refused by name, as DeepLandscape's are on an AL page.

The mask means what the page shows: white moves. ``settings.auto_mask`` names the automatic mask the painting
started from (``GET /api/photos/{id}/mask?auto=...``, ``"none"``: a blank or all-white start), and ``mask`` is that
mask after the brushes (null: not painted). Unlike the CLI, where ``--mask`` multiplies the automatic mask, the
painted mask replaces it (:meth:`~cinescape.web.service.RenderService.render_mask`).

A *preview* renders the same animation smaller and shorter, so that it comes back in a few seconds: the photo
is downscaled to :attr:`RenderLimits.preview_short_side` px (short side), and the loop keeps its length in
seconds at a lower frame rate (:attr:`RenderLimits.preview_fps`), with the motion per frame scaled up to match,
so the preview moves as far per second as the full render does (:func:`preview_inputs`).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import warnings
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
from PIL import Image

from ..methods.al.control import parse_arrows
from ..errors import CinescapeError
from ..methods.al.pipeline import LOOP_MODES, AnimationSettings
from .errors import BadRequest, TooLarge
from .kinds import parse_kind_field

#: What the page starts with; a request's missing fields take these values: ``cinescape animate``'s defaults, so the
#: page's render is the CLI's video (README, "Web page").
WEB_DEFAULTS: dict[str, Any] = {
    "preview": False,          # True: a small, quick version (see the module docstring)
    "seconds": 5.0,            # loop length
    "fps": 20.0,
    "motion_speed": 1.0,
    "mode": AnimationSettings.mode,   # the library's (and CLI's) defaults
    "loop": AnimationSettings.loop,
    "time_of_day": None,       # None: colours from a codebook sequence picked by the seed
    "appearance": True,
    "appearance_stride": AnimationSettings.appearance_stride,   # the default grade is keyframed already
    "seed": 0,
    "format": "mp4",
    "arrows": None,            # [{"from": [x, y], "to": [x, y]}, ...] in photo pixels, length = px per frame
    "arrows_mode": "direct",   # what is drawn is what moves, inside the painted region
    "auto_mask": "default",    # the automatic mask (the painting starts from); "default": the model's (sky+water)
    "flow": False,             # also write the colour-coded flow as a second video
    "kinds": None,             # ["KIND@X,Y[,DEG]", ...]: a region's kind and direction (cinescape.web.kinds)
}
FORMATS = ("mp4", "webm", "gif")
MEDIA_TYPES = {"mp4": "video/mp4", "webm": "video/webm", "gif": "image/gif"}
AUTO_MASK_CHOICES = ("default", "none", "sky", "sky+water")
MODES = ("eulerian", "recurrent")
LOOPS = tuple(LOOP_MODES)   # whatever the pipeline offers ("crossfade", "symmetric", ...)
ARROW_MODES = ("direct", "latent")
#: Offered by the page; any list of day, sunset, twilight, night (and the aliases) is accepted.
TIME_OF_DAY_PRESETS = ("day,sunset,night", "day,sunset", "day,twilight,night", "sunset", "twilight", "night")
MAX_SEED = 2**31 - 1
MAX_GIF_FPS = 50   # browsers play GIFs with shorter delays slower than asked
#: DeepLandscape's automatic masks: the model's own choice, its sky+water matte, or none (everything moves).
DEEPLANDSCAPE_AUTO_MASKS = ("default", "none", "sky+water")


def deeplandscape_defaults(base) -> dict[str, Any]:
    """What a DeepLandscape page starts with, from the model's settings ``base`` (its folder's defaults)."""
    return {
        "preview": False,
        "seconds": 3.0,            # 60 frames at 20 fps, the method's default loop
        "fps": 20.0,
        "motion_speed": 1.0,       # x the model's sky speed, as cinescape animate --motion-speed
        "direction": base.direction,   # degrees on screen: 0 right, 90 down, 270 up; None: a clock position (seed)
        "lighting": base.lighting,     # strength of the lighting change over the loop, 0 (none) to 1
        "seed": 0,
        "format": "mp4",
        "auto_mask": "default",    # the painting starts from: "default" the model's (sky+water unless it says none)
    }


@dataclass(frozen=True)
class RenderLimits:
    """Bounds of a render request (a server's choice, shown by ``GET /api/info``)."""

    min_seconds: float = 0.5
    max_seconds: float = 30.0
    max_fps: float = 60.0
    max_frames: int = 600            # seconds x fps
    max_motion_speed: float = 10.0   # as AnimationSettings allows
    preview_short_side: int = 384    # px; photos smaller than this are previewed at their own size
    preview_fps: float = 10.0        # the preview's frame rate (at most the request's)
    preview_appearance_stride: int = 6   # colour maps of a preview every 6th frame at least (the costly part): at
    #                                      10 fps 0.6 s apart, under the ~0.7 s between the colour keyframes of a
    #                                      5 s loop (7 keyframes), so no keyframe's colours are skipped
    max_mask_bytes: int = 8_000_000  # the painted mask PNG, decoded from base64
    max_mask_pixels: int = 16_000_000


@dataclass
class RenderRequest:
    """A checked request for one photo: what :meth:`~cinescape.CinemagraphPipeline.plan` gets, and how to write it.

    ``settings`` are for the full photo (``preview_inputs`` derives the preview's): an
    :class:`~cinescape.AnimationSettings`, or a DeepLandscapeSettings on a DeepLandscape page (its ``mask`` the
    painted mask, ``use_mask`` whether the painting started from the automatic matte). ``arrows`` is the request's
    arrow list (photo pixels), already validated, also inside ``settings`` (AL only).
    """

    preview: bool
    seconds: float
    fps: float
    format: str
    flow: bool
    settings: Any
    arrows: list[dict] | None

    @property
    def num_frames(self) -> int:
        return self.settings.num_frames


# ------------------------------------------------------------------------------------------ field checks


def _bool(fields: dict, name: str) -> bool:
    value = fields[name]
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false, got {_show(value)}")
    return value


def _number(fields: dict, name: str, low: float, high: float) -> float:
    value = fields[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest(f"{name} must be a number, got {_show(value)}")
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low:g} and {high:g}, got {value:g}")
    return float(value)


def integer(fields: dict, name: str, low: int, high: int) -> int:
    value = fields[name]
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JavaScript has one number type: 2.0 is 2
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name} must be a whole number, got {_show(value)}")
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}")
    return value


def choice(fields: dict, name: str, choices: tuple[str, ...]) -> str:
    value = fields[name]
    if value not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}, got {_show(value)}")
    return value


def _show(value: Any, limit: int = 40) -> str:
    """A short JSON-ish rendering of a bad value, for the message."""
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= limit else text[: limit - 3] + "..."


def option_message(exc: CinescapeError) -> str:
    """A pipeline option error in the page's words: its fields have the CLI options' names without ``--``."""
    return str(exc).replace("--", "")


# ------------------------------------------------------------------------------------------ parsing


def parse_render_request(payload: Any, photo_size: tuple[int, int], limits: RenderLimits = RenderLimits(), *,
                         deeplandscape=None) -> RenderRequest:
    """Check a decoded request body for a photo of ``photo_size`` (H, W) and build the pipeline settings.

    ``deeplandscape``: on a DeepLandscape page, the model's settings (``pipeline.settings()``) the request's fields
    replace; None: an AL/FGLA page. Raises :class:`~cinescape.web.errors.BadRequest` (one line) for anything wrong;
    the mask is checked here too.
    """
    if deeplandscape is not None:
        return _parse_deeplandscape_request(payload, photo_size, limits, deeplandscape)
    fields = request_fields(payload, WEB_DEFAULTS, "deeplandscape", DEEPLANDSCAPE_ONLY)
    preview, seconds, fps, num_frames, output_format = loop_fields(fields, limits)
    time_of_day = fields["time_of_day"]
    if time_of_day is not None and not isinstance(time_of_day, str):
        raise BadRequest(f"time_of_day must be null or a text like \"day,sunset,night\", got {_show(time_of_day)}")
    auto_mask = choice(fields, "auto_mask", AUTO_MASK_CHOICES)

    height, width = photo_size
    arrows = fields["arrows"]
    if arrows is not None:
        if arrows == []:
            arrows = None  # no arrows drawn: the model's own motion
        else:
            try:
                parse_arrows(arrows, width, height, option="arrows")
            except CinescapeError as exc:
                raise BadRequest(str(exc)) from None

    settings = AnimationSettings(
        num_frames=num_frames,
        loop=choice(fields, "loop", LOOPS),
        seed=integer(fields, "seed", 0, MAX_SEED),
        motion_speed=_number(fields, "motion_speed", 0.0, limits.max_motion_speed),
        appearance=_bool(fields, "appearance"),
        appearance_stride=integer(fields, "appearance_stride", 1, 16),
        mode=choice(fields, "mode", MODES),
        auto_mask=None if auto_mask == "default" else auto_mask,
        mask=parse_mask(payload.get("mask"), photo_size, limits),
        arrows=arrows,
        arrows_mode=choice(fields, "arrows_mode", ARROW_MODES),
        time_of_day=(time_of_day or "").strip() or None,   # "" (the page's "codebook colours") is None
        kinds=parse_kind_field(fields["kinds"]),
    )
    if settings.time_of_day is not None and not settings.appearance:
        settings.time_of_day = None  # the page keeps the choice while colours are off; nothing to choose then
    try:
        settings.validate()
    except CinescapeError as exc:
        raise BadRequest(option_message(exc)) from None
    return RenderRequest(preview=preview, seconds=seconds, fps=fps, format="mp4" if preview else output_format,
                         flow=_bool(fields, "flow"), settings=settings, arrows=arrows)


#: The settings only a DeepLandscape page takes (an AL page names them when refusing them).
DEEPLANDSCAPE_ONLY = ("direction", "lighting")


def _parse_deeplandscape_request(payload: Any, photo_size: tuple[int, int], limits: RenderLimits, base
                                 ) -> RenderRequest:
    """:func:`parse_render_request` on a DeepLandscape page: its settings are ``base`` with the request's loop,
    seed, direction, lighting and motion speed (a factor on the model's speed, as ``cinescape animate
    --motion-speed``). The automatic mask is the model's sky+water matte or none (``use_mask``)."""
    defaults = deeplandscape_defaults(base)
    al_only = tuple(name for name in WEB_DEFAULTS if name not in defaults)
    fields = request_fields(payload, defaults, "AL and FGLA", al_only)
    preview, seconds, fps, num_frames, output_format = loop_fields(fields, limits)
    direction = fields["direction"]
    if direction is not None:
        direction = _number(fields, "direction", 0.0, 360.0)
    auto_mask = choice(fields, "auto_mask", DEEPLANDSCAPE_AUTO_MASKS)
    try:
        settings = replace(
            base, num_frames=num_frames, seed=integer(fields, "seed", 0, MAX_SEED), direction=direction,
            lighting=_number(fields, "lighting", 0.0, 1.0),
            speed=base.speed * _number(fields, "motion_speed", 0.0, limits.max_motion_speed),
            use_mask=base.use_mask if auto_mask == "default" else auto_mask != "none",
            mask=parse_mask(payload.get("mask"), photo_size, limits))
        settings.validate()
    except CinescapeError as exc:
        raise BadRequest(option_message(exc)) from None
    return RenderRequest(preview=preview, seconds=seconds, fps=fps, format="mp4" if preview else output_format,
                         flow=False, settings=settings, arrows=None)


def request_fields(payload: Any, defaults: dict[str, Any], other_method: str = "", other_fields=()) -> dict[str, Any]:
    """The request's settings over ``defaults``; a field of the other kind of page (``other_fields``, taken by
    ``other_method``) or an unknown one is refused by name."""
    if not isinstance(payload, dict):
        raise BadRequest(f"the request must be a JSON object {{\"settings\": {{...}}, \"mask\": ...}}, "
                         f"got {type(payload).__name__}")
    unknown = sorted(set(payload) - {"settings", "mask"})
    if unknown:
        raise BadRequest(f'unknown request field "{unknown[0]}" (only "settings" and "mask")')
    given = payload.get("settings") or {}
    if not isinstance(given, dict):
        raise BadRequest(f"settings must be a JSON object, got {type(given).__name__}")
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        if unknown[0] in other_fields:
            raise BadRequest(f'setting "{unknown[0]}" is for {other_method} only (this page takes: '
                             f'{", ".join(defaults)})')
        raise BadRequest(f'unknown setting "{unknown[0]}" (known: {", ".join(defaults)})')
    return {**defaults, **given}


def loop_fields(fields: dict, limits: RenderLimits) -> tuple[bool, float, float, int, str]:
    """``(preview, seconds, fps, frames, format)`` of a request, checked."""
    preview = _bool(fields, "preview")
    seconds = _number(fields, "seconds", limits.min_seconds, limits.max_seconds)
    fps = _number(fields, "fps", 1.0, limits.max_fps)
    num_frames = round(seconds * fps)
    if not 2 <= num_frames <= limits.max_frames:
        raise BadRequest(f"seconds x fps must give 2 to {limits.max_frames} frames, got {num_frames} "
                         f"({seconds:g} s at {fps:g} fps)")
    output_format = choice(fields, "format", FORMATS)
    if output_format == "gif" and fps > MAX_GIF_FPS:
        raise BadRequest(f"GIF plays at most {MAX_GIF_FPS} fps, got {fps:g}; lower fps or choose MP4 or WebM")
    return preview, seconds, fps, num_frames, output_format


def parse_mask(value: Any, photo_size: tuple[int, int], limits: RenderLimits = RenderLimits()) -> np.ndarray | None:
    """The painted mask: a PNG as a data URL (or plain base64) -> (H, W) float32 in [0, 1] (white moves), or None.

    Its size need not be the photo's (the pipeline resizes it), but its aspect ratio must be, so that what was
    painted lies where it was painted.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"mask must be a PNG data URL (data:image/png;base64,...) or null, got {_show(value)}")
    text = value.split(",", 1)[1] if value.startswith("data:") and "," in value else value
    if len(text) > limits.max_mask_bytes * 4 // 3 + 4:
        raise TooLarge(f"mask: over {limits.max_mask_bytes / 1e6:g} MB")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("mask: not valid base64 (send the canvas's toDataURL('image/png'))") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                mask_width, mask_height = image.size
                if mask_width * mask_height > limits.max_mask_pixels:
                    raise TooLarge(f"mask: {mask_width}x{mask_height} is over {limits.max_mask_pixels / 1e6:g} "
                                   "megapixels")
                image.load()
                gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise BadRequest(f"mask: not a readable image, or truncated ({' '.join(str(exc).split())[:80]})"
                             ) from None
    height, width = photo_size
    if abs(mask_width / mask_height - width / height) > 0.02 * width / height + 1.0 / min(mask_height, height):
        raise BadRequest(f"mask: its {mask_width}x{mask_height} does not have the photo's aspect ratio "
                         f"({width}x{height})")
    return gray


# ------------------------------------------------------------------------------------------ preview


def preview_size(photo_size: tuple[int, int], limits: RenderLimits = RenderLimits()) -> tuple[int, int]:
    """(H, W) of a preview: the photo's aspect, short side at most ``limits.preview_short_side``; a downscaled
    preview has even sides (H.264's 4:2:0 video would otherwise pad a row or column)."""
    height, width = photo_size
    scale = limits.preview_short_side / min(height, width)
    if scale >= 1.0:
        return height, width
    return max(32, 2 * round(height * scale / 2)), max(32, 2 * round(width * scale / 2))


def preview_frame(request: RenderRequest, image: np.ndarray, limits: RenderLimits = RenderLimits()
                  ) -> tuple[np.ndarray, float, int]:
    """``(image, fps, frames)`` of ``request``'s preview: the photo downscaled (:func:`preview_size`) at
    ``min(fps, limits.preview_fps)``, as many frames as keep the loop's length in seconds."""
    height, width = image.shape[:2]
    small_height, small_width = preview_size((height, width), limits)
    small = image if (small_height, small_width) == (height, width) else cv2.resize(
        image, (small_width, small_height), interpolation=cv2.INTER_AREA)
    fps = min(request.fps, limits.preview_fps)
    return small, fps, max(2, round(request.seconds * fps))


def al_preview_settings(request: RenderRequest, num_frames: int, fps: float, photo_size: tuple[int, int],
                        small_size: tuple[int, int], limits: RenderLimits = RenderLimits()) -> AnimationSettings:
    """An AL page's preview settings: ``num_frames`` frames at ``fps`` of the photo (``photo_size`` (H, W))
    downscaled to ``small_size`` (h, w).

    Arrows are in photo pixels per frame: scaling their end points scales their lengths with the photo. A
    preview frame spans ``request.fps / fps`` frames of the full render, so the motion speed is multiplied by that
    (capped at the pipeline's maximum): the preview moves as far per second as the render will. Its colour maps are
    predicted every ``limits.preview_appearance_stride``-th frame at least, interpolated between.
    """
    settings = request.settings
    speed = min(limits.max_motion_speed, settings.motion_speed * request.fps / fps)
    arrows = None
    if request.arrows is not None:
        (height, width), (small_height, small_width) = photo_size, small_size
        sx, sy = small_width / width, small_height / height

        def scaled(point):  # clamped: rounding must not push an end point past the smaller image's edge
            return [min(max(point[0] * sx, 0.0), small_width), min(max(point[1] * sy, 0.0), small_height)]
        arrows = [{"from": scaled(a["from"]), "to": scaled(a["to"])} for a in request.arrows]
    changes = {"num_frames": num_frames, "motion_speed": speed, "arrows": arrows,
               "appearance_stride": min(max(settings.appearance_stride, limits.preview_appearance_stride),
                                        num_frames)}
    if hasattr(settings, "loop_period"):  # a period in frames (loop="phased"): the same in seconds
        changes["loop_period"] = max(2.0, settings.loop_period * fps / request.fps)
    return replace(settings, **changes)


def preview_inputs(request: RenderRequest, image: np.ndarray, limits: RenderLimits = RenderLimits()
                   ) -> tuple[np.ndarray, AnimationSettings, float]:
    """``(image, settings, fps)`` that render an AL page's ``request``: the photo itself for a full render; for a
    preview the photo downscaled (:func:`preview_frame`) with :func:`al_preview_settings` (other pages:
    :meth:`cinescape.web.pages.BasicControls.preview_inputs`)."""
    if not request.preview:
        return image, request.settings, request.fps
    small, fps, frames = preview_frame(request, image, limits)
    return small, al_preview_settings(request, frames, fps, image.shape[:2], small.shape[:2], limits), fps


__all__ = ["AUTO_MASK_CHOICES", "DEEPLANDSCAPE_AUTO_MASKS", "FORMATS", "MAX_SEED", "MEDIA_TYPES", "RenderLimits",
           "RenderRequest", "TIME_OF_DAY_PRESETS", "WEB_DEFAULTS", "al_preview_settings", "choice",
           "deeplandscape_defaults", "integer", "loop_fields", "option_message", "parse_mask", "parse_render_request",
           "preview_frame", "preview_inputs", "preview_size", "request_fields"]
