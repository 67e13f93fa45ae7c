"""The methods of ``cinescape evaluate --photos`` (:mod:`cinescape.eval.photos`): ``--method`` specs
(``NAME[:KEY=VALUE,...]``, :func:`parse_method_spec`), the ``static`` and ``shift`` baselines, and models through
the public API (:class:`PipelinePhotoMethod`). Each yields a loop's uint8 (H, W, 3) frames at the photo's
resolution, one at a time."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import OptionError

from .photo_settings import PhotoEvalSettings

__all__ = ["MethodSpec", "parse_method_spec", "settings_class_for", "PhotoMethod", "StaticPhotoMethod", "ShiftPhotoMethod",
           "PipelinePhotoMethod", "resolve_photo_method", "shift_frame"]


@dataclass(frozen=True)
class MethodSpec:
    """A parsed ``--method`` entry: ``label`` (the text as given, the report's name), ``base`` (``static``,
    ``shift``, ``default``, ``fgla``, ``deeplandscape``, ``fgla:DIR`` or a model folder) and ``overrides``
    (fields of that method's settings class, parsed to their types)."""

    label: str
    base: str
    overrides: dict = field(default_factory=dict)


# "NAME:key=value,...": the settings begin at the first ':' that is followed by "key=" (a key is a Python
# identifier, '-' allowed), so "fgla:runs/x:mode=eulerian" keeps "fgla:runs/x" as its NAME.
_SETTINGS_START = re.compile(r":(?=[A-Za-z_][A-Za-z0-9_-]*=)")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def settings_class_for(base: str) -> type:
    """The settings class of a method spec's ``base``: a shipped model's name or a model folder, ``METHOD:DIR``
    included (its pipeline.json says the class; nothing else is read); anything else, or a folder that does not
    say: AL's AnimationSettings (a folder that does not load fails when it is loaded)."""
    from ..errors import ModelLoadError
    from ..methods import SHIPPED_MODELS, pipeline_class
    from ..methods.al import AnimationSettings
    from ..methods.select import settings_class_of, split_method_folder

    _, folder = split_method_folder(base)
    if folder in SHIPPED_MODELS or Path(folder).expanduser().is_dir():
        try:
            return settings_class_of(pipeline_class(SHIPPED_MODELS.get(folder, folder)))
        except ModelLoadError:
            return AnimationSettings
    return AnimationSettings


def _setting_parsers(settings_class: type | None = None) -> dict[str, tuple[str, callable]]:
    """``settings_class`` (default AnimationSettings) field -> (its annotation, a parser of a spec value to the
    field's type)."""
    from ..methods.al import AnimationSettings

    settings_class = settings_class or AnimationSettings

    def parse_bool(text: str) -> bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError("expected true or false")

    def optional(parse):
        return lambda text: None if text.lower() == "none" else parse(text)

    parsers = {}
    for f in dataclasses.fields(settings_class):
        kinds = {part.strip() for part in str(f.type).split("|")}
        if kinds == {"bool"}:
            parse = parse_bool
        elif kinds <= {"int", "None"}:
            parse = optional(int) if "None" in kinds else int
        elif kinds <= {"float", "None"}:
            parse = optional(float) if "None" in kinds else float
        else:  # str, "str | int | None" (code selectors take text), or a path for masks, arrows, patches
            parse = str
        parsers[f.name] = (str(f.type), parse)
    return parsers


def parse_method_spec(text: str, baselines: tuple[str, ...] = ("static", "shift")) -> MethodSpec:
    """``NAME[:KEY=VALUE[,KEY=VALUE...]]`` -> :class:`MethodSpec`.

    KEY is a field of the method's settings class (:func:`settings_class_for`: AL's and FGLA's
    :class:`~cinescape.methods.al.AnimationSettings`, DeepLandscape's ``DeepLandscapeSettings``, e.g.
    ``deeplandscape:finetune_steps=50``) (``-`` may stand for ``_``, as in the CLI's
    options: ``auto-mask=sky``); VALUE is parsed to the field's type: ``true``/``false`` (also yes/no, on/off,
    1/0) for booleans, numbers, ``none`` for an optional number, text otherwise (``auto_mask=none`` is the
    text "none": no automatic mask). A comma inside a value is kept when the next piece holds no ``=``:
    ``time_of_day=day,sunset,night,mode=eulerian``. No quoting is needed in a shell. The ``baselines``
    take no settings. Raises :class:`~cinescape.errors.OptionError` (one line) for an unknown key, a bad
    value, or settings the class's ``validate()`` refuses.
    """

    text = text.strip()
    match = _SETTINGS_START.search(text)
    base, settings_text = (text[:match.start()], text[match.end():]) if match else (text, "")
    if not base:
        raise OptionError(f"methods entry {text!r}: give a method name before the settings")
    if not match:
        return MethodSpec(text, base)
    if base in baselines:
        raise OptionError(f"methods entry {text!r}: the {base} baseline takes no settings (shift_speed: the shift's speed)")
    pieces: list[str] = []
    for piece in settings_text.split(","):
        if "=" in piece or not pieces:
            pieces.append(piece)
        else:
            pieces[-1] += "," + piece
    settings_class = settings_class_for(base)
    parsers = _setting_parsers(settings_class)
    overrides: dict = {}
    for piece in pieces:
        key, _, value = piece.partition("=")
        key = key.strip().replace("-", "_")
        if key not in parsers:
            raise OptionError(f"methods entry {text!r}: unknown setting {key!r}; settings are "
                              f"{', '.join(sorted(parsers))}")
        if key in overrides:
            raise OptionError(f"methods entry {text!r}: {key!r} is given twice")
        annotation, parse = parsers[key]
        try:
            overrides[key] = parse(value.strip())
        except ValueError:
            raise OptionError(f"methods entry {text!r}: '{key}={value}' is not a valid {annotation}") from None
    try:
        settings_class(**overrides).validate()
    except OptionError as exc:
        # the settings' own names quoted, as the user typed them in the spec (not the CLI's options)
        message = re.sub(rf"\b({'|'.join(map(re.escape, overrides))})\b", r"'\1'", str(exc))
        raise OptionError(f"methods entry {text!r}: {message}") from None
    return MethodSpec(text, base, overrides)


# ---------------------------------------------------------------------------------------------- methods


class PhotoMethod:
    """A way to animate a photo: ``frames(image, num_frames, seed)`` yields ``num_frames`` uint8 (H, W, 3)
    frames at the photo's resolution, one at a time."""

    label = "method"

    def frames(self, image: np.ndarray, num_frames: int, seed: int) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def describe(self, num_frames: int, seed: int) -> dict:
        """The method's effective settings, JSON-safe, for the report."""
        return {}


class StaticPhotoMethod(PhotoMethod):
    """The photo repeated: no motion, coherence exactly 0."""

    label = "static"

    def frames(self, image: np.ndarray, num_frames: int, seed: int) -> Iterator[np.ndarray]:
        for _ in range(num_frames):
            yield image


def shift_frame(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` (H, W, 3) uint8 moved rigidly by (dx, dy) pixels: ``out(x, y) = image(x - dx, y - dy)``,
    sampled bilinearly (OpenCV, positions to 1/32 px); what enters at a border is the photo reflected about
    its edge (``BORDER_REFLECT``, ``...cba|abc...``, the renderer's convention)."""
    to_source = np.float32([[1, 0, -dx], [0, 1, -dy]])
    return cv2.warpAffine(image, to_source, (image.shape[1], image.shape[0]), flags=cv2.INTER_LINEAR |
                          cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)


class ShiftPhotoMethod(PhotoMethod):
    """The whole photo drifting rigidly at ``speed`` px/frame in direction ``angle`` (degrees, 0 = right,
    90 = down, 270 = up), at its own resolution (:func:`shift_frame`): frame t is the photo moved by
    t * speed. A reference for the coherence of a plain sub-pixel move; it does not loop.

    The direction matters: at the 384-px comparison a move is a sub-pixel resampling of the photo's pixels.
    On the 10 masked photos (0.5 px/frame, 60 frames, coherence frames ``i * 60 // 8``) it scored 1.54 moving
    right, 2.53 down, 2.73 up and 2.99 along the clip evaluation's seed-0 direction (304°); up reproduced the
    range the issue gives for this baseline (0.90-5.68 here, 0.9-5.7 there; its mean there is 2.49). With
    the coherence frames in the middle of each eighth (:func:`evenly_spaced`) up scores 2.96 (0.95-6.24)."""

    label = "shift"

    def __init__(self, speed: float = 0.5, angle: float = 270.0):
        self.speed, self.angle = speed, angle

    def describe(self, num_frames: int, seed: int) -> dict:
        return {"speed_px_per_frame": self.speed, "angle_degrees": self.angle, "sampling": "bilinear",
                "border": "reflect"}

    def frames(self, image: np.ndarray, num_frames: int, seed: int) -> Iterator[np.ndarray]:
        vx = self.speed * math.cos(math.radians(self.angle))
        vy = self.speed * math.sin(math.radians(self.angle))
        for t in range(num_frames):
            yield image if t == 0 else shift_frame(image, t * vx, t * vy)


class PipelinePhotoMethod(PhotoMethod):
    """A cinescape model through the public API: ``pipeline.plan(image, settings).frames()`` with the settings of
    the model's method (:func:`~cinescape.methods.select.resolve_settings`: its defaults, those of ``cinescape
    animate``), ``num_frames``, ``seed`` and the spec's overrides (which win over ``num_frames`` and ``seed``).
    After :meth:`frames`, ``inversion`` holds the latest loop's GAN inversion (DeepLandscape; None for the
    others), whose quality the report measures."""

    def __init__(self, pipeline, label: str, overrides: dict | None = None):
        self.pipeline, self.label, self.overrides = pipeline, label, dict(overrides or {})
        self.inversion = None

    def settings(self, num_frames: int, seed: int):
        return self.pipeline.eval_settings(num_frames, seed, overrides=self.overrides)

    def frames(self, image: np.ndarray, num_frames: int, seed: int) -> Iterator[np.ndarray]:
        animation = self.pipeline.plan(image, self.settings(num_frames, seed))
        self.inversion = getattr(animation, "inversion", None)
        yield from animation.frames()

    def describe(self, num_frames: int, seed: int) -> dict:
        """Every settings field with a plain value (AL ``auto_mask`` None: the model's default, shown as
        ``"model default: ..."``)."""
        settings = self.settings(num_frames, seed)
        values = {k: v for k, v in asdict(settings).items()
                  if v is None or isinstance(v, (str, int, float, bool))}
        if "auto_mask" in values and values["auto_mask"] is None:
            values["auto_mask"] = f"model default: {self.pipeline.defaults.get('auto_mask', 'none')}"
        return {"model": type(self.pipeline).__name__, **values}


def resolve_photo_method(spec: MethodSpec, settings: PhotoEvalSettings, pipelines: dict | None = None) -> PhotoMethod:
    """A :class:`MethodSpec` -> a :class:`PhotoMethod`; ``pipelines`` caches loaded models by base name, so
    several specs of one model load it once."""
    if spec.base == "static":
        return StaticPhotoMethod()
    if spec.base == "shift":
        return ShiftPhotoMethod(settings.shift_speed, settings.shift_angle)
    pipelines = {} if pipelines is None else pipelines
    if spec.base not in pipelines:
        from ..methods import SHIPPED_MODELS
        from ..methods.select import load_method_pipeline, split_method_folder

        method, folder = split_method_folder(spec.base)
        if folder in SHIPPED_MODELS or Path(folder).expanduser().is_dir():
            pipelines[spec.base] = load_method_pipeline(method, folder)
        else:
            raise OptionError(f"unknown method {spec.base!r}: use static, shift, {', '.join(SHIPPED_MODELS)}, a "
                              "model folder or METHOD:DIR, optionally with :KEY=VALUE,... settings")
    method = PipelinePhotoMethod(pipelines[spec.base], spec.label, spec.overrides)
    return method

