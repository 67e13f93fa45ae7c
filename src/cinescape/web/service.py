"""Photos, renders and the render queue: what the web routes do, without a web framework.

* A :class:`Photo` is an upload, decoded once, with its own temporary folder (renders are written inside it). It
  expires :attr:`ServiceLimits.photo_ttl_s` seconds after it was last used (a sweep every
  :attr:`ServiceLimits.sweep_interval_s`), and at shutdown every folder goes.
* A :class:`Render` is one preview or full render of a photo. Renders wait in a bounded queue (past
  :attr:`ServiceLimits.max_queue` waiting renders a submit is refused with :class:`~cinescape.web.errors.Busy`)
  and ONE worker thread runs them in order: the pipeline is loaded once per server and is not meant to plan two
  animations at once. The worker writes the frames with :class:`~cinescape.io.video.VideoWriter`, which encodes
  into a hidden temporary file and renames it when the video is complete; a render's files are offered only once
  its state is ``"done"``. A cancelled render stops before the next frame (or inversion step).
* Masks: the automatic mask is the pipeline's own full-resolution fluid matte, computed once per photo and choice
  (:meth:`RenderService.auto_matte`); the page gets it at display size, and a render gets it with the page's brush
  strokes applied (:meth:`RenderService.render_mask`) as ``mask=``, with ``auto_mask="none"`` (DeepLandscape:
  ``use_mask=False``), so the pipeline does not segment the photo again.
* Plans: AL's and FGLA's (and any method's on the basic page) last few plans are kept
  (:class:`~cinescape.web.plans.PlanCache`, bounded by :attr:`ServiceLimits.max_cached_plans` and
  :attr:`ServiceLimits.max_cached_plan_pixels`), keyed by the photo and everything in the request but its format
  and flow video: the same preview or render asked again (another format, the flow added, the button pressed
  twice) renders from the kept animation, into the same frames, without planning again (``reused_plan`` in its
  status). After a preview, while the queue is empty, the worker plans the full render of the same settings ahead
  (:attr:`ServiceLimits.plan_ahead`): the page's next step is usually that render, which then starts with its
  first frame; a request that comes meanwhile waits for that one plan at most. Likewise, once the page has a
  photo's automatic mask (:meth:`RenderService.mask_png`), the worker plans the preview of the page's untouched
  settings for it (:meth:`RenderService.plan_preview_ahead`) while the user looks at the mask.
* DeepLandscape inverts each photo into its GAN before animating it (tens of seconds). The service keeps the last
  plan of each photo and passes it as ``reuse=``: another direction, speed, lighting, seed or length renders
  without inverting again, in the preview and the full render alike (both invert the full photo, which the
  inversion sees at the generator's resolution anyway); another mask inverts again
  (:meth:`cinescape.web.pages.DeepLandscapeControls.plan`).

States of a render: ``queued`` -> ``running`` -> ``done`` | ``failed`` | ``cancelled`` (or ``queued`` ->
``cancelled``). Phases while running: ``planning`` (motion, masks, arrow fitting: no frame count yet),
``inverting`` (DeepLandscape's inversion: ``steps_done`` of ``steps_total`` optimisation steps), ``rendering``,
``flow`` (the flow video), ``finishing`` (the encoders' last step). A cancelled render stops at the next frame, or
at the next inversion step.
"""

from __future__ import annotations

import collections
import io
import logging
import re
import secrets
import shutil
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..errors import CinescapeError, InputImageError
from ..io.image import MIN_IMAGE_SIDE, load_image
from ..methods.engine import write_animation
from . import kinds
from .errors import BadRequest, Busy, Conflict, NotFound, TooLarge, WebError
from .forms import MEDIA_TYPES, RenderLimits, RenderRequest
from .pages import controls_for
from .plans import PlanCache, settings_digest

log = logging.getLogger("cinescape.web")

TERMINAL_STATES = ("done", "failed", "cancelled")
MAX_FINISH_LISTENERS = 16   # event streams told at once when one render ends; more look every EVENT_INTERVAL_S


@dataclass(frozen=True)
class ServiceLimits:
    """How much one server takes on (the defaults suit one person on a laptop)."""

    max_upload_bytes: int = 30_000_000    # the photo file
    max_photo_pixels: int = 25_000_000    # 6000x4000; more would take minutes per loop anyway
    display_long_side: int = 1024         # the page's copy of the photo and its masks
    max_queue: int = 4                    # renders waiting behind the running one
    max_photos: int = 8                   # photos held at once (the least recently used idle one gives way)
    photo_ttl_s: float = 3600.0           # an unused photo and its renders are deleted after this
    sweep_interval_s: float = 60.0
    max_cached_plans: int = 4             # planned animations kept for the same request again (web.plans)
    # their rendered pixels in all: a plan holds ~50 bytes a pixel and ~10 MB (37 MB for a rendered 1024x576
    # loop, 21 MB for its preview), so ~250 MB at this bound; a bigger photo's plan is not kept
    max_cached_plan_pixels: int = 4_000_000
    plan_ahead: bool = True               # after a preview, plan its full render while the page shows the preview;
    #                                       after a mask, the default preview while the page shows the mask


class RenderCancelled(Exception):
    """Raised inside the worker between frames when a render was cancelled."""


@dataclass(eq=False)
class Photo:
    """An uploaded photo: the decoded pixels, the page's smaller copy, and a folder for its renders."""

    id: str
    name: str                       # file name stem of the upload, for download names
    folder: Path
    image: np.ndarray               # (H, W, 3) uint8, as the pipeline reads it (EXIF orientation applied)
    display: bytes                  # JPEG of the photo at display size
    display_size: tuple[int, int]   # (h, w)
    last_used: float
    # automatic-mask choice -> the pipeline's full-resolution fluid matte, (H, W) float32 (None: everything moves)
    mattes: dict[str, np.ndarray | None] = field(default_factory=dict)
    # automatic-mask choice -> that matte at display size, as the page gets it: (h, w) uint8 (white moves)
    shown_mattes: dict[str, np.ndarray] = field(default_factory=dict)
    renders: list[str] = field(default_factory=list)
    # DeepLandscape: the last plan of the full photo, whose inversion the next render may reuse
    inverted: object | None = None
    # motion by kind (cinescape.web.kinds): automatic-mask choice -> the sky matte's output, and -> the regions
    sky: dict[str, np.ndarray | None] = field(default_factory=dict)
    regions: dict[str, object] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the photo."""
        return self.image.shape[0], self.image.shape[1]

    def describe(self) -> dict:
        height, width = self.size
        display_height, display_width = self.display_size
        return {"id": self.id, "name": self.name, "width": width, "height": height,
                "display_width": display_width, "display_height": display_height,
                "image_url": f"/api/photos/{self.id}/image", "mask_url": f"/api/photos/{self.id}/mask"}


@dataclass(eq=False)
class Render:
    """One preview or full render of a photo, and where it stands."""

    id: str
    photo: Photo
    request: RenderRequest
    created: float
    state: str = "queued"
    phase: str = "queued"
    frames_done: int = 0
    frames_total: int = 0           # 0 until planned (frames, plus as many flow frames)
    steps_done: int = 0             # DeepLandscape's inversion steps (phase "inverting")
    steps_total: int = 0
    reused_inversion: bool | None = None   # DeepLandscape: whether the photo's earlier inversion was reused
    reused_plan: bool | None = None        # whether an earlier render's plan of the same request was reused
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    video: Path | None = None       # set only when complete (state "done")
    flow_video: Path | None = None
    regions: list[dict] | None = None   # the plan's moving regions and kinds (motion by kind), once planned
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    # called (from the worker's thread, with the service's lock held: quick, no blocking) when the render ends,
    # so that an event stream tells the page at once rather than at its next look (RenderService.on_finish)
    finish_listeners: list = field(default_factory=list)


class RenderService:
    """The server's state: photos, renders, the queue and its single worker thread.

    ``pipeline``: a loaded pipeline (loaded once per server) of any method; ``self.controls`` is the page's control
    set for it (:func:`~cinescape.web.pages.controls_for`), which the service asks instead of the method's name. ``root``: where the server's temporary folder is made
    (default: the system's temporary directory); it is removed by :meth:`close`. ``clock``: seconds, monotonic
    (tests move it to expire photos).
    """

    def __init__(self, pipeline, *, root: str | Path | None = None, limits: ServiceLimits = ServiceLimits(),
                 render_limits: RenderLimits = RenderLimits(), clock=time.monotonic):
        self.controls = controls_for(pipeline)   # not a method: one line, before any thread or folder
        self.kind = self.controls.name
        self.pipeline = pipeline
        self.limits = limits
        self.render_limits = render_limits
        self.clock = clock
        self.root = Path(tempfile.mkdtemp(prefix="cinescape-web-", dir=root))
        self._photos: dict[str, Photo] = {}
        self.plans = PlanCache(limits.max_cached_plans, limits.max_cached_plan_pixels)
        self._renders: dict[str, Render] = {}
        self._queue: collections.deque[Render] = collections.deque()
        self._running: Render | None = None
        # (photo, auto mask) whose default preview the worker plans when it has nothing queued: the latest only
        self._previews_ahead: collections.deque[tuple[Photo, str]] = collections.deque(maxlen=1)
        self._lock = threading.Lock()                      # guards the dicts, the queue and state changes
        self._wake = threading.Condition(self._lock)       # the worker waits on it for renders
        # The worker holds this while planning: one plan at a time, each takes every core (and DeepLandscape sets
        # torch's thread count for its inversion). Masks (fluid_matte) and rendering frames need no lock.
        self.pipeline_lock = threading.Lock()
        self._closed = threading.Event()
        self._worker = threading.Thread(target=self._work, name="cinescape-render", daemon=True)
        self._janitor = threading.Thread(target=self._sweep_periodically, name="cinescape-janitor", daemon=True)
        self._worker.start()
        self._janitor.start()

    # ------------------------------------------------------------------------------------------ photos

    def add_photo(self, data: bytes, name: str | None = None) -> Photo:
        """Decode an upload (the file's bytes) into a new :class:`Photo`; one-line 4xx errors for bad files."""
        if self._closed.is_set():
            raise WebError("the server is shutting down", status=503)
        if not data:
            raise BadRequest("empty upload: send the photo file as the request body")
        if len(data) > self.limits.max_upload_bytes:
            raise TooLarge(f"the photo file is {len(data) / 1e6:.1f} MB, over the limit of "
                           f"{self.limits.max_upload_bytes / 1e6:g} MB")
        self._check_pixels(data)
        folder = Path(tempfile.mkdtemp(prefix="photo-", dir=self.root))
        try:
            upload = folder / "upload"
            upload.write_bytes(data)
            try:
                image = load_image(upload, max_pixels=self.limits.max_photo_pixels, min_side=MIN_IMAGE_SIDE)
            except InputImageError as exc:
                # The message names the server's temporary file: say "the upload" instead.
                message = str(exc).replace(f"image '{upload}'", "the upload").replace(f"'{upload}'", "the upload")
                raise BadRequest(message.replace(str(upload), "the upload")) from None
            upload.unlink()  # the decoded pixels are kept; the file is not needed any more
            height, width = image.shape[:2]
            scale = min(1.0, self.limits.display_long_side / max(height, width))
            display_size = (max(1, round(height * scale)), max(1, round(width * scale)))
            small = image if scale == 1.0 else cv2.resize(image, display_size[::-1], interpolation=cv2.INTER_AREA)
            buffer = io.BytesIO()
            Image.fromarray(small).save(buffer, format="JPEG", quality=90)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        photo = Photo(id=secrets.token_hex(8), name=_safe_stem(name), folder=folder, image=image,
                      display=buffer.getvalue(), display_size=display_size, last_used=self.clock())
        with self._lock:
            if len(self._photos) >= self.limits.max_photos:
                idle = [p for p in self._photos.values() if not self._busy(p)]
                if not idle:
                    shutil.rmtree(folder, ignore_errors=True)
                    raise Busy(f"busy: {len(self._photos)} photos are being rendered; try again later")
                self._forget(min(idle, key=lambda p: p.last_used))
            self._photos[photo.id] = photo
        return photo

    def _check_pixels(self, data: bytes) -> None:
        """Refuse a photo with too many pixels from its header, before decoding any pixel (413)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                with Image.open(io.BytesIO(data)) as image:
                    width, height = image.size
            except Exception:  # not an image, or a header Pillow cannot parse: load_image says so in its words
                return
        if width * height > self.limits.max_photo_pixels:
            raise TooLarge(f"the photo is {width}x{height} ({width * height / 1e6:.1f} megapixels), over the limit "
                           f"of {self.limits.max_photo_pixels / 1e6:g} megapixels; downscale it first")

    def photo(self, photo_id: str) -> Photo:
        with self._lock:
            photo = self._photos.get(photo_id)
            if photo is None:
                raise NotFound(f"unknown photo id {_show_id(photo_id)} (expired, or the server restarted: "
                               "upload the photo again)")
            photo.last_used = self.clock()
            return photo

    def delete_photo(self, photo_id: str) -> None:
        """Forget a photo and delete its folder; its queued renders are cancelled, a running one is stopped."""
        photo = self.photo(photo_id)
        with self._lock:
            self._forget(photo)

    @property
    def auto_mask_choices(self) -> tuple[str, ...]:
        """The automatic masks this server's method offers."""
        return self.controls.auto_mask_choices

    @property
    def default_auto_mask(self) -> str:
        """What the automatic mask ``"default"`` is for this server's model."""
        return self.controls.default_auto_mask

    def parse_request(self, payload, photo: Photo) -> RenderRequest:
        """A render request's JSON for ``photo``, checked into this server's method's settings
        (:meth:`cinescape.web.pages.BasicControls.parse`), and checked against the photo."""
        request = self.controls.parse(payload, photo.size, self.render_limits)
        self.controls.check(request, self, photo)
        return request

    def regions(self, photo: Photo, auto: str, painted: np.ndarray | None = None):
        """The moving regions (a :class:`~cinescape.regions.RegionMap`) a render of ``photo`` moves by kind, for
        the automatic mask ``auto`` and the page's painted mask (None: unpainted; :meth:`render_mask`), found by
        the plan's own code (:func:`cinescape.web.kinds.photo_regions`); unpainted, computed once per choice."""
        if painted is None and auto in photo.regions:
            return photo.regions[auto]
        matte = self.render_mask(photo, auto, painted)
        found = kinds.photo_regions(self.pipeline, photo.image, matte, photo.sky.get(auto))
        if painted is None:
            photo.regions[auto] = found
        return found

    def auto_matte(self, photo: Photo, auto: str) -> np.ndarray | None:
        """The motion mask the pipeline's ``plan`` would compute for ``photo`` with ``auto_mask=auto``
        (``"default"``: the model's choice; DeepLandscape: its sky+water matte or ``"none"``) and no user mask: the
        pipeline's own full-resolution ``fluid_matte``, (H, W) float32 in [0, 1], or None where everything moves.
        Computed once per photo and choice (the segmentation networks are the slow part) for the page and for
        every render of the photo."""
        choices = self.auto_mask_choices
        if auto not in choices:
            raise BadRequest(f"auto must be one of {', '.join(choices)}, got {auto!r}")
        auto = self.controls.canonical_auto(auto)   # one matte, whichever name the page or a render asks it by
        if auto not in photo.mattes:
            # Not under the pipeline lock: a mask is the segmenters' work (each takes its turns under its own
            # lock), so a new photo's mask comes in seconds while the worker inverts or renders another photo.
            try:
                photo.mattes[auto], photo.sky[auto] = self.controls.matte(photo.image, auto)
            except CinescapeError as exc:  # e.g. the sky matte's runtime is missing on this machine
                raise WebError(f"the {auto} mask is not available here: {exc}", status=422) from None
        return photo.mattes[auto]

    def shown_matte(self, photo: Photo, auto: str) -> np.ndarray:
        """:meth:`auto_matte` at display size as the page shows it: (h, w) uint8, 255 = moves."""
        auto = self.controls.canonical_auto(auto)
        if auto not in photo.shown_mattes:
            matte = self.auto_matte(photo, auto)
            display_height, display_width = photo.display_size
            if matte is None:
                shown = np.full((display_height, display_width), 255, np.uint8)
            else:
                small = cv2.resize(matte, (display_width, display_height), interpolation=cv2.INTER_AREA)
                shown = np.clip(small * 255 + 0.5, 0, 255).astype(np.uint8)
            photo.shown_mattes[auto] = shown
        return photo.shown_mattes[auto]

    def mask_png(self, photo: Photo, auto: str) -> bytes:
        """:meth:`shown_matte` as a greyscale PNG (and :meth:`plan_preview_ahead` of it: the page shows it next)."""
        buffer = io.BytesIO()
        Image.fromarray(self.shown_matte(photo, auto), mode="L").save(buffer, format="PNG")
        self.plan_preview_ahead(photo, auto)
        return buffer.getvalue()

    def plan_preview_ahead(self, photo: Photo, auto: str) -> None:
        """Have the worker plan, when it has nothing queued, the preview the page asks for when its settings are
        untouched and its mask is ``auto``'s unpainted (into :attr:`plans`: the preview then starts with its first
        frame). Only the latest such request is kept; nothing for pages that keep no plans."""
        if not (self.limits.plan_ahead and self.controls.reuses_plans):
            return
        with self._lock:
            if not self._closed.is_set():
                self._previews_ahead.append((photo, auto))
                self._wake.notify()

    def render_mask(self, photo: Photo, auto: str, painted: np.ndarray | None) -> np.ndarray | None:
        """The full-resolution motion mask of a render: what the page showed is what moves.

        ``auto``: the automatic mask the page started from (``"none"``: none); ``painted``: the page's mask after
        the brushes, (h, w) float in [0, 1], or None when it was not painted. Unpainted, the automatic matte itself.
        Painted over an automatic mask, the strokes are applied to the full-resolution matte as the page applied
        them to its copy: where the page's value went up from ``shown`` towards 1 (the move brush), the matte goes
        the same fraction of its own way to 1; where it went down towards 0 (the freeze brush), likewise to 0. So
        a stroke moves or freezes exactly what it covered, and where no brush went the matte keeps its full
        resolution (the page's copy is at most 1024 px wide). Painted from nothing (``auto="none"``), the painted
        mask as it is. None: everything moves.
        """
        matte = None if auto == "none" else self.auto_matte(photo, auto)
        if painted is None:
            return matte
        if auto == "none":
            return painted
        shown = self.shown_matte(photo, auto)
        height, width = shown.shape
        if painted.shape != shown.shape:  # an API client's mask of another size (same aspect ratio)
            painted = cv2.resize(painted, (width, height), interpolation=cv2.INTER_LINEAR)
        before = shown.astype(np.float32) / 255
        after = painted.astype(np.float32)
        # The fraction of the way to 1 (moved) and to 0 (frozen) each page pixel went; 0 where unpainted.
        with np.errstate(divide="ignore", invalid="ignore"):
            moved = np.where(after > before, (after - before) / (1 - before), 0).astype(np.float32)
            frozen = np.where(after < before, (before - after) / before, 0).astype(np.float32)
        # A page pixel at 1 that stays 1 has no fraction of its own (its full-resolution matte is 1 already): it
        # takes its painted neighbours', so that the upsampled fraction does not fall off across it, half-way
        # through a stroke's edge (likewise at 0 for the freeze brush).
        neighbourhood = np.ones((3, 3), np.uint8)
        moved = np.where((shown == 255) & (after >= 1), cv2.dilate(moved, neighbourhood), moved)
        frozen = np.where((shown == 0) & (after <= 0), cv2.dilate(frozen, neighbourhood), frozen)
        full_height, full_width = photo.size
        if matte is None:
            matte = np.ones((full_height, full_width), np.float32)
        if moved.shape != matte.shape:
            moved = cv2.resize(moved, (full_width, full_height), interpolation=cv2.INTER_LINEAR)
            frozen = cv2.resize(frozen, (full_width, full_height), interpolation=cv2.INTER_LINEAR)
        return np.clip(matte + moved * (1 - matte) - frozen * matte, 0.0, 1.0)

    # ------------------------------------------------------------------------------------------ renders

    def submit(self, photo: Photo, request: RenderRequest) -> Render:
        """Queue a render of ``photo``; :class:`~cinescape.web.errors.Busy` (429) when the queue is full."""
        with self._lock:
            if self._closed.is_set():
                raise WebError("the server is shutting down", status=503)
            if photo.id not in self._photos:
                raise NotFound(f"unknown photo id {_show_id(photo.id)} (expired: upload the photo again)")
            if len(self._queue) >= self.limits.max_queue:
                ahead = len(self._queue) + (self._running is not None)
                raise Busy(f"busy: {ahead} renders ahead of yours; try again when one has finished", ahead=ahead)
            render = Render(id=secrets.token_hex(8), photo=photo, request=request, created=self.clock())
            self._renders[render.id] = render
            photo.renders.append(render.id)
            photo.last_used = render.created
            self._queue.append(render)
            self._wake.notify()
        return render

    def render(self, render_id: str) -> Render:
        with self._lock:
            render = self._renders.get(render_id)
            if render is None:
                raise NotFound(f"unknown render id {_show_id(render_id)} (expired, or the server restarted)")
            render.photo.last_used = self.clock()
            return render

    def cancel(self, render: Render) -> None:
        """Cancel a queued render at once, or ask the running one to stop before its next frame (or, while
        DeepLandscape inverts the photo, its next inversion step)."""
        with self._lock:
            if render.state == "queued":
                self._queue.remove(render)
                self._finish(render, "cancelled")
            elif render.state == "running":
                render.cancel_requested.set()
            else:
                ended = "finished" if render.state == "done" else render.state
                raise Conflict(f"render {render.id} has already {ended}")

    def status(self, render: Render) -> dict:
        """What the page shows: state, phase, progress, queue position, error, and the files once done."""
        with self._lock:
            ahead = 0
            if render.state == "queued":
                ahead = self._queue.index(render) + (self._running is not None)
            request = render.request
            now = self.clock()
            status = {
                "id": render.id, "photo_id": render.photo.id, "preview": request.preview, "state": render.state,
                "phase": render.phase, "frames_done": render.frames_done, "frames_total": render.frames_total,
                "steps_done": render.steps_done, "steps_total": render.steps_total,
                "reused_inversion": render.reused_inversion, "reused_plan": render.reused_plan,
                "ahead": ahead, "error": render.error, "format": request.format,
                "cancelling": render.cancel_requested.is_set() and render.state == "running",
                "seconds": None if render.started is None else round((render.finished or now) - render.started, 3),
                "video_url": None, "flow_url": None, "regions": render.regions,
            }
            if render.state == "done":
                status["video_url"] = f"/api/renders/{render.id}/video"
                if render.flow_video is not None:
                    status["flow_url"] = f"/api/renders/{render.id}/flow"
            return status

    def output(self, render: Render, kind: str) -> tuple[Path, str, str]:
        """``(path, media type, download name)`` of a finished render's ``"video"`` or ``"flow"``."""
        if render.state != "done":
            raise Conflict(f"render {render.id} is {render.state}: its video is offered once it has finished")
        path = render.video if kind == "video" else render.flow_video
        if path is None:
            raise NotFound(f"render {render.id} has no flow video (ask for one with \"flow\": true)")
        if not path.is_file():
            raise NotFound(f"render {render.id}'s files have expired")
        suffix = ("-preview" if render.request.preview else "") + ("-flow" if kind == "flow" else "")
        return path, MEDIA_TYPES[path.suffix[1:]], f"{render.photo.name}{suffix}{path.suffix}"

    # ------------------------------------------------------------------------------------------ the worker

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._previews_ahead and not self._closed.is_set():
                    self._wake.wait()
                if self._closed.is_set():
                    return
                render = self._queue.popleft() if self._queue else None
                if render is None:   # nothing queued: a preview the page will likely ask for
                    ahead = self._previews_ahead.popleft()
                else:
                    render.state, render.phase, render.started = "running", "planning", self.clock()
                    self._running = render
            if render is None:
                self._plan_default_preview(*ahead)
                continue
            state, error = "done", None
            try:
                self._run(render)
            except RenderCancelled:
                state = "cancelled"
            except (CinescapeError, WebError) as exc:   # a setting the pipeline refuses, a mask it cannot compute
                state, error = "failed", str(exc).replace(str(self.root), "<server>")
            except Exception as exc:  # a bug: the page gets one line, the server's log the traceback
                log.exception("render %s failed", render.id)
                state, error = "failed", f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
            if state != "done":
                shutil.rmtree(render.photo.folder / f"render-{render.id}", ignore_errors=True)
            with self._lock:
                self._running = None
                self._finish(render, state, error)
                render.photo.last_used = self.clock()
                ahead = state == "done" and render.request.preview and not self._queue
            if ahead and self.limits.plan_ahead and self.controls.reuses_plans:
                self._plan_ahead(render)

    def _run(self, render: Render) -> None:
        """Plan and write one render; its files appear (renamed from temporary names) only when complete."""
        request = render.request
        folder = render.photo.folder / f"render-{render.id}"
        folder.mkdir()
        stem = render.photo.name + ("-preview" if request.preview else "")
        video_path = folder / f"{stem}.{request.format}"
        flow_path = folder / f"{stem}-flow.mp4" if request.flow else None
        self.check_cancelled(render)

        planned = []

        def plan():
            if self.controls.reuses_plans:
                animation, render.reused_plan = self._kept_plan(render, image.shape[0] * image.shape[1])
            else:
                animation = self.controls.plan(self, render)
            planned.append(animation)
            render.frames_total = animation.num_frames * (2 if request.flow else 1)
            render.phase = "rendering"
            return animation

        def on_frame(phase: str) -> None:
            self.check_cancelled(render)
            render.phase = phase
            render.frames_done += phase != "finishing"

        # The size and frame rate are known before planning (the preview's copy of the photo, or the photo).
        image, _, fps = self.controls.preview_inputs(request, render.photo.image, self.render_limits)
        try:
            write_animation(self.pipeline, image, None, video_path, fps=fps, flow_video=flow_path, plan=plan,
                            on_frame=on_frame, draft=request.preview)   # a preview is a quick look: encoded fast
        finally:   # a kept plan holds what it needs to render again, not its per-frame caches
            release = getattr(planned[0], "release_frame_caches", None) if planned else None
            if release is not None:
                release()
        render.video, render.flow_video = video_path, flow_path

    def _kept_plan(self, render: Render, pixels: int) -> tuple[object, bool]:
        """``(animation, reused)``: ``render``'s plan from :attr:`plans`, or planned (and kept there); its
        ``regions`` are set either way. ``pixels``: the planned image's."""
        (animation, render.regions), reused = self.plans.get_or_plan(
            self.plan_key(render.photo, render.request), lambda: (self.controls.plan(self, render), render.regions),
            pixels=pixels)
        return animation, reused

    def _plan_ahead(self, preview: Render) -> None:
        """Plan the full render of ``preview``'s settings into :attr:`plans` (the page's likely next request); any
        failure is only logged: the render, if asked, plans (and reports) it again."""
        request = replace(preview.request, preview=False)
        photo = preview.photo
        if photo.image.shape[0] * photo.image.shape[1] > self.plans.max_pixels:
            return   # its plan would not be kept: planning it now would only take the time (and memory) twice
        try:
            self._kept_plan(Render(id="ahead", photo=photo, request=request, created=self.clock()),
                            photo.image.shape[0] * photo.image.shape[1])
        except Exception:
            log.debug("planning ahead of a render of photo %s failed", photo.id, exc_info=True)
        with self._lock:
            if photo.id not in self._photos:   # deleted meanwhile: its plans go with it
                self.plans.forget(lambda key: key[0] == photo.id)

    def _plan_default_preview(self, photo: Photo, auto: str) -> None:
        """Plan the preview an untouched page asks for with ``auto``'s unpainted mask into :attr:`plans` (the
        request :meth:`parse_request` makes of the page's defaults); failures are only logged, as for
        :meth:`_plan_ahead`."""
        try:
            request = self.parse_request({"settings": {"preview": True, "auto_mask": auto}, "mask": None}, photo)
            image = self.controls.preview_inputs(request, photo.image, self.render_limits)[0]
            if image.shape[0] * image.shape[1] <= self.plans.max_pixels:
                self._kept_plan(Render(id="ahead", photo=photo, request=request, created=self.clock()),
                                image.shape[0] * image.shape[1])
        except Exception:
            log.debug("planning ahead of a preview of photo %s failed", photo.id, exc_info=True)
        with self._lock:
            if photo.id not in self._photos:   # deleted meanwhile: its plans go with it
                self.plans.forget(lambda key: key[0] == photo.id)

    @staticmethod
    def plan_key(photo: Photo, request: RenderRequest) -> tuple[str, str]:
        """What a plan of ``request`` for ``photo`` depends on: the photo, and the request but for its format and
        flow video (:class:`~cinescape.web.plans.PlanCache`'s key)."""
        return photo.id, settings_digest((request.preview, request.seconds, request.fps, request.settings,
                                          request.arrows))

    @staticmethod
    def check_cancelled(render: Render) -> None:
        """Raise :class:`RenderCancelled` when ``render`` was asked to stop (between frames or inversion steps)."""
        if render.cancel_requested.is_set():
            raise RenderCancelled

    def _finish(self, render: Render, state: str, error: str | None = None) -> None:
        """Mark a render finished and tell its listeners (call with ``self._lock`` held)."""
        render.state, render.phase, render.error = state, state, error
        render.finished = self.clock()
        for listener in render.finish_listeners:
            try:
                listener()
            except Exception:  # e.g. the stream's event loop has closed: that page is gone
                log.debug("a finish listener of render %s failed", render.id, exc_info=True)

    def on_finish(self, render: Render, listener) -> None:
        """Call ``listener()`` once ``render`` has ended (at once when it already has); ``listener`` must be quick
        and thread-safe (e.g. ``loop.call_soon_threadsafe(event.set)``)."""
        with self._lock:
            if render.state in TERMINAL_STATES:
                listener()
            elif len(render.finish_listeners) < MAX_FINISH_LISTENERS:   # bounded: one per open event stream
                render.finish_listeners.append(listener)

    def remove_finish_listener(self, render: Render, listener) -> None:
        with self._lock:
            if listener in render.finish_listeners:
                render.finish_listeners.remove(listener)

    # ------------------------------------------------------------------------------------------ cleanup

    def _busy(self, photo: Photo) -> bool:
        """Whether a render of ``photo`` is queued or running (call with ``self._lock`` held)."""
        return any(self._renders[r].state in ("queued", "running") for r in photo.renders if r in self._renders)

    def _forget(self, photo: Photo) -> None:
        """Drop a photo and its renders and delete its folder (call with ``self._lock`` held). A render of it that
        is running is asked to stop; its writer then deletes its temporary files."""
        self._photos.pop(photo.id, None)
        self.plans.forget(lambda key: key[0] == photo.id)
        for render_id in photo.renders:
            render = self._renders.pop(render_id, None)
            if render is None:
                continue
            if render.state == "queued":
                self._queue.remove(render)
                self._finish(render, "cancelled")
            elif render.state == "running":
                render.cancel_requested.set()
        shutil.rmtree(photo.folder, ignore_errors=True)

    def sweep(self, now: float | None = None) -> list[str]:
        """Delete the photos (and their renders) unused for :attr:`ServiceLimits.photo_ttl_s`; their ids."""
        now = self.clock() if now is None else now
        with self._lock:
            expired = [p for p in self._photos.values()
                       if now - p.last_used > self.limits.photo_ttl_s and not self._busy(p)]
            for photo in expired:
                self._forget(photo)
        return [photo.id for photo in expired]

    def _sweep_periodically(self) -> None:
        while not self._closed.wait(self.limits.sweep_interval_s):
            try:
                self.sweep()
            except Exception:  # never let the janitor die of one bad folder
                log.exception("sweep failed")

    @property
    def closing(self) -> bool:
        """Whether :meth:`stop` (or :meth:`close`) was called: event streams end, uploads are refused."""
        return self._closed.is_set()

    def stop(self) -> None:
        """Begin shutting down: refuse new work, cancel what is queued, ask the running render to stop."""
        with self._lock:
            self._closed.set()
            while self._queue:
                self._finish(self._queue.popleft(), "cancelled")
            if self._running is not None:
                self._running.cancel_requested.set()
            self._wake.notify_all()

    def close(self, timeout: float = 10.0) -> None:
        """Shut down: :meth:`stop`, wait for the worker (it stops before its next frame or inversion step), delete
        every file."""
        self.stop()
        self._worker.join(timeout)
        self._janitor.join(timeout)
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def queue_length(self) -> int:
        """Renders queued or running."""
        with self._lock:
            return len(self._queue) + (self._running is not None)


def _safe_stem(name: str | None) -> str:
    """A download name from the upload's file name: its stem, letters, digits, ``-`` and ``_`` only."""
    stem = Path(name or "").stem if name else ""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:60]
    return f"cinescape-{stem}" if stem else "cinescape"


def _show_id(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


__all__ = ["Photo", "Render", "RenderService", "ServiceLimits", "TERMINAL_STATES"]
