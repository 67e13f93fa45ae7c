"""`cinescape serve`'s API in-process (FastAPI's TestClient) with the tiny random pipeline: every route, and every
kind of bad request answered with a one-line 4xx JSON message. The real browser test is tests/test_web_browser.py."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import warnings
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install -e \".[web]\"")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

with warnings.catch_warnings():   # Starlette may warn that its TestClient prefers another HTTP client
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from cinescape.methods.al.settings import AnimationSettings  # noqa: E402
from cinescape.io.video import read_video_frames  # noqa: E402
from cinescape.web import create_app  # noqa: E402
from cinescape.web.forms import RenderLimits, parse_render_request, preview_inputs  # noqa: E402
from cinescape.web.pages import DeepLandscapeControls  # noqa: E402
from test_deeplandscape import _tiny_pipeline as tiny_deeplandscape_pipeline  # noqa: E402
from cinescape.web.service import ServiceLimits  # noqa: E402

# Starlette's TestClient may warn that it prefers another HTTP client; that is no concern of these tests.
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "synthetic_landscape.png"
TERMINAL = ("done", "failed", "cancelled")


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(array: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(array)).decode()


def textured_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture, so that motion shows in frame differences and optical flow."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (max(2, height // 12), max(2, width // 12), 3), dtype=np.uint8)
    return cv2.resize(base, (width, height), interpolation=cv2.INTER_CUBIC)


def assert_one_line_error(response, status: int, *fragments: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    assert isinstance(message, str) and message and "\n" not in message and "Traceback" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def wait_for(client: TestClient, render_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/renders/{render_id}").json()
        if status["state"] in TERMINAL:
            return status
        time.sleep(0.05)
    raise AssertionError(f"render {render_id} did not finish in {timeout} s")


@pytest.fixture
def client(tiny_pipeline, tmp_path):
    app = create_app(tiny_pipeline, root=tmp_path)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def photo_id(client):
    response = client.post("/api/photos?name=my photo.png", content=EXAMPLE.read_bytes())
    assert response.status_code == 201, response.text
    return response.json()["id"]


def submit(client, photo_id, settings=None, mask=None):
    return client.post(f"/api/photos/{photo_id}/renders", json={"settings": settings or {}, "mask": mask})


# ------------------------------------------------------------------------------------------ the page


def test_page_and_assets_are_served_and_load_nothing_from_elsewhere(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    for asset, kind in (("/static/app.js", "javascript"), ("/static/style.css", "text/css")):
        response = client.get(asset)
        assert response.status_code == 200 and kind in response.headers["content-type"]
    # No CDN, no web font, no absolute URL in any shipped file: the page works with the network off.
    static = Path(__file__).resolve().parents[1] / "src" / "cinescape" / "web" / "static"
    for path in static.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://|//cdn|@import|@font-face|url\(\s*['\"]?(http|//)", text), path.name
        for reference in re.findall(r'(?:src|href)="(/[^"]*)"', text):
            assert client.get(reference).status_code == 200, reference


def test_info_gives_the_forms_defaults_choices_and_limits(client):
    info = client.get("/api/info").json()
    assert info["defaults"]["mode"] == "eulerian"
    assert info["defaults"]["appearance_stride"] == AnimationSettings.appearance_stride == 1   # the CLI's video
    assert info["default_auto_mask"] == "none"   # the tiny pipeline recommends no mask
    assert "crossfade" in info["choices"]["loop"] and info["choices"]["format"] == ["mp4", "webm", "gif"]
    assert info["limits"]["max_frames"] == RenderLimits().max_frames and info["queue"] == 0


# ------------------------------------------------------------------------------------------ photos


def test_upload_returns_the_photo_its_display_copy_and_its_mask(client):
    photo = textured_photo(600, 1200)
    response = client.post("/api/photos?name=../../etc/x y.png", content=png_bytes(photo))
    assert response.status_code == 201, response.text
    described = response.json()
    assert (described["width"], described["height"]) == (1200, 600)
    assert (described["display_width"], described["display_height"]) == (1024, 512)
    assert described["name"] == "cinescape-x-y"   # a safe download name, whatever the upload was called
    assert client.get(f"/api/photos/{described['id']}").json() == described

    image = client.get(described["image_url"])
    assert image.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(image.content)).size == (1024, 512)

    mask = client.get(described["mask_url"])   # the tiny pipeline has no default mask: everything moves
    assert mask.headers["content-type"] == "image/png"
    mask_image = Image.open(io.BytesIO(mask.content))
    assert mask_image.size == (1024, 512) and mask_image.mode == "L"
    assert np.asarray(mask_image).min() == 255


def test_sky_mask_is_the_pipelines_own(client, tiny_pipeline, photo_id):
    from cinescape.methods.al.pipeline import AnimationSettings

    response = client.get(f"/api/photos/{photo_id}/mask?auto=sky")
    assert response.status_code == 200, response.text
    served = np.asarray(Image.open(io.BytesIO(response.content)), dtype=np.float32) / 255
    photo = np.asarray(Image.open(EXAMPLE).convert("RGB"))
    expected = tiny_pipeline.fluid_matte(photo, AnimationSettings(auto_mask="sky"))   # 512x288: display size
    assert served.shape == (288, 512) and np.abs(served - expected).max() <= 0.5 / 255 + 1e-6
    assert served[:60].mean() > 0.8 and served[265:].mean() < 0.2   # sky at the top, grass at the bottom


@pytest.mark.parametrize("body, status, fragment", [
    (b"", 400, "empty upload"),
    (b"this is not an image", 400, "not an image"),
    (png_bytes(textured_photo(200, 300))[:400], 400, "truncated"),
    (png_bytes(textured_photo(20, 300)), 400, "too small"),
], ids=["empty", "text", "truncated", "tiny"])
def test_bad_uploads_are_one_line_4xx(client, tmp_path, body, status, fragment):
    message = assert_one_line_error(client.post("/api/photos", content=body), status, fragment)
    assert str(tmp_path) not in message   # no server paths in messages


def test_uploads_over_the_limits_are_413(tiny_pipeline, tmp_path):
    limits = ServiceLimits(max_upload_bytes=50_000, max_photo_pixels=100_000)
    with TestClient(create_app(tiny_pipeline, root=tmp_path, limits=limits)) as client:
        big_file = png_bytes(np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8))
        assert_one_line_error(client.post("/api/photos", content=big_file), 413, "over the limit")
        many_pixels = png_bytes(np.zeros((400, 400, 3), np.uint8))   # small file, 0.16 megapixels
        assert_one_line_error(client.post("/api/photos", content=many_pixels), 413, "megapixels")


def test_unknown_ids_routes_and_methods_are_404_405_json(client, photo_id):
    assert_one_line_error(client.get("/api/photos/nope"), 404, "unknown photo id")
    assert_one_line_error(client.get("/api/photos/nope/mask"), 404, "unknown photo id")
    assert_one_line_error(submit(client, "nope"), 404, "unknown photo id")
    assert_one_line_error(client.get("/api/renders/nope"), 404, "unknown render id")
    assert_one_line_error(client.get("/api/renders/nope/video"), 404, "unknown render id")
    assert_one_line_error(client.delete("/api/renders/nope"), 404, "unknown render id")
    assert_one_line_error(client.get("/api/renders/nope/events"), 404, "unknown render id")
    assert_one_line_error(client.get("/no/such/route"), 404, "Not Found")
    assert_one_line_error(client.put("/api/photos"), 405, "Method Not Allowed")
    assert_one_line_error(client.get(f"/api/photos/{photo_id}/mask?auto=clouds"), 400, "auto must be one of")


def test_deleting_a_photo_removes_its_files(client, photo_id):
    service = client.app.state.service
    folder = service.photo(photo_id).folder
    assert folder.is_dir()
    assert client.delete(f"/api/photos/{photo_id}").json() == {"deleted": photo_id}
    assert not folder.exists()
    assert_one_line_error(client.get(f"/api/photos/{photo_id}"), 404)


def test_unused_photos_expire_and_shutdown_deletes_everything(tiny_pipeline, tmp_path):
    app = create_app(tiny_pipeline, root=tmp_path, limits=ServiceLimits(photo_ttl_s=100))
    with TestClient(app) as client:
        service = app.state.service
        old = client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]
        render = wait_for(client, submit(client, old, {"preview": True, "seconds": 0.5, "fps": 4}).json()["id"])
        assert render["state"] == "done"
        folder = service.photo(old).folder
        assert service.sweep(now=time.monotonic() + 50) == []          # used recently: kept
        assert service.sweep(now=time.monotonic() + 101) == [old]      # unused for the TTL: gone
        assert not folder.exists()
        assert_one_line_error(client.get(f"/api/photos/{old}"), 404, "expired")
        assert_one_line_error(client.get(f"/api/renders/{render['id']}/video"), 404)
        client.post("/api/photos", content=EXAMPLE.read_bytes())
        root = service.root
        assert any(root.iterdir())
    assert not root.exists()   # the app's shutdown deleted every upload and render


# ------------------------------------------------------------------------------------------ renders


def test_preview_is_small_short_and_moves_as_far_per_second(client):
    photo = textured_photo(450, 800)
    photo_id = client.post("/api/photos", content=png_bytes(photo)).json()["id"]
    response = submit(client, photo_id, {"preview": True, "seconds": 2, "fps": 20, "format": "gif", "flow": True,
                                         "arrows": [{"from": [400, 200], "to": [404, 200]}]})
    assert response.status_code == 202, response.text
    status = wait_for(client, response.json()["id"])
    assert status["state"] == "done" and status["format"] == "mp4"   # previews are MP4 whatever the format
    assert status["frames_total"] == 2 * 20   # 2 s at the preview's 10 fps, and as many flow frames
    video = client.get(status["video_url"])
    assert video.headers["content-type"] == "video/mp4"
    assert "preview" in video.headers["content-disposition"]
    frames = read_video_frames(_save(video.content, client, "preview.mp4"))
    assert len(frames) == 20 and frames[0].shape == (384, 682, 3)   # even sides: no padding in the MP4
    flow = client.get(status["flow_url"] + "?download=1")
    assert flow.status_code == 200 and flow.headers["content-disposition"].startswith("attachment")

    # The request's settings are those of the full render; the preview's are derived from them.
    request = parse_render_request({"settings": {"preview": True, "seconds": 2, "fps": 20, "motion_speed": 1.5,
                                                 "arrows": [{"from": [400, 200], "to": [404, 200]}]}}, (450, 800))
    image, settings, fps = preview_inputs(request, photo)
    assert image.shape == (384, 682, 3) and fps == 10 and settings.num_frames == 20
    assert settings.motion_speed == pytest.approx(3.0)   # each preview frame spans two frames of the render
    assert settings.arrows[0]["to"][0] - settings.arrows[0]["from"][0] == pytest.approx(4 * 682 / 800)


def _save(content: bytes, client, name: str) -> Path:
    path = client.app.state.service.root / name
    path.write_bytes(content)
    return path


def test_painted_mask_and_arrow_move_only_the_painted_half_along_the_arrow(client):
    photo = textured_photo(96, 160, seed=3)
    photo_id = client.post("/api/photos", content=png_bytes(photo)).json()["id"]
    mask = np.zeros((96, 160), np.uint8)
    mask[:, :80] = 255   # the left half moves
    settings = {"seconds": 1, "fps": 6, "loop": "none", "appearance": False, "auto_mask": "none", "format": "webm",
                "arrows": [{"from": [40, 48], "to": [43, 50]}], "arrows_mode": "direct"}
    response = submit(client, photo_id, settings, data_url(mask))
    status = wait_for(client, response.json()["id"])
    assert status["state"] == "done", status
    video = client.get(status["video_url"])
    assert video.headers["content-type"] == "video/webm"
    frames = np.stack(read_video_frames(_save(video.content, client, "loop.webm"))).astype(np.float32)
    assert frames.shape == (6, 96, 160, 3)
    change = np.abs(frames[1:] - frames[0]).mean(axis=(0, 3))
    assert change[:, 100:].mean() < 1.5 and change[8:-8, 8:60].mean() > 8   # frozen right, moving left
    # Content moves along the arrow (3, 2) px per frame: frame 2 matches the photo shifted by (6, 4).
    shifted = np.roll(frames[0], (4, 6), axis=(0, 1))
    assert np.abs(frames[2] - shifted)[16:80, 16:60].mean() < np.abs(frames[2] - frames[0])[16:80, 16:60].mean() / 3


def test_a_request_without_settings_takes_the_web_defaults(client, photo_id):
    response = submit(client, photo_id)
    assert response.status_code == 202, response.text
    status = wait_for(client, response.json()["id"])
    assert status["state"] == "done" and status["frames_total"] == 100 and status["flow_url"] is None


def _bad(settings=None, **payload):
    return {"settings": settings or {}, **payload}


@pytest.mark.parametrize("payload, status, fragment", [
    ([1, 2], 400, "JSON object"),
    (_bad(colour="red"), 400, 'unknown request field "colour"'),
    ({"settings": [1]}, 400, "settings must be a JSON object"),
    (_bad({"speed": 2}), 400, 'unknown setting "speed"'),
    (_bad({"direction": 90}), 400, 'setting "direction" is for deeplandscape only'),
    (_bad({"seconds": "five"}), 400, "seconds must be a number"),
    (_bad({"seconds": 100}), 400, "seconds must be between"),
    (_bad({"fps": 0}), 400, "fps must be between"),
    (_bad({"seconds": 30, "fps": 60}), 400, "frames"),
    (_bad({"motion_speed": -1}), 400, "motion_speed must be between"),
    (_bad({"motion_speed": float("nan")}), 400, "motion_speed must be a number"),
    (_bad({"mode": "lagrangian"}), 400, "mode must be one of"),
    (_bad({"loop": "pingpong"}), 400, "loop must be one of"),
    (_bad({"format": "avi"}), 400, "format must be one of"),
    (_bad({"format": "gif", "fps": 60}), 400, "GIF"),
    (_bad({"seed": 1.5}), 400, "seed must be a whole number"),
    (_bad({"seed": -1}), 400, "seed must be between"),
    (_bad({"appearance": "yes"}), 400, "appearance must be true or false"),
    (_bad({"appearance_stride": 0}), 400, "appearance_stride must be between"),
    (_bad({"time_of_day": "noonish"}), 400, "unknown time of day"),
    (_bad({"time_of_day": 3}), 400, "time_of_day must be"),
    (_bad({"auto_mask": "trees"}), 400, "auto_mask must be one of"),
    (_bad({"arrows": {"from": [1, 2]}}), 400, "JSON list"),
    (_bad({"arrows": [{"from": [1, 2], "to": [9000, 2]}]}), 400, "outside the 512x288 image"),
    (_bad({"arrows": [{"from": [1, 2], "to": [1, 2]}]}), 400, "zero length"),
    (_bad({"arrows": [{"from": [1, 2]}]}), 400, 'no "to" key'),
    (_bad({"arrows": [{"from": [10, 10], "to": [11, 10]}] * 10_000}), 400, "10000 arrows; at most 64"),
    (_bad({"arrows": [{"from": [0, 0], "to": [512, 288]}]}), 400, "arrow 0 is 587.4 px long; at most 512 px"),
    (_bad({"arrows_mode": "sideways"}), 400, "arrows_mode must be one of"),
    (_bad(mask=5), 400, "mask must be a PNG data URL"),
    (_bad(mask="data:image/png;base64,@@@"), 400, "not valid base64"),
    (_bad(mask="data:image/png;base64," + base64.b64encode(b"not a png").decode()), 400, "not a readable image"),
    (_bad(mask=data_url(np.zeros((288, 512), np.uint8))[:300]), 400, "not valid base64"),
    (_bad(mask="data:image/png;base64," + base64.b64encode(png_bytes(textured_photo(288, 512))[:500]).decode()),
     400, "truncated"),
    (_bad(mask=data_url(np.zeros((100, 100), np.uint8))), 400, "aspect ratio"),
])
def test_bad_render_requests_are_one_line_4xx(client, photo_id, payload, status, fragment):
    body = json.dumps(payload)   # NaN goes out as the token NaN, which Python's json reads back as a float
    response = client.post(f"/api/photos/{photo_id}/renders", content=body,
                           headers={"content-type": "application/json"})
    assert_one_line_error(response, status, fragment)
    assert client.get("/api/info").json()["queue"] == 0   # nothing was queued


def test_bad_json_and_oversized_requests(client, photo_id):
    url = f"/api/photos/{photo_id}/renders"
    assert_one_line_error(client.post(url, content=b"{not json"), 400, "not valid JSON", "line 1")
    assert_one_line_error(client.post(url, content=b"\xff\xfe"), 400, "not valid JSON")
    too_big = json.dumps({"settings": {}, "mask": "A" * 12_000_001})
    assert_one_line_error(client.post(url, content=too_big), 413, "over the limit")


def test_mask_over_its_own_limits_is_413(tiny_pipeline, tmp_path):
    limits = RenderLimits(max_mask_bytes=1000, max_mask_pixels=10_000)
    with TestClient(create_app(tiny_pipeline, root=tmp_path, render_limits=limits)) as client:
        photo_id = client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]
        noisy = np.random.default_rng(0).integers(0, 256, (90, 160), dtype=np.uint8)
        assert_one_line_error(submit(client, photo_id, mask=data_url(noisy)), 413, "mask: over")
        assert_one_line_error(submit(client, photo_id, mask=data_url(np.zeros((180, 320), np.uint8))), 413,
                              "megapixels")


class BlockingPipeline:
    """The tiny pipeline, but ``plan`` waits until ``release`` is set (so renders can be held running)."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.planning = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name):
        return getattr(self.pipeline, name)

    def plan(self, *args, **kwargs):
        self.planning.set()
        assert self.release.wait(30), "the test never released the pipeline"
        return self.pipeline.plan(*args, **kwargs)


def test_one_render_at_a_time_a_bounded_queue_and_cancelling(tiny_pipeline, tmp_path):
    pipeline = BlockingPipeline(tiny_pipeline)
    app = create_app(pipeline, root=tmp_path, limits=ServiceLimits(max_queue=2))
    with TestClient(app) as client:
        photo_id = client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]
        quick = {"preview": True, "seconds": 0.5, "fps": 4}
        running = submit(client, photo_id, quick).json()
        assert pipeline.planning.wait(10)
        first, second = submit(client, photo_id, quick).json(), submit(client, photo_id, quick).json()
        assert (first["state"], first["ahead"], second["ahead"]) == ("queued", 1, 2)
        busy = submit(client, photo_id, quick)
        assert assert_one_line_error(busy, 429, "busy: 3 renders ahead") and busy.json()["ahead"] == 3
        assert busy.headers["retry-after"]

        # A queued render is cancelled at once; the one behind it moves up.
        cancelled = client.delete(f"/api/renders/{first['id']}")
        assert cancelled.status_code == 202 and cancelled.json()["state"] == "cancelled"
        assert client.get(f"/api/renders/{second['id']}").json()["ahead"] == 1
        # The running one stops before its first frame; no file is offered for it.
        stopping = client.delete(f"/api/renders/{running['id']}").json()
        assert stopping["state"] == "running" and stopping["cancelling"]
        assert_one_line_error(client.get(f"/api/renders/{running['id']}/video"), 409, "is running")
        pipeline.release.set()
        assert wait_for(client, running["id"])["state"] == "cancelled"
        assert not (app.state.service.photo(photo_id).folder / f"render-{running['id']}").exists()
        assert_one_line_error(client.get(f"/api/renders/{running['id']}/video"), 409, "is cancelled")
        done = wait_for(client, second["id"])
        assert done["state"] == "done" and client.get(done["video_url"]).status_code == 200
        assert_one_line_error(client.get(f"/api/renders/{second['id']}/flow"), 404, "no flow video")
        assert_one_line_error(client.delete(f"/api/renders/{second['id']}"), 409, "already finished")


class RecordingPipeline:
    """The tiny pipeline, recording the automatic masks it computes and the settings it plans with."""

    def __init__(self, pipeline):
        self.pipeline, self.mattes, self.plans = pipeline, [], []

    def __getattr__(self, name):
        return getattr(self.pipeline, name)

    def fluid_matte(self, image, settings, **kwargs):
        self.mattes.append(settings.auto_mask)
        return self.pipeline.fluid_matte(image, settings, **kwargs)

    def plan(self, image, settings, **kwargs):
        self.plans.append(settings)
        return self.pipeline.plan(image, settings, **kwargs)


def test_renders_reuse_the_automatic_mask_the_page_was_shown(tiny_pipeline, tmp_path):
    """The automatic mask is segmented once per photo and choice: renders get it as their mask (auto_mask none)."""
    pipeline = RecordingPipeline(tiny_pipeline)
    with TestClient(create_app(pipeline, root=tmp_path)) as client:
        photo_id = client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]
        assert client.get(f"/api/photos/{photo_id}/mask?auto=sky").status_code == 200
        for preview in (True, False):
            render = submit(client, photo_id, {"preview": preview, "seconds": 0.5, "fps": 4, "auto_mask": "sky"})
            assert wait_for(client, render.json()["id"])["state"] == "done"
        assert pipeline.mattes == ["sky"]
        expected = client.app.state.service.photo(photo_id).mattes["sky"]
        assert expected.shape == (288, 512)
        assert all(settings.auto_mask == "none" and settings.mask is expected for settings in pipeline.plans)


def test_strokes_change_the_full_resolution_mask_only_where_painted(tiny_pipeline, tmp_path):
    """What the page shows is what moves: a mask painted over the automatic one replaces it, stroke by stroke, and
    where no brush went the full-resolution matte is kept (the page's copy is at most 1024 px wide)."""
    photo = cv2.resize(np.asarray(Image.open(EXAMPLE).convert("RGB")), (2048, 1152), interpolation=cv2.INTER_CUBIC)
    pipeline = RecordingPipeline(tiny_pipeline)
    with TestClient(create_app(pipeline, root=tmp_path)) as client:
        photo_id = client.post("/api/photos", content=png_bytes(photo)).json()["id"]
        shown = np.asarray(Image.open(io.BytesIO(client.get(f"/api/photos/{photo_id}/mask?auto=sky").content)))
        assert shown.shape == (576, 1024)
        painted = shown.copy()
        painted[450:540, 100:300] = 255   # the move brush on the grass
        painted[20:100, 600:800] = 0      # the freeze brush in the sky
        render = submit(client, photo_id, {"seconds": 0.5, "fps": 4, "auto_mask": "sky"}, data_url(painted))
        assert wait_for(client, render.json()["id"])["state"] == "done"
        matte = client.app.state.service.photo(photo_id).mattes["sky"]
    mask = pipeline.plans[-1].mask
    assert pipeline.plans[-1].auto_mask == "none" and mask.shape == (1152, 2048)
    assert np.array_equal(mask[:700, :1000], matte[:700, :1000])   # unpainted: the full-resolution matte itself
    assert mask[910:1070, 210:590].min() == 1.0 and mask[50:190, 1210:1590].max() == 0.0


def test_a_painted_mask_from_nothing_is_the_mask(tiny_pipeline, tmp_path):
    pipeline = RecordingPipeline(tiny_pipeline)
    with TestClient(create_app(pipeline, root=tmp_path)) as client:
        photo_id = client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]
        painted = np.zeros((144, 256), np.uint8)   # any size with the photo's aspect ratio
        painted[40:100, 50:200] = 255
        render = submit(client, photo_id, {"seconds": 0.5, "fps": 4, "auto_mask": "none"}, data_url(painted))
        assert wait_for(client, render.json()["id"])["state"] == "done"
    assert pipeline.mattes == [] and np.array_equal(pipeline.plans[-1].mask, painted / 255.0)


def test_events_stream_the_progress_until_the_end(client, photo_id):
    render = submit(client, photo_id, {"preview": True, "seconds": 1, "fps": 8}).json()
    events = []
    with client.stream("GET", f"/api/renders/{render['id']}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert events[-1]["state"] == "done" and events[-1]["frames_done"] == events[-1]["frames_total"] == 8
    done = [e["frames_done"] for e in events]
    assert done == sorted(done)


def test_a_failing_pipeline_gives_one_line_never_a_traceback(tiny_pipeline, tmp_path):
    class Broken:
        working_size = 48
        defaults: dict = {}
        offers = type(tiny_pipeline).offers   # the page's AL controls

        def plan(self, *args, **kwargs):
            raise RuntimeError("boom\nsecond line")

        def fluid_matte(self, *args, **kwargs):
            raise ValueError("mask boom")

    with TestClient(create_app(Broken(), root=tmp_path), raise_server_exceptions=False) as client:
        photo_id = client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]
        status = wait_for(client, submit(client, photo_id, {"auto_mask": "none"}).json()["id"])
        assert status["state"] == "failed" and status["error"] == "internal error: RuntimeError: boom second line"
        status = wait_for(client, submit(client, photo_id).json()["id"])   # the automatic mask fails first
        assert status["state"] == "failed" and status["error"] == "internal error: ValueError: mask boom"
        assert_one_line_error(client.get(f"/api/photos/{photo_id}/mask"), 500, "internal error: ValueError")


def test_only_local_host_names_are_answered_when_asked(tiny_pipeline, tmp_path):
    app = create_app(tiny_pipeline, root=tmp_path, trusted_hosts={"127.0.0.1", "localhost"})
    with TestClient(app, base_url="http://127.0.0.1:8123") as client:
        assert client.get("/api/info").status_code == 200
        assert_one_line_error(client.get("/api/info", headers={"host": "evil.example:8123"}), 400, "unexpected Host")


# ------------------------------------------------------------------------------------------ DeepLandscape


@pytest.fixture
def dl_pipeline():
    """The tiny random DeepLandscape pipeline (16 px generator, 3 + 3 inversion steps, no automatic mask), its
    ``invert`` calls counted in ``dl_pipeline.inversions``."""
    pipeline = tiny_deeplandscape_pipeline()
    pipeline.inversions = 0
    invert = pipeline.invert

    def counted(*args, **kwargs):
        pipeline.inversions += 1
        return invert(*args, **kwargs)

    pipeline.invert = counted
    return pipeline


@pytest.fixture
def dl_client(dl_pipeline, tmp_path):
    with TestClient(create_app(dl_pipeline, root=tmp_path)) as test_client:
        yield test_client


def test_deeplandscape_info_and_settings(dl_client, dl_pipeline):
    info = dl_client.get("/api/info").json()
    assert (info["method"], info["controls"], info["default_auto_mask"]) == ("deeplandscape", "deeplandscape", "none")
    assert info["choices"]["auto_mask"] == ["default", "none", "sky+water"]
    assert {"direction", "lighting", "motion_speed"} <= set(info["defaults"]) and "arrows" not in info["defaults"]

    base = dl_pipeline.settings()   # the model folder's defaults: its tiny inversion budgets
    request = parse_render_request(
        {"settings": {"seconds": 2, "fps": 20, "direction": 90, "lighting": 0.5, "motion_speed": 2, "seed": 7,
                      "auto_mask": "sky+water"}}, (288, 512), deeplandscape=base)
    settings = request.settings
    assert (settings.num_frames, settings.direction, settings.lighting, settings.seed) == (40, 90.0, 0.5, 7)
    assert settings.speed == pytest.approx(2 * base.speed) and settings.use_mask
    assert settings.latent_steps == base.latent_steps == 3 and request.flow is False
    # A preview keeps the motion per second: half the frame rate, twice the speed per frame, half the period.
    controls = DeepLandscapeControls(dl_pipeline)   # the page's control set of a DeepLandscape server
    image, preview, fps = controls.preview_inputs(replace(request, preview=True), textured_photo(450, 800),
                                                  RenderLimits())
    assert image.shape == (384, 682, 3) and fps == 10 and preview.num_frames == 20
    assert preview.speed == pytest.approx(2 * settings.speed) and preview.period == pytest.approx(base.period / 2)


@pytest.mark.parametrize("payload, fragment", [
    (_bad({"lighting": 2}), "lighting must be between 0 and 1"),
    (_bad({"lighting": "dusk"}), "lighting must be a number"),
    (_bad({"direction": "up"}), "direction must be a number"),
    (_bad({"direction": 400}), "direction must be between 0 and 360"),
    (_bad({"motion_speed": -1}), "motion_speed must be between"),
    (_bad({"seconds": 30, "fps": 60}), "frames"),
    (_bad({"auto_mask": "sky"}), "auto_mask must be one of default, none, sky+water"),
    (_bad({"arrows": [{"from": [1, 2], "to": [3, 4]}]}), 'setting "arrows" is for AL and FGLA only'),
    (_bad({"loop": "crossfade"}), 'setting "loop" is for AL and FGLA only'),
    (_bad({"flow": True}), 'setting "flow" is for AL and FGLA only'),
    (_bad({"latent_steps": 1}), 'unknown setting "latent_steps"'),
    (_bad(mask=data_url(np.zeros((100, 100), np.uint8))), "aspect ratio"),
])
def test_bad_deeplandscape_requests_are_one_line_400(dl_client, payload, fragment):
    photo_id = dl_client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]
    response = dl_client.post(f"/api/photos/{photo_id}/renders", json=payload)
    assert_one_line_error(response, 400, fragment)
    assert dl_client.get("/api/info").json()["queue"] == 0
    assert_one_line_error(dl_client.get(f"/api/photos/{photo_id}/mask?auto=sky"), 400, "auto must be one of")


def test_deeplandscape_inverts_a_photo_once_per_mask(dl_client, dl_pipeline):
    """The first render of a photo inverts it; another direction, speed, lighting, seed or length (preview or full
    render) reuses that inversion; another painted mask inverts again, and painting it again does not."""
    photo_id = dl_client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]

    def render(settings, mask=None):
        status = wait_for(dl_client, submit(dl_client, photo_id, {"seconds": 1, "fps": 4, **settings}, mask)
                          .json()["id"])
        assert status["state"] == "done", status
        return status

    first = render({"preview": True})
    assert dl_pipeline.inversions == 1 and first["reused_inversion"] is False
    assert first["steps_done"] == first["steps_total"] == 6 and first["frames_done"] == 4
    for settings in ({"preview": True, "direction": 270}, {"motion_speed": 3, "lighting": 0.8, "seed": 4},
                     {"preview": True, "seconds": 2}):
        status = render(settings)
        assert dl_pipeline.inversions == 1 and status["reused_inversion"] is True, settings
        assert status["steps_total"] == 0
    frames = read_video_frames(_save(dl_client.get(status["video_url"]).content, dl_client, "preview.mp4"))
    assert len(frames) == 8 and frames[0].shape == (288, 512, 3)

    painted = np.zeros((288, 512), np.uint8)
    painted[:120] = 255   # only the sky moves
    assert render({"preview": True}, data_url(painted))["reused_inversion"] is False
    assert dl_pipeline.inversions == 2
    assert render({"direction": 45}, data_url(painted))["reused_inversion"] is True   # the same mask, sent again
    assert dl_pipeline.inversions == 2
    matte = dl_client.app.state.service.photo(photo_id).inverted.matte
    assert matte[:100].min() == 1.0 and matte[140:].max() == 0.0   # the painted mask is the whole matte
    painted[:60] = 0
    render({"preview": True}, data_url(painted))
    assert dl_pipeline.inversions == 3


def test_a_deeplandscape_inversion_shows_its_steps_and_stops_when_cancelled(dl_pipeline, tmp_path):
    dl_pipeline.defaults["latent_steps"] = 100_000   # far longer than the test waits
    with TestClient(create_app(dl_pipeline, root=tmp_path)) as client:
        photo_id = client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]
        render_id = submit(client, photo_id, {"preview": True, "seconds": 1, "fps": 4}).json()["id"]
        deadline = time.monotonic() + 30
        while (status := client.get(f"/api/renders/{render_id}").json())["steps_done"] < 2:
            assert time.monotonic() < deadline, status
            time.sleep(0.02)
        assert status["phase"] == "inverting" and status["steps_total"] == 100_003
        cancelled_at = time.monotonic()
        assert client.delete(f"/api/renders/{render_id}").status_code == 202
        status = wait_for(client, render_id, timeout=10)
        assert status["state"] == "cancelled" and status["steps_done"] < 100_003
        assert time.monotonic() - cancelled_at < 5
        assert client.app.state.service.photo(photo_id).inverted is None   # nothing half-inverted is kept


def test_a_new_photos_mask_comes_while_another_photo_is_inverted(dl_pipeline, tmp_path):
    from cinescape.segmentation import GROUP_OTHERS, GROUP_WATER

    class NoSky:
        def __call__(self, image, size=None):
            return np.zeros(image.shape[:2] if size is None else size, np.float32)

    class WaterBelow:   # water in the bottom half
        def classes(self, image, size=None):
            height, width = image.shape[:2] if size is None else size
            groups = np.full((height, width), GROUP_OTHERS, np.int64)
            groups[height // 2:] = GROUP_WATER
            return groups

    dl_pipeline._segmenters = (NoSky(), WaterBelow())
    dl_pipeline.defaults["latent_steps"] = 100_000   # the first photo's inversion outlasts the test
    with TestClient(create_app(dl_pipeline, root=tmp_path)) as client:
        first = client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]
        render_id = submit(client, first, {"preview": True, "seconds": 1, "fps": 4, "auto_mask": "none"}).json()["id"]
        deadline = time.monotonic() + 30
        while client.get(f"/api/renders/{render_id}").json()["steps_done"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second = client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]
        answers = []
        url = f"/api/photos/{second}/mask?auto=sky%2Bwater"
        asking = threading.Thread(target=lambda: answers.append(client.get(url)))
        asking.start()
        asking.join(timeout=20)   # were it to wait for the inversion, it would wait until the cancel below
        answered_meanwhile = not asking.is_alive()
        still_inverting = client.get(f"/api/renders/{render_id}").json()["phase"] == "inverting"
        assert client.delete(f"/api/renders/{render_id}").status_code == 202
        asking.join()
        assert answered_meanwhile and still_inverting, "the mask waited for the other photo's inversion"
        assert answers[0].status_code == 200
        shown = np.asarray(Image.open(io.BytesIO(answers[0].content)).convert("L"))
        assert shown[: shown.shape[0] // 3].max() == 0 and shown[-shown.shape[0] // 4:].min() == 255


# ------------------------------------------------------------------------------------------ the command


def test_serve_without_the_web_extra_is_a_one_line_error(monkeypatch, capsys):
    import cinescape.web
    from cinescape.cli import main

    monkeypatch.setattr(cinescape.web, "missing_web_packages", lambda: ["fastapi", "uvicorn"])
    assert main(["serve"]) == 2
    error = capsys.readouterr().err
    assert error.strip().count("\n") == 0 and 'pip install -e ".[web]"' in error and "fastapi and uvicorn" in error
    assert main(["serve", "--port", "-1"]) == 2


def test_serve_process_prints_its_url_answers_and_cleans_up_on_sigterm(model_dir, tmp_path):
    """`cinescape serve --port 0` in its own process: one URL line on stdout, a page there, and on SIGTERM a
    clean exit that deletes its temporary folder."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    command = [sys.executable, "-m", "cinescape.cli", "serve", "--port", "0", "--model", model_dir, "--quiet"]
    with open(tmp_path / "stderr.txt", "w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
        try:
            ready, _, _ = select.select([process.stdout], [], [], 60)
            assert ready, "no URL within 60 s"
            url = process.stdout.readline().strip()
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url), url
            with urllib.request.urlopen(url + "api/info", timeout=10) as response:
                assert json.load(response)["default_auto_mask"] == "none"
            assert list(tmp_path.glob("cinescape-web-*"))
            process.send_signal(signal.SIGTERM)
            # uvicorn shuts down cleanly, then re-raises the signal it caught: the exit says SIGTERM
            assert process.wait(timeout=20) in (0, -signal.SIGTERM)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert not list(tmp_path.glob("cinescape-web-*")), (tmp_path / "stderr.txt").read_text()
