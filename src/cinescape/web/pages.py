"""The page's control sets: what a server's page shows and takes for its method, and how a render of it is planned.

A method says which set drives it in its ``offers.web_controls`` (:class:`~cinescape.methods.base.Offers`);
:func:`controls_for` builds that set for a loaded pipeline, and :class:`~cinescape.web.service.RenderService` asks
the set, never which method runs:

* :class:`BasicControls` (``"basic"``, any method, also one that names no set): the loop's length, frame rate,
  seed and format; the settings are the method's own (:meth:`~cinescape.methods.base.MethodPipeline.eval_settings`
  with the frames and the seed); no mask (everything the method moves, moves).
* :class:`ALControls` (``"al"``: AL and FGLA): the painted mask over the automatic fluid matte, arrows, loop types,
  motion modes, colours, time of day, region kinds (:mod:`cinescape.web.kinds`, where the pipeline moves regions by
  kind), the flow video.
* :class:`DeepLandscapeControls` (``"deeplandscape"``): the painted mask over the sky+water matte, the sky's
  direction and speed, the lighting change; each photo is inverted once and its later renders reuse that
  inversion (a method that ``offers.inversion`` takes ``reuse=`` an earlier plan).

Every set parses a request's JSON into a :class:`~cinescape.web.forms.RenderRequest` (one-line
:class:`~cinescape.web.errors.BadRequest` for anything wrong), computes the automatic matte the page starts from,
derives a preview's smaller inputs and plans a render.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from ..errors import CinescapeError
from . import forms, kinds
from .controls import page_kind
from .errors import BadRequest

__all__ = ["ALControls", "BasicControls", "ControlSet", "DeepLandscapeControls", "controls_for"]


class BasicControls:
    """The controls every method takes (see the module docstring). ``pipeline``: the server's loaded pipeline."""

    name = "basic"
    auto_mask_choices: tuple[str, ...] = ("default", "none")
    #: Whether the service may keep this set's plans for the same request again (web.plans); DeepLandscape keeps
    #: its own (the inversion, for any direction, speed or lighting).
    reuses_plans = True

    def __init__(self, pipeline):
        self.pipeline = pipeline

    @property
    def defaults(self) -> dict[str, Any]:
        """What the page starts with; a request's missing fields take these values."""
        return {"preview": False, "seconds": 3.0, "fps": 20.0, "seed": 0, "format": "mp4", "auto_mask": "default"}

    @property
    def default_auto_mask(self) -> str:
        """The automatic mask ``"default"`` stands for."""
        return "none"

    def canonical_auto(self, auto: str) -> str:
        """The name under which ``auto``'s matte is computed and kept (one matte, whichever name asks it)."""
        return auto

    def parse(self, payload: Any, photo_size: tuple[int, int], limits: forms.RenderLimits) -> forms.RenderRequest:
        """A request's JSON -> a :class:`~cinescape.web.forms.RenderRequest` of the method's own settings."""
        fields = forms.request_fields(payload, self.defaults)
        preview, seconds, fps, num_frames, output_format = forms.loop_fields(fields, limits)
        forms.choice(fields, "auto_mask", self.auto_mask_choices)
        if payload.get("mask") is not None:
            raise BadRequest("mask: this server's method takes no mask (everything it moves, moves)")
        try:
            settings = self.pipeline.eval_settings(num_frames, forms.integer(fields, "seed", 0, forms.MAX_SEED))
            settings.validate()
        except CinescapeError as exc:
            raise BadRequest(forms.option_message(exc)) from None
        return forms.RenderRequest(preview=preview, seconds=seconds, fps=fps,
                                   format="mp4" if preview else output_format, flow=False, settings=settings,
                                   arrows=None)

    def check(self, request: forms.RenderRequest, service, photo) -> None:
        """Checks of ``request`` against the photo (its regions), before it is queued; none here."""

    def matte(self, image: np.ndarray, auto: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``(matte, sky)``: the automatic matte ``auto`` (canonical) of ``image`` uint8 (H, W, 3) at full
        resolution, (H, W) float32 in [0, 1] or None (everything moves), and the sky matte's output the regions
        read (or None). Here: None, None."""
        return None, None

    def preview_settings(self, request: forms.RenderRequest, num_frames: int, fps: float,
                         photo_size: tuple[int, int], small_size: tuple[int, int], limits: forms.RenderLimits):
        """The settings of ``request``'s preview: ``num_frames`` frames at ``fps`` (a frame spans ``request.fps /
        fps`` of the full render's) of the photo (``photo_size`` (H, W)) downscaled to ``small_size`` (h, w)."""
        return replace(request.settings, num_frames=num_frames)

    def preview_inputs(self, request: forms.RenderRequest, image: np.ndarray, limits: forms.RenderLimits
                       ) -> tuple[np.ndarray, Any, float]:
        """``(image, settings, fps)`` that render ``request``: the photo itself for a full render; for a preview
        the photo downscaled (:func:`~cinescape.web.forms.preview_size`) at ``min(fps, limits.preview_fps)`` with
        the same length in seconds (:meth:`preview_settings`)."""
        if not request.preview:
            return image, request.settings, request.fps
        small, fps, frames = forms.preview_frame(request, image, limits)
        return small, self.preview_settings(request, frames, fps, image.shape[:2], small.shape[:2], limits), fps

    def plan(self, service, render):
        """The animation of ``render`` (planned under the service's pipeline lock)."""
        image, settings, _ = self.preview_inputs(render.request, render.photo.image, service.render_limits)
        with service.pipeline_lock:
            return self.pipeline.plan(image, settings)


class ALControls(BasicControls):
    """AL's and FGLA's page: mask, arrows, loop types, modes, colours, region kinds, flow video."""

    name = "al"
    auto_mask_choices = forms.AUTO_MASK_CHOICES

    @property
    def defaults(self) -> dict[str, Any]:
        return forms.WEB_DEFAULTS

    @property
    def default_auto_mask(self) -> str:
        return self.pipeline.defaults.get("auto_mask", "none")

    def parse(self, payload, photo_size, limits) -> forms.RenderRequest:
        return forms.parse_render_request(payload, photo_size, limits)

    def check(self, request, service, photo) -> None:
        """Kinds: each on a region of the photo (one-line 400s)."""
        kinds.check_kinds(request.settings, self.pipeline)
        if request.settings.kinds:
            auto = request.settings.auto_mask or "default"
            kinds.apply_kinds(service.regions(photo, auto, request.settings.mask), request.settings.kinds)

    def matte(self, image, auto):
        from ..methods.al.pipeline import AnimationSettings

        settings = AnimationSettings(auto_mask=None if auto == "default" else auto)
        evidence: dict = {}
        matte = self.pipeline.fluid_matte(image, settings, evidence=evidence)
        return matte, evidence.get("sky")   # the sky matte's output, for the regions' kinds

    def preview_settings(self, request, num_frames, fps, photo_size, small_size, limits):
        return forms.al_preview_settings(request, num_frames, fps, photo_size, small_size, limits)

    def plan(self, service, render):
        image, settings, _ = self.preview_inputs(render.request, render.photo.image, service.render_limits)
        # The mask the page showed (the automatic matte, computed once per photo, plus the brush strokes) is the
        # motion mask, given as the user mask with no automatic mask on top: the pipeline does not segment the
        # photo again, and it would otherwise multiply the painted mask by the automatic one.
        auto = "default" if settings.auto_mask is None else settings.auto_mask
        painted = settings.mask
        settings = replace(settings, mask=service.render_mask(render.photo, auto, painted), auto_mask="none")
        if kinds.offers_kinds(self.pipeline) and kinds.wants_regions(settings):
            # the regions the page showed (with the sky matte's evidence), the request's kinds applied
            shown = kinds.apply_kinds(service.regions(render.photo, auto, painted), settings.kinds)
            settings = replace(settings, kinds=kinds.plan_kinds(shown, image.shape[:2]) or None)
        with service.pipeline_lock:
            animation = self.pipeline.plan(image, settings)
        if getattr(animation, "regions", None) is not None:
            render.regions = kinds.describe_regions(animation.regions)["regions"]
        return animation


class DeepLandscapeControls(BasicControls):
    """DeepLandscape's page: mask, the sky's direction and speed, lighting; one inversion per photo and mask."""

    name = "deeplandscape"
    auto_mask_choices = forms.DEEPLANDSCAPE_AUTO_MASKS
    reuses_plans = False

    def __init__(self, pipeline):
        super().__init__(pipeline)
        self.base = pipeline.settings()   # the model's settings (its folder's defaults), a request's fields replace

    @property
    def defaults(self) -> dict[str, Any]:
        return forms.deeplandscape_defaults(self.base)

    @property
    def default_auto_mask(self) -> str:
        return "sky+water" if self.base.use_mask else "none"

    def canonical_auto(self, auto: str) -> str:
        return self.default_auto_mask if auto == "default" else auto

    def parse(self, payload, photo_size, limits) -> forms.RenderRequest:
        return forms.parse_render_request(payload, photo_size, limits, deeplandscape=self.base)

    def matte(self, image, auto):
        return (None if auto == "none" else self.pipeline.fluid_matte(image)), None

    def preview_settings(self, request, num_frames, fps, photo_size, small_size, limits):
        # Its speed is per frame and its phased loop's period in frames, both scaled to keep the full render's
        # motion per second (the generator's resolution, not the photo's, sets its units).
        settings = request.settings
        return replace(settings, num_frames=num_frames, speed=settings.speed * request.fps / fps,
                       period=max(2.0, settings.period * fps / request.fps))

    def plan(self, service, render):
        """The full photo is inverted whatever the render (the inversion sees it at the generator's resolution,
        so a preview's smaller copy would give the same inversion), and the plan is kept on the photo: the next
        render passes it as ``reuse=``, and the pipeline reuses its inversion when the inversion settings and the
        mask are the same (masks are compared by value here; the pipeline takes the same object as the same
        mask). A preview's loop is that inversion moved over the preview-sized photo and matte. The inversion
        reports each step (phase ``inverting``) and a cancel stops it at the next step."""
        from ..methods.deeplandscape.pipeline import DeepLandscapeAnimation

        request, photo = render.request, render.photo
        settings = request.settings
        mask = service.render_mask(photo, "sky+water" if settings.use_mask else "none", settings.mask)
        previous = photo.inverted
        if previous is not None and _same_mask(previous.settings.mask, mask):
            mask = previous.settings.mask
        settings = replace(settings, mask=mask, use_mask=False)   # the mask the page showed is the whole matte

        def on_step(done: int, total: int) -> None:
            service.check_cancelled(render)
            render.phase, render.steps_done, render.steps_total = "inverting", done, total

        with service.pipeline_lock:
            animation = self.pipeline.plan(photo.image, settings, reuse=previous, on_step=on_step)
        render.reused_inversion = previous is not None and animation.inversion is previous.inversion
        photo.inverted = animation
        if not request.preview:
            return animation
        image, preview_settings, _ = self.preview_inputs(request, photo.image, service.render_limits)
        matte = cv2.resize(animation.matte, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_AREA)
        return DeepLandscapeAnimation(self.pipeline, image, matte, animation.inversion, preview_settings)


def _same_mask(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(np.array_equal(a, b))


ControlSet = BasicControls   # the interface every set implements
CONTROL_SETS: dict[str, type[BasicControls]] = {"basic": BasicControls, "al": ALControls,
                                                 "deeplandscape": DeepLandscapeControls}


def controls_for(pipeline) -> BasicControls:
    """The control set of a loaded pipeline (:func:`~cinescape.web.controls.page_kind`)."""
    return CONTROL_SETS[page_kind(pipeline)](pipeline)
