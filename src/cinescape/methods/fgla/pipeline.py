"""FGLA's pipeline: a photo animated with per-region motion (:class:`FGLAPipeline`); the method is described in
:mod:`cinescape.methods.fgla`."""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ...data.clips import Clip, attach_flows, common_motion_field, load_clip, parse_source
from ...errors import ModelLoadError, OptionError
from ...io.image import tensor_to_image
from ...ops import feather_mask
from ...segmentation import GROUP_NAMES, Segmenter
from .. import PIPELINE_CONFIG, SHIPPED_MODELS, read_pipeline_config, write_pipeline_config
from ..al.appearance import AppearanceModel
from ..al.codebook import Codebook, CodeSelector
from ..al.engine import AnimationSettingsShells, CinemagraphEngine, engine_attribute
from ..al.pipeline import CLI_OPTIONS, DEFAULT_MODEL_DIR, OFFERS
from ..al.settings import MASK_FEATHER_SIGMA, AnimationSettings
from ..base import MethodPipeline
from .model import FGLACodebook, FGLAModel, group_masks, load_group_segmenter, resize_groups

DEFAULT_FGLA_DIR = SHIPPED_MODELS["fgla"]  # the FGLA model shipped in the package
PIPELINE_CLASS = "fgla.FGLAPipeline"        # pipeline.json's "pipeline_class" (cinescape.methods.load_pipeline)
REFERENCE_REGION_ALL = "all"   # reference_regions: encode a reference's whole frame


def is_fgla_folder(path: str | Path) -> bool:
    return (Path(path).expanduser() / FGLAModel.folders()[0]).is_dir()


def _describe(source) -> str:
    """A reference for messages: its path, or the shape of its frames."""
    return str(source) if isinstance(source, (str, Path)) else f"(frames {tuple(np.shape(source))})"


def parse_group(name: str) -> int:
    """A group name (``sky``, ``tree``, ``grass``, ``water``, ``waterfall``, ``others``) -> its id."""
    key = name.strip().lower()
    if key not in GROUP_NAMES:
        raise OptionError(f"unknown region {name!r}: use one of {', '.join(GROUP_NAMES)}")
    return GROUP_NAMES.index(key)


def parse_region_options(references=(), region_speeds=(), reference_regions=()) \
        -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """``GROUP=CLIP``, ``GROUP=X`` and ``GROUP=REGION`` lists (as ``cinescape animate``'s ``--reference``,
    ``--region-speed`` and ``--reference-region``) -> the ``references``, ``speeds`` and ``reference_regions``
    dicts :meth:`FGLAPipeline.plan` takes, keyed by group name.

    Example:
        >>> parse_region_options(["sky=clouds.mp4"], ["water=0.5"])
        ({'sky': 'clouds.mp4'}, {'water': 0.5}, {})
    """
    def split(text: str, name: str) -> tuple[str, str]:
        group, sep, value = text.partition("=")
        if not sep or not value:
            raise OptionError(f"{name}: each takes GROUP=VALUE (e.g. sky=clouds.mp4), got {text!r}")
        return GROUP_NAMES[parse_group(group)], value

    def collect(texts, name: str) -> dict[str, str]:
        values: dict[str, str] = {}
        for text in texts:
            group, value = split(text, name)
            if group in values:
                raise OptionError(f"{name}: {group}= is given twice")
            values[group] = value
        return values

    refs = collect(references, "references")
    rates: dict[str, float] = {}
    for text in region_speeds:
        group, value = split(text, "region_speeds")
        try:
            rates[group] = float(value)
        except ValueError:
            raise OptionError(f"region_speeds: {group}= takes a number, got {value!r}") from None
    return refs, rates, collect(reference_regions, "reference_regions")


class _LatentSetMotion(nn.Module):
    """Adapts :class:`FGLAModel` to the pipeline's ``motion.predict_flow(image, z)``: ``z`` is the latent set
    flattened, (1, N * D); ``groups`` (h, w) is the photo's group map (held fixed), bound per animation
    (:meth:`FGLAPipeline.motion_model`)."""

    def __init__(self, model: FGLAModel, groups: torch.Tensor | None = None):
        super().__init__()
        self.model = model
        self.groups = groups

    def predict_flow(self, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self.groups is None:
            raise RuntimeError("no group map is bound to this motion model (FGLAPipeline.motion_model binds it)")
        latents = z.view(z.shape[0], self.model.num_groups, -1)
        groups = self.groups.to(image.device)[None].expand(image.shape[0], -1, -1)
        return self.model.predict_flow(image, latents, groups)

    def predict_velocity(self, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The Eulerian mode's field: FGLA has no velocity predictor, so its flow on the photo."""
        return self.predict_flow(image, z)


@dataclass
class FGLASettings(AnimationSettings):
    """AL's settings (:class:`~cinescape.methods.al.AnimationSettings`: loop, mode, masks, arrows in the direct
    mode, colours; no single ``motion_code`` and no region kinds) and FGLA's regions, keyed by group name:
    ``references`` ``{group: clip}`` (a video file or frame folder, ``PATH:STRIDE`` allowed, or uint8 frames (T,
    H, W, 3)); ``speeds`` ``{group: factor}``; ``reference_regions`` ``{group: region}`` (the region of that
    group's reference to encode: a group name or ``"all"``); ``groups``: the photo's (H, W) group map (any size:
    resized nearest) instead of the segmenter's (see :class:`FGLAPipeline`)."""

    references: dict | None = None
    speeds: dict | None = None
    reference_regions: dict | None = None
    groups: np.ndarray | torch.Tensor | None = None

    def validate(self) -> None:
        super().validate()
        if CodeSelector.parse(self.motion_code) != CodeSelector():
            raise OptionError("FGLA has no single motion code (motion_code): use references or the seed")
        if self.kinds:
            raise OptionError("--kind is for the default method (al) in the eulerian mode, with a fluid matte "
                              "(--auto-mask or --mask) and without --arrows")


@dataclass
class _Request:
    """One :meth:`FGLAPipeline.plan` call's inputs, resolved (:meth:`FGLAPipeline.prepare_request`)."""

    latents: list[torch.Tensor | None]   # per group: a latent, or None for a codebook pick
    speeds: list[float]
    groups: torch.Tensor | None = None   # the photo's (h, w) group map at working size


class FGLAPipeline(AnimationSettingsShells, MethodPipeline):
    """Photo -> looping time-lapse with FGLA's per-region motion: AL's stages (the
    :class:`~cinescape.methods.al.engine.CinemagraphEngine` it composes) with FGLA's motion model and latent set.

    ``plan(image, references={"sky": CLIP, ...}, speeds={"water": 0.5, ...}, ...)`` (:class:`FGLASettings`)
    returns the same :class:`~cinescape.methods.al.Animation` as :class:`~cinescape.methods.al.CinemagraphPipeline`
    (loop modes, recurrent/Eulerian motion, masks and appearance work alike). Each group's latent and speed:

    * a group with a reference: the reference's latent of that group (:meth:`reference_latents`), or of the
      region ``reference_regions`` names for it (another group, or ``"all"``: :meth:`reference_latent`), speed 1
      (or ``speeds``);
    * with no reference at all, or a group given a speed: a latent of the model's per-group codebook picked at
      random from ``seed`` (a group the codebook lacks gets the still latent), speed 1 (or ``speeds``);
    * any other group (references were given, not for it): keeps still, with the latent of a zero flow
      (:meth:`FGLAModel.still_latent`) and its flow multiplied by 0, so it is exactly still.

    The per-pixel speeds (feathered like masks) multiply every step flow, together with ``mask`` and
    ``auto_mask``. The photo's group map comes from ``segmenter`` (default: the ADE20K segmenter, loaded on
    first use) or ``groups=`` in :meth:`plan`; it is held fixed over the animation. Colours (``appearance``) use
    the appearance model of the FGLA folder if it has one, else the shipped default model's. Like AL's pipeline,
    an instance holds only its models and caches: one instance may animate from two threads at once.
    """
    motion_by_kind = False   # FGLA's per-region latents set its motion (regions by kind are AL's)
    settings_class = FGLASettings

    # AL's options but one motion code; references, speeds and reference regions per group
    offers = replace(OFFERS, region_kinds=tuple(GROUP_NAMES), cli_options=(CLI_OPTIONS - {"motion_code", "kind", "kind_mask", "kind_speed", "no_kinds"}) | {
        "reference", "region_speed", "reference_region"})

    @classmethod
    def plan_options_from_cli(cls, options) -> dict:
        """``--reference``, ``--region-speed`` and ``--reference-region`` -> :meth:`plan`'s ``references``,
        ``speeds`` and ``reference_regions`` (:func:`parse_region_options`)."""
        refs, speeds, regions = parse_region_options(options.get("reference", ()), options.get("region_speed", ()),
                                                     options.get("reference_region", ()))
        return {"references": refs, "speeds": speeds, "reference_regions": regions}

    def __init__(self, model: FGLAModel, codebook: FGLACodebook, appearance=None, appearance_codebook: Codebook | None = None,
                 working_size: int = 144, *, segmenter: Segmenter | None = None, sky_matte: bool = True,
                 reference_short_side: int = 160, reference_max_frames: int = 120):
        # AL's stages; the codebook's appearance sequences keyframe the colours (FGLA's motion codes are its own)
        self.engine = CinemagraphEngine(
            appearance, appearance_codebook or Codebook(motion=torch.zeros(0, model.encoder.config.latent_dim)),
            working_size)
        self.model = model.eval()
        self.fgla_codebook = codebook
        self._group_segmenter = segmenter   # the photo's groups (AL's _segmenter is the auto mask's ADE20K)
        self.sky_matte = sky_matte   # the default segmenter: as the model was trained (FGLATrainConfig.sky_matte)
        self.reference_short_side = reference_short_side
        self.reference_max_frames = reference_max_frames
        self._group_cache: dict = {}
        self._reference_cache: dict = {}
        self._lock = threading.Lock()   # the group segmenter is loaded once, by one thread

    appearance = engine_attribute("appearance", "The appearance model (None: motion only).")
    codebook = engine_attribute("codebook", "The appearance codes' codebook (FGLA's motion codes: fgla_codebook).")
    working_size = engine_attribute("working_size", "The short side the networks run at.")
    defaults = engine_attribute("defaults", "The model folder's recommended settings (none for FGLA).")

    # ------------------------------------------------------------------------------------ loading

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, *, appearance_from: str | Path | None = None,
                        segmenter: Segmenter | None = None) -> "FGLAPipeline":
        """Load an FGLA model folder (``cinescape train fgla`` writes ``OUT/model``); ``path=None`` loads the
        FGLA model shipped inside the package (``cinescape/fgla_model``)."""
        folder = DEFAULT_FGLA_DIR if path is None else Path(path).expanduser()
        if not folder.is_dir():
            raise ModelLoadError(f"model folder {folder} does not exist")
        if not is_fgla_folder(folder):
            raise ModelLoadError(f"{folder} is not an FGLA model folder ({FGLAModel.folders()[0]}/ is missing); "
                                 "train one with `cinescape train fgla`")
        settings = read_pipeline_config(folder) if (folder / PIPELINE_CONFIG).is_file() else {}
        model = FGLAModel.from_pretrained(folder)
        codebook = FGLACodebook.load(folder)
        source = folder if (folder / AppearanceModel.folders()[0]).is_dir() else Path(appearance_from or DEFAULT_MODEL_DIR)
        appearance, appearance_codebook = None, None
        if (source / AppearanceModel.folders()[0]).is_dir():
            appearance, appearance_codebook = AppearanceModel.from_pretrained(source), Codebook.load(source)
        training = settings.get("fgla_training", {})
        return cls(model, codebook, appearance, appearance_codebook, int(settings.get("working_size", 144)),
                   segmenter=segmenter, sky_matte=bool(training.get("sky_matte", True)),
                   reference_short_side=int(training.get("short_side", 160)))

    def save_pretrained(self, path: str | Path) -> Path:
        folder = Path(path)
        self.model.save_pretrained(folder, dtype=torch.float16)
        self.fgla_codebook.save(folder)
        if self.appearance is not None:
            self.appearance.save_pretrained(folder, dtype=torch.float16)
            self.codebook.save(folder)
        write_pipeline_config(folder, {"pipeline_class": PIPELINE_CLASS, "working_size": self.working_size,
                                       "fgla_training": {"short_side": self.reference_short_side,
                                                         "sky_matte": self.sky_matte}})
        return folder

    # --------------------------------------------------------------------------------- semantics

    @property
    def segmenter(self) -> Segmenter:
        """The segmenter of the photo's groups (given, or loaded on first use)."""
        with self._lock:
            if self._group_segmenter is None:
                self._group_segmenter = load_group_segmenter(None, self.sky_matte)
        return self._group_segmenter

    def image_groups(self, image: np.ndarray | torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """The photo's (h, w) group map at ``size`` from the segmenter (the last photo's is cached)."""
        array = image if isinstance(image, np.ndarray) else tensor_to_image(image)
        key = (hashlib.blake2b(np.ascontiguousarray(array).tobytes(), digest_size=16).hexdigest(), array.shape,
               tuple(size))
        cache = self._group_cache   # replaced whole (never mutated), so a reader in another thread sees one photo's
        if key not in cache:
            cache = {key: torch.from_numpy(np.asarray(self.segmenter.classes(array, tuple(size)))).long()}
            self._group_cache = cache
        return cache[key]

    def reference_latents(self, source) -> tuple[torch.Tensor, torch.Tensor]:
        """A reference clip's latent set and its group fractions: ``((N, D), (N,))``.

        ``source``: a video file or frame folder (``PATH`` or ``PATH:STRIDE``), or uint8 frames (T, H, W, 3).
        Frames are decoded at the training short side, their DIS backward flows averaged over the clip, and the
        mean flow encoded under each group of the reference's own first-frame segmentation (Algorithm 1, line 6).
        """
        field, groups = self._reference_field(source)
        with torch.no_grad():
            latents = self.model.encode_field(field, groups)
        fractions = torch.bincount(groups.flatten(), minlength=self.model.num_groups).float() / groups.numel()
        return latents, fractions

    def reference_latent(self, source, region: int | str) -> torch.Tensor:
        """(D,) the latent of one region of a reference clip: ``region`` a group (id or name), encoded under the
        reference's own mask of that group (as :meth:`reference_latents`), or ``"all"``, its whole frame.

        ``"all"`` (or another group's name) lets a clip's motion drive a group the clip does not show, e.g. a
        cloud time-lapse's drift for a photo's water (``plan(references={"water": clouds},
        reference_regions={"water": "sky"})``). A group the reference's segmentation lacks raises OptionError.
        """
        if isinstance(region, str) and region.strip().lower() == REFERENCE_REGION_ALL:
            field, groups = self._reference_field(source)
            with torch.no_grad():   # one mask over the whole frame: the group-0 latent of an all-zero map
                return self.model.encode_field(field, torch.zeros_like(groups))[0]
        group = parse_group(region) if isinstance(region, str) else int(region)
        latents, fractions = self.reference_latents(source)
        if fractions[group] == 0:
            raise OptionError(f"the reference {_describe(source)} shows no {GROUP_NAMES[group]} (by its "
                              f"segmentation): pick a clip that does, or encode another of its regions "
                              f"(reference_regions, e.g. {{'{GROUP_NAMES[group]}': 'all'}})")
        return latents[group]

    def _reference_field(self, source) -> tuple[torch.Tensor, torch.Tensor]:
        """A reference's mean DIS backward flow (2, H, W) in pixels and its first frame's group map (H, W) (cached
        per path)."""
        key = str(source) if isinstance(source, (str, Path)) else None
        if key is not None and key in self._reference_cache:
            return self._reference_cache[key]
        if isinstance(source, (str, Path)):
            path, stride = parse_source(str(source))
            if not path.exists():
                raise OptionError(f"reference clip {path} does not exist")
            clip = load_clip(path, short_side=self.reference_short_side, stride=stride,
                             max_frames=self.reference_max_frames, name=str(path))
        else:
            frames = np.asarray(source)
            if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or frames.shape[0] < 2:
                raise OptionError("a reference must be a clip path or uint8 frames (T >= 2, H, W, 3)")
            clip = Clip(name="reference", frames=torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2))
        attach_flows(clip)
        first = np.ascontiguousarray(clip.frames[0].permute(1, 2, 0).numpy())
        groups = torch.from_numpy(np.asarray(self.segmenter.classes(first))).long()
        result = (common_motion_field(clip), groups)
        if key is not None:
            self._reference_cache[key] = result
        return result

    def resolve_regions(self, references: dict | None = None, speeds: dict | None = None,
                        reference_regions: dict | None = None) -> _Request:
        """Each group's latent (or None: a codebook pick) and speed, from ``references``, ``speeds`` and
        ``reference_regions`` keyed by group name (see the class docstring)."""
        references = {parse_group(k): v for k, v in (references or {}).items()}
        speeds = {parse_group(k): float(v) for k, v in (speeds or {}).items()}
        regions = {parse_group(k): v for k, v in (reference_regions or {}).items()}
        for group, speed in speeds.items():
            if not (np.isfinite(speed) and 0 <= speed <= 10):
                raise OptionError(f"speeds: {GROUP_NAMES[group]} must be between 0 and 10, got {speed}")
        for group, region in regions.items():
            if group not in references:
                raise OptionError(f"reference_regions names {GROUP_NAMES[group]}, which has no reference")
            if isinstance(region, str) and region.strip().lower() != REFERENCE_REGION_ALL:
                try:  # an unknown region name is a one-line error before any clip is read
                    parse_group(region)
                except OptionError:
                    raise OptionError(f"unknown reference region {region!r} for {GROUP_NAMES[group]}: use "
                                      f"{', '.join(GROUP_NAMES)} or {REFERENCE_REGION_ALL}") from None
            elif not isinstance(region, str) and not 0 <= int(region) < self.model.num_groups:
                raise OptionError(f"reference_regions: a region is a group name or {REFERENCE_REGION_ALL!r}, "
                                  f"got {region!r}")
        still = self.model.still_latent()
        latents: list[torch.Tensor | None] = []
        rates: list[float] = []
        for group in range(self.model.num_groups):
            if group in references:
                if group in regions:
                    latents.append(self.reference_latent(references[group], regions[group]))
                else:
                    encoded, fractions = self.reference_latents(references[group])
                    if fractions[group] == 0:
                        raise OptionError(f"the {GROUP_NAMES[group]} reference {_describe(references[group])} shows "
                                          f"no {GROUP_NAMES[group]} (by its segmentation): pick a clip that does, "
                                          f"or encode another of its regions (reference_regions)")
                    latents.append(encoded[group])
                rates.append(speeds.get(group, 1.0))
            elif not references or group in speeds:
                latents.append(None)
                rates.append(speeds.get(group, 1.0))
            else:
                latents.append(still)
                rates.append(0.0)
        return _Request(latents, rates)

    # ---------------------------------------------------------------------------------- inference

    def prepare_request(self, image: np.ndarray, size: tuple[int, int], settings: FGLASettings) -> _Request:
        """This call's regions (:meth:`resolve_regions` of ``settings``' references, speeds and reference regions)
        and the photo's group map at working size ``size`` (``settings.groups`` resized nearest, else the
        segmenter's)."""
        request = self.resolve_regions(settings.references, settings.speeds, settings.reference_regions)
        if settings.groups is not None:
            request.groups = resize_groups(torch.as_tensor(np.asarray(settings.groups)).long(), size)
        else:
            request.groups = self.image_groups(image, size)
        return request

    def motion_model(self, request: _Request | None = None) -> _LatentSetMotion:
        """FGLA's model bound to this call's group map."""
        if request is None or request.groups is None:
            raise RuntimeError("FGLA's motion model needs the photo's group map (prepare_request)")
        return _LatentSetMotion(self.model, request.groups)

    def motion_code(self, settings: AnimationSettings, rng: random.Random, request: _Request | None = None
                    ) -> torch.Tensor:
        """The latent set Z of this animation, flattened (N * D,): references, codebook picks (from ``rng``) or still."""
        request = request or self.resolve_regions()
        still = None
        latents = []
        for group, latent in enumerate(request.latents):
            if latent is None:
                latent = self.fgla_codebook.pick(group, rng)
                if latent is None:
                    still = self.model.still_latent() if still is None else still
                    latent = still
            latents.append(latent.float())
        return torch.stack(latents).flatten()

    def arrow_motion_code(self, *args, **kwargs):
        raise OptionError("arrows steer AL's single motion code (arrows_mode='latent'); with FGLA use "
                          "arrows_mode='direct', or references per region")

    def speed_map(self, request: _Request) -> torch.Tensor | None:
        """(1, 1, h, w) per-pixel speeds at working size: each group's indicator feathered, weighted by its speed;
        None when every speed is 1. It multiplies the motion mask (:meth:`CinemagraphEngine.motion_mask`)."""
        if all(s == 1.0 for s in request.speeds):
            return None
        size = tuple(request.groups.shape[-2:])
        masks = group_masks(request.groups[None], self.model.num_groups)
        speed = sum(s * feather_mask(masks[:, g:g + 1], MASK_FEATHER_SIGMA) for g, s in enumerate(request.speeds) if s)
        return speed if torch.is_tensor(speed) else torch.zeros(1, 1, *size)

    def plan(self, image, settings: FGLASettings | None = None, *, progress: bool = False, **overrides):
        """Animate ``image`` (a path, uint8 (H, W, 3), or (1, 3, H, W) in [-1, 1]) with FGLA's regions; ``overrides``:
        :class:`FGLASettings` fields by name (``references``, ``speeds``, ``groups``, ``reference_regions``, and
        AL's). See the class docstring."""
        settings = self.resolve(settings, overrides)                                  # 1. settings
        photo = self.engine.photo_input(image, settings.working_size)                 # 2. photo, working size
        settings = self.read_controls(settings, photo.size)                           # 3. arrows, patches
        request = self.prepare_request(photo.photo, photo.working, settings)          # 4. regions' latents, groups
        rng = random.Random(settings.seed)
        z_motion = self.motion_code(settings, rng, request)                           # 5. the latent set
        return self.engine.animate(                                                   # 6. matte .. frames
            photo, settings, self.motion_model(request), z_motion, rng, mask_weights=self.speed_map(request),
            fit_arrows=self.arrow_motion_code, progress=progress)
