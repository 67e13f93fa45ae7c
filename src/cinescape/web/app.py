"""The HTTP interface of ``cinescape serve`` (FastAPI): the page, its static files and a small JSON API.

=====================================================  ==============================================================
``GET /``                                              the page (``static/index.html``; JS and CSS under ``/static``)
``GET /api/info``                                      the method, and the defaults, choices and limits the page
                                                       builds its form from
``POST /api/photos?name=FILE``                         body: the photo file's bytes -> 201 ``{id, width, height, ...}``
``GET /api/photos/{id}``                               that description again
``GET /api/photos/{id}/image``                         the photo at display size (JPEG, long side <= 1024 px)
``GET /api/photos/{id}/mask?auto=default|none|sky|sky+water``  the motion mask the pipeline would use, at display
                                                       size (greyscale PNG, white moves; DeepLandscape: no ``sky``)
``GET /api/photos/{id}/regions?auto=...``              the moving regions the plan moves by kind (AL): a label
                                                       map PNG at working size and each region's id, kind, a point
                                                       inside it (:func:`cinescape.web.kinds.describe_regions`)
``POST /api/photos/{id}/regions``                      the same for a painted mask: ``{"auto": ..., "mask": PNG
                                                       data URL | null}``
``DELETE /api/photos/{id}``                            forget the photo, delete its files
``POST /api/photos/{id}/renders``                      body: ``{"settings": {...}, "mask": PNG data URL | null}``
                                                       (:mod:`cinescape.web.forms`) -> 202, the render's status
``GET /api/renders/{id}``                              status: state, phase, frames (and DeepLandscape's
                                                       inversion steps) done / total, queue position
``GET /api/renders/{id}/events``                       the same as server-sent events, until the render ends
``DELETE /api/renders/{id}``                           cancel (a running render stops before its next frame, or
                                                       DeepLandscape's next inversion step) -> 202
``GET /api/renders/{id}/video``, ``.../flow``          the finished video (``?download=1``: as an attachment)
=====================================================  ==============================================================

Every refused request is a 4xx answer ``{"error": "one line"}`` (400 bad input, 404 unknown id or route, 409 not
finished yet, 413 too large, 429 queue full, with ``"ahead"``); an unexpected failure is a 500 with one line too,
never a traceback page.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..version import __version__
from ..methods.select import method_label as method_name
from . import kinds
from .errors import BadRequest, TooLarge, WebError
from .forms import ARROW_MODES, FORMATS, LOOPS, MODES, TIME_OF_DAY_PRESETS, RenderLimits, parse_mask
from .service import TERMINAL_STATES, RenderService, ServiceLimits

STATIC_DIR = Path(__file__).parent / "static"
MAX_REQUEST_JSON = 12_000_000   # a render request: settings plus the base64 mask (RenderLimits.max_mask_bytes)
EVENT_INTERVAL_S = 0.2          # how often an event stream looks at its render
KEEP_ALIVE_S = 15.0             # a comment line this often, so proxies and browsers keep a quiet stream open

# The page loads nothing from elsewhere: the browser is told so, and refuses it even if a file asked.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                           "style-src 'self'; script-src 'self'; connect-src 'self'; font-src 'none'; "
                           "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def _error(status: int, message: str, headers: dict | None = None, **extra) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split()), **extra}, status_code=status, headers=headers)


class _LocalPageMiddleware:
    """Adds the page's security headers to every answer and, when ``trusted_hosts`` is given, refuses requests
    whose ``Host`` is another name (a web page elsewhere that resolves its own name to 127.0.0.1 -- DNS
    rebinding -- must not drive a local server). Plain ASGI, so event streams pass through untouched."""

    def __init__(self, app, trusted_hosts: set[str] | None):
        self.app = app
        self.trusted_hosts = trusted_hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.trusted_hosts is not None:
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
            name = host.split("]")[0] + "]" if host.startswith("[") else host.rsplit(":", 1)[0]
            if name not in self.trusted_hosts:
                return await _error(400, f"unexpected Host {host!r}: open the address cinescape serve printed")(
                    scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _read_body(request: Request, limit: int, what: str) -> bytes:
    """The request body, refused (413) past ``limit`` bytes: by its Content-Length before reading, and while
    reading (a chunked upload has none)."""
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise BadRequest(f"bad Content-Length {length!r}")
        if int(length) > limit:
            raise TooLarge(f"{what} is {int(length) / 1e6:.1f} MB, over the limit of {limit / 1e6:g} MB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"{what} is over the limit of {limit / 1e6:g} MB")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(pipeline=None, *, root: str | Path | None = None, limits: ServiceLimits = ServiceLimits(),
               render_limits: RenderLimits = RenderLimits(), trusted_hosts: set[str] | None = None,
               service: RenderService | None = None) -> FastAPI:
    """The web app around ``pipeline`` (an AL, FGLA or DeepLandscape pipeline; default: the shipped AL model,
    loaded now). Its :class:`~cinescape.web.service.RenderService` (``app.state.service``) starts its worker
    thread at once and is closed, files deleted, when the app shuts down (the lifespan's end; with
    ``TestClient`` that is leaving its ``with`` block). ``root``: where its temporary folder goes.
    ``trusted_hosts``: the only ``Host`` names answered (``serve`` passes its own on a loopback address)."""
    if service is None:
        if pipeline is None:
            from ..methods import load_pipeline

            pipeline = load_pipeline()
        service = RenderService(pipeline, root=root, limits=limits, render_limits=render_limits)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await run_in_threadpool(service.close)

    app = FastAPI(title="cinescape", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.service = service
    app.add_middleware(_LocalPageMiddleware, trusted_hosts=trusted_hosts)

    # ---------------------------------------------------------------------------------- errors: one line each

    @app.exception_handler(WebError)
    async def web_error(request: Request, exc: WebError):
        headers = {"Retry-After": "5"} if exc.status == 429 else None
        return _error(exc.status, str(exc), headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return _error(exc.status_code, f"{detail}: {request.method} {request.url.path}", exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return _error(400, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        return _error(500, f"internal error: {type(exc).__name__}: {str(exc)[:200]}")

    # ---------------------------------------------------------------------------------- the page

    index_html = (STATIC_DIR / "index.html").read_bytes()

    @app.get("/", include_in_schema=False)
    async def index():
        return Response(index_html, media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/api/info")
    async def info():
        limits, render = service.limits, service.render_limits
        return {
            "version": __version__,
            "method": method_name(service.pipeline),
            "controls": service.kind,   # which of the page's control sets applies (cinescape.web.pages)
            "default_auto_mask": service.default_auto_mask,
            "defaults": service.controls.defaults,
            "choices": {"mode": MODES, "loop": LOOPS, "format": FORMATS, "arrows_mode": ARROW_MODES,
                        "auto_mask": service.auto_mask_choices, "time_of_day": TIME_OF_DAY_PRESETS},
            "limits": {"max_upload_bytes": limits.max_upload_bytes, "max_photo_pixels": limits.max_photo_pixels,
                       "min_seconds": render.min_seconds, "max_seconds": render.max_seconds,
                       "max_fps": render.max_fps, "max_frames": render.max_frames,
                       "max_motion_speed": render.max_motion_speed, "max_queue": limits.max_queue,
                       "preview_short_side": render.preview_short_side, "preview_fps": render.preview_fps,
                       "photo_ttl_s": limits.photo_ttl_s, "max_kinds": kinds.MAX_WEB_KINDS},
            "queue": service.queue_length,
            "kinds": list(kinds.KINDS) if kinds.offers_kinds(service.pipeline) else [],   # [] : no region kinds
            "directed_kinds": list(kinds.DIRECTED_KINDS),   # the kinds whose motion a dragged direction steers
        }

    # ---------------------------------------------------------------------------------- photos

    @app.post("/api/photos", status_code=201)
    async def upload_photo(request: Request, name: str | None = None):
        data = await _read_body(request, service.limits.max_upload_bytes, "the photo file")
        photo = await run_in_threadpool(service.add_photo, data, name)
        return photo.describe()

    @app.get("/api/photos/{photo_id}")
    async def photo_info(photo_id: str):
        return service.photo(photo_id).describe()

    @app.delete("/api/photos/{photo_id}")
    async def delete_photo(photo_id: str):
        await run_in_threadpool(service.delete_photo, photo_id)
        return {"deleted": photo_id}

    @app.get("/api/photos/{photo_id}/image")
    async def photo_image(photo_id: str):
        return Response(service.photo(photo_id).display, media_type="image/jpeg")

    @app.get("/api/photos/{photo_id}/mask")
    async def photo_mask(photo_id: str, auto: str = "default"):
        photo = service.photo(photo_id)
        png = await run_in_threadpool(service.mask_png, photo, auto)
        return Response(png, media_type="image/png")

    async def _regions(photo_id: str, auto: str, mask) -> dict:
        photo = service.photo(photo_id)
        if not kinds.offers_kinds(service.pipeline):   # a capability of the pipeline, not its method's name
            raise BadRequest(f"this server's method ({method_name(service.pipeline)}) has no region kinds")
        if auto not in service.auto_mask_choices:
            raise BadRequest(f"auto must be one of {', '.join(service.auto_mask_choices)}, got {auto!r}")
        painted = parse_mask(mask, photo.size, service.render_limits)
        found = await run_in_threadpool(service.regions, photo, auto, painted)
        return kinds.describe_regions(found)

    @app.get("/api/photos/{photo_id}/regions")
    async def photo_regions(photo_id: str, auto: str = "default"):
        return await _regions(photo_id, auto, None)

    @app.post("/api/photos/{photo_id}/regions")
    async def painted_regions(photo_id: str, request: Request):
        body = await _read_body(request, MAX_REQUEST_JSON, "the regions request")
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadRequest("the request is not valid JSON") from None
        if not isinstance(payload, dict) or set(payload) - {"auto", "mask"}:
            raise BadRequest('the request must be a JSON object {"auto": "default", "mask": PNG data URL | null}')
        auto = payload.get("auto", "default")
        if not isinstance(auto, str):
            raise BadRequest(f"auto must be one of {', '.join(service.auto_mask_choices)}")
        return await _regions(photo_id, auto, payload.get("mask"))

    # ---------------------------------------------------------------------------------- renders

    @app.post("/api/photos/{photo_id}/renders", status_code=202)
    async def submit_render(photo_id: str, request: Request):
        photo = service.photo(photo_id)
        body = await _read_body(request, MAX_REQUEST_JSON, "the render request")
        try:
            payload = json.loads(body)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"the request is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
                             ) from None
        except UnicodeDecodeError:
            raise BadRequest("the request is not valid JSON (not UTF-8 text)") from None
        render_request = await run_in_threadpool(service.parse_request, payload, photo)
        render = service.submit(photo, render_request)
        return JSONResponse(service.status(render), status_code=202)

    @app.get("/api/renders/{render_id}")
    async def render_status(render_id: str):
        return service.status(service.render(render_id))

    @app.delete("/api/renders/{render_id}")
    async def cancel_render(render_id: str):
        render = service.render(render_id)
        service.cancel(render)
        return JSONResponse(service.status(render), status_code=202)

    @app.get("/api/renders/{render_id}/events")
    async def render_events(render_id: str, request: Request):
        render = service.render(render_id)

        async def events():
            # The worker ends the render in its thread; this wakes the stream at once (the page learns of "done"
            # within milliseconds, not up to EVENT_INTERVAL_S later). Progress is still read every interval.
            loop, ended = asyncio.get_running_loop(), asyncio.Event()

            def wake():
                loop.call_soon_threadsafe(ended.set)
            service.on_finish(render, wake)
            try:
                async for message in stream(ended):
                    yield message
            finally:
                service.remove_finish_listener(render, wake)

        async def stream(ended: asyncio.Event):
            last, quiet = None, 0.0
            while True:
                status = service.status(render)
                changed = {**status, "seconds": None}  # the clock alone is no news
                if changed != last:
                    yield f"data: {json.dumps(status)}\n\n"
                    last, quiet = changed, 0.0
                elif quiet >= KEEP_ALIVE_S:
                    yield ": keep-alive\n\n"
                    quiet = 0.0
                if status["state"] in TERMINAL_STATES or service.closing or await request.is_disconnected():
                    return
                try:
                    await asyncio.wait_for(ended.wait(), EVENT_INTERVAL_S)
                except asyncio.TimeoutError:
                    pass
                quiet += EVENT_INTERVAL_S

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def _file(render_id: str, kind: str, download: bool) -> FileResponse:
        path, media_type, name = service.output(service.render(render_id), kind)
        return FileResponse(path, media_type=media_type, filename=name,
                            content_disposition_type="attachment" if download else "inline")

    @app.get("/api/renders/{render_id}/video")
    async def render_video(render_id: str, download: bool = False):
        return _file(render_id, "video", download)

    @app.get("/api/renders/{render_id}/flow")
    async def render_flow(render_id: str, download: bool = False):
        return _file(render_id, "flow", download)

    return app


__all__ = ["create_app", "CONTENT_SECURITY_POLICY", "STATIC_DIR"]
