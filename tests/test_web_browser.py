"""The page in a real browser: `cinescape serve` in its own process, Debian's Chromium driven by Playwright.

Upload the bundled example, paint a stroke with the move brush and drag one arrow with real mouse events,
render, and check that the served MP4 moves along the arrow inside the painted stroke and nowhere else. The
browser is the system's (``/usr/bin/chromium``, ``apt-get install chromium``); Playwright never downloads one.
Every request the page makes to anything but the local server is blocked and counted: there must be none.

Set ``CINESCAPE_WEB_SCREENSHOT=docs/web_screenshot.png`` to keep the page's screenshot (the README's).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from cinescape.io.video import read_video_frames

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "synthetic_landscape.png"
SCREENSHOT_MAX_BYTES = 300_000

# The stroke and the arrow, in pixels of the 512x288 example: a band across the lake, moved right and down.
STROKE = ((150, 218), (380, 218))
BRUSH = 56
ARROW = ((250, 218), (256, 222))

if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium): the browser test is skipped",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                               "(pip install playwright; it drives the system's Chromium, no browser download)")
pytest.importorskip("fastapi", reason='the web extra is not installed: pip install -e ".[web]"')


# `cinescape serve` run so that, on Linux, the kernel sends it SIGTERM when the test process dies
# (PR_SET_PDEATHSIG = 1): not even a killed test run leaves a server behind. Set in the child itself, as its first
# step (a preexec_fn is unsafe in a process with threads, which this one has).
SERVE = ("import ctypes, runpy, signal, sys\n"
         "try:\n"
         "    ctypes.CDLL('libc.so.6').prctl(1, signal.SIGTERM)\n"
         "except (OSError, AttributeError):\n"
         "    pass\n"
         "if sys.argv[1:2] == ['--package-path']:   # a method package outside the tree (the toy method)\n"
         "    import cinescape.methods\n"
         "    cinescape.methods.__path__.append(sys.argv[2])\n"
         "    del sys.argv[1:3]\n"
         "sys.argv = ['cinescape', 'serve', '--port', '0', '--quiet'] + sys.argv[1:]\n"
         "runpy.run_module('cinescape.cli', run_name='__main__')\n")


@pytest.fixture
def server(tmp_path):
    """`cinescape serve --port 0` with the shipped model, in its own process; its URL."""
    yield from _serve(tmp_path)


def _serve(tmp_path, *options: str, extra_package_path: Path | None = None):
    """`cinescape serve --port 0 OPTIONS` in its own process; yields its URL. Stopped (SIGTERM, then SIGKILL)
    afterwards, however the test ends, and its temporary folder must be gone then. ``extra_package_path``: a
    folder of method packages added to ``cinescape.methods``' path in that process."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    if extra_package_path is not None:
        options = ("--package-path", str(extra_package_path), *options)
    stderr_path = tmp_path / "server-stderr.txt"
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen([sys.executable, "-c", SERVE, *options], stdout=subprocess.PIPE, stderr=stderr,
                                   text=True, env=env)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 90)
        if not ready:
            raise AssertionError(f"the server printed no URL in 90 s: {stderr_path.read_text()[-2000:]}")
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), (url, stderr_path.read_text()[-2000:])
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert not list(tmp_path.glob("cinescape-web-*")), "the server left its temporary folder behind"


@pytest.fixture
def deeplandscape_server(tmp_path):
    """`cinescape serve --model DIR` with a tiny random DeepLandscape model (3 + 3 inversion steps): its URL."""
    from test_deeplandscape import _tiny_pipeline

    model = _tiny_pipeline().save_pretrained(tmp_path / "deeplandscape-model")
    yield from _serve(tmp_path, "--method", "deeplandscape", "--model", str(model))


@contextlib.contextmanager
def _browser_page(server: str):
    """Chromium on the page at ``server``, once it is ready. Every request elsewhere is aborted, and afterwards
    there must have been none, nor any error on the page."""
    outside_requests, errors = [], []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 940}, device_scale_factor=1)
            server_host = urllib.parse.urlsplit(server).netloc

            def only_local(route):
                if urllib.parse.urlsplit(route.request.url).netloc == server_host:
                    route.continue_()
                else:  # the page must work with the network off: nothing may go elsewhere
                    outside_requests.append(route.request.url)
                    route.abort()

            page.route("**/*", only_local)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(server)
            page.wait_for_selector("body[data-ready=true]", timeout=30_000)
            yield page
            assert not errors, errors
        finally:
            browser.close()
    assert not outside_requests, f"the page asked the network for {outside_requests}"


def _served_frames(server: str, href: str, path: Path) -> np.ndarray:
    """The frames of the MP4 the page's download link ``href`` gives (an attachment), float32 (N, H, W, 3)."""
    with urllib.request.urlopen(urllib.parse.urljoin(server, href), timeout=30) as response:
        assert response.headers["Content-Type"] == "video/mp4"
        assert response.headers["Content-Disposition"].startswith("attachment")
        path.write_bytes(response.read())
    return np.stack(read_video_frames(path)).astype(np.float32)


def _wait_until(page, expression: str, timeout: float = 20.0) -> None:
    """Poll a JavaScript expression until it is true (Playwright's wait_for_function evaluates strings with eval,
    which the page's Content Security Policy forbids, as it should)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"not true after {timeout} s: {expression}"
        time.sleep(0.1)


def _page_point(box: dict, photo_size: tuple[int, int], x: float, y: float) -> tuple[float, float]:
    """Photo pixel (x, y) -> page coordinates on the canvas ``box`` showing a photo of ``photo_size`` (W, H)."""
    width, height = photo_size
    return box["x"] + x * box["width"] / width, box["y"] + y * box["height"] / height


def _small_png(png: bytes) -> bytes:
    """The screenshot under SCREENSHOT_MAX_BYTES: fewer colours (and, if need be, smaller) until it fits."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    for scale in (1.0, 0.85, 0.7, 0.55):
        resized = image if scale == 1 else image.resize((round(image.width * scale), round(image.height * scale)),
                                                        Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        resized.quantize(256, method=Image.Quantize.MEDIANCUT).save(buffer, format="PNG", optimize=True)
        if buffer.tell() <= SCREENSHOT_MAX_BYTES:
            break
    return buffer.getvalue()


def test_paint_arrow_render_in_chromium(server, tmp_path):
    started = time.monotonic()
    with _browser_page(server) as page:
        assert page.text_content("#method") == "Method: Animating Landscape (AL)"
        assert page.is_visible("#tool-arrow") and not page.is_visible("#direction")

        # A short, plain loop: 1 s at 10 fps, frame 0 is the photo, colours fixed, the arrow's own field.
        page.fill("#seconds", "1")
        page.fill("#fps", "10")
        page.select_option("#loop", "none")
        page.uncheck("#appearance")
        page.select_option("#mode", "eulerian")
        page.select_option("#arrows-mode", "direct")

        page.set_input_files("#file-input", str(EXAMPLE))
        page.wait_for_selector("body[data-photo=ready]", timeout=60_000)
        page.select_option("#region", "empty")   # nothing moves until painted
        _wait_until(page, "!window.cinescape.state.maskEdited && window.cinescape.state.region === 'empty'")

        # Paint a stroke with the move brush, with the mouse.
        page.click("#tool-move")
        page.locator("#brush-size").fill(str(BRUSH))
        box = page.locator("#canvas").bounding_box()
        size = (512, 288)
        page.mouse.move(*_page_point(box, size, *STROKE[0]))
        page.mouse.down()
        page.mouse.move(*_page_point(box, size, *STROKE[1]), steps=25)
        page.mouse.up()

        # Drag one arrow inside the stroke.
        page.click("#tool-arrow")
        page.mouse.move(*_page_point(box, size, *ARROW[0]))
        page.mouse.down()
        page.mouse.move(*_page_point(box, size, *ARROW[1]), steps=8)
        page.mouse.up()
        page.mouse.move(box["x"] + box["width"] - 5, box["y"] + 5)   # the cursor off the stroke
        arrows = page.evaluate("window.cinescape.state.arrows")
        assert len(arrows) == 1, arrows
        arrow = np.subtract(arrows[0]["to"], arrows[0]["from"])
        assert np.allclose(arrow, np.subtract(ARROW[1], ARROW[0]), atol=1.0), arrow

        # Preview, then render.
        page.click("#preview-button")
        page.wait_for_selector("body[data-render=done]", timeout=60_000)
        assert "Preview done" in page.text_content("#status")
        page.evaluate("document.body.dataset.render = ''")
        page.click("#render-button")
        page.wait_for_selector("body[data-render=done]", timeout=90_000)
        assert "Render done" in page.text_content("#status"), page.text_content("#status")
        _wait_until(page, "document.getElementById('result-video').readyState >= 2")

        screenshot = _small_png(page.screenshot(full_page=True))
        keep = os.environ.get("CINESCAPE_WEB_SCREENSHOT")
        (Path(keep) if keep else tmp_path / "web_screenshot.png").write_bytes(screenshot)

        mask_url = page.evaluate("window.cinescape.maskDataUrl()")
        href = page.get_attribute("#download-link", "href")

    frames = _served_frames(server, href, tmp_path / "loop.mp4")
    assert frames.shape == (10, 288, 512, 3)

    # Where the page's mask says "moves" (shrunk by the feathering and the motion) and where it says "still"
    # (grown likewise), from the mask the page sent.
    mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(mask_url.split(",", 1)[1]))).convert("L")) / 255.0
    assert mask.shape == (288, 512) and 0.05 < mask.mean() < 0.3
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (25, 25))
    inside = cv2.erode((mask > 0.99).astype(np.uint8), kernel).astype(bool)
    outside = cv2.erode((mask < 0.01).astype(np.uint8), kernel).astype(bool)
    assert inside.sum() > 2000 and outside.sum() > 50_000

    change = np.abs(frames[1:] - frames[0]).mean(axis=(0, 3))
    assert change[outside].mean() < 1.0, change[outside].mean()   # the rest of the photo stays still
    assert change[inside].mean() > 4.0, change[inside].mean()      # the stroke moves

    # ... along the arrow: the optical flow from each frame to the next, inside the stroke, is the arrow.
    gray = [cv2.cvtColor(frame.astype(np.uint8), cv2.COLOR_RGB2GRAY) for frame in frames]
    flow_estimator = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flows = np.stack([flow_estimator.calc(a, b, None) for a, b in zip(gray[:4], gray[1:5])])
    moving = np.median(flows[:, inside], axis=(0, 1))
    still = np.median(np.linalg.norm(flows[:, outside], axis=-1))
    cosine = moving @ arrow / (np.linalg.norm(moving) * np.linalg.norm(arrow))
    print(f"stroke moves {change[inside].mean():.1f} levels per frame, the rest {change[outside].mean():.2f}; "
          f"median flow in the stroke {moving.round(2)} px/frame for the arrow {arrow}, outside {still:.3f} px")
    assert cosine > 0.95 and 0.6 < np.linalg.norm(moving) / np.linalg.norm(arrow) < 1.4, (moving, arrow)
    assert still < 0.2, still
    assert time.monotonic() - started < 60


# The controls only one kind of page has: AL's (AL and FGLA) and DeepLandscape's.
AL_ONLY = ("#tool-arrow", "#clear-arrows", "#loop", "#mode", "#arrows-mode", "#appearance", "#time-of-day",
           "#appearance-stride", "#flow")
DEEPLANDSCAPE_ONLY = ("#direction", "#lighting")


def test_an_untouched_pages_preview_starts_from_the_plan_made_while_the_mask_was_shown(server):
    """The page's own payload for an untouched preview is the request the server plans ahead once the mask is
    shown (RenderService.plan_preview_ahead): the preview reuses that plan."""
    with _browser_page(server) as page:
        page.set_input_files("#file-input", str(EXAMPLE))
        page.wait_for_selector("body[data-photo=ready]", timeout=60_000)
        with page.expect_response(lambda response: response.url.endswith("/renders")
                                  and response.request.method == "POST") as posted:
            page.click("#preview-button")
        render_id = posted.value.json()["id"]
        page.wait_for_selector("body[data-render=done]", timeout=60_000)
    with urllib.request.urlopen(urllib.parse.urljoin(server, f"/api/renders/{render_id}"), timeout=30) as response:
        status = json.loads(response.read())
    assert status["state"] == "done" and status["preview"] is True
    assert status["reused_plan"] is True, status


def test_deeplandscape_page_shows_its_own_controls_and_previews_reusing_the_inversion(deeplandscape_server, tmp_path):
    started = time.monotonic()
    with _browser_page(deeplandscape_server) as page:
        assert page.text_content("#method") == "Method: DeepLandscape"
        for selector in AL_ONLY:
            assert not page.is_visible(selector), selector
        for selector in DEEPLANDSCAPE_ONLY + ("#tool-move", "#tool-freeze", "#region", "#motion-speed", "#seed",
                                              "#seconds", "#fps", "#format"):
            assert page.is_visible(selector), selector
        regions = page.evaluate("[...document.querySelectorAll('#region option')].filter((o) => !o.hidden)"
                                ".map((o) => o.value)")
        assert regions == ["default", "sky+water", "none", "empty"]
        page.keyboard.press("a")   # AL's arrow tool key: no tool on this page
        assert page.evaluate("window.cinescape.state.tool") == "move"

        page.fill("#seconds", "1")
        page.fill("#fps", "5")
        page.fill("#direction", "90")
        page.locator("#lighting").fill("0.5")
        page.set_input_files("#file-input", str(EXAMPLE))
        page.wait_for_selector("body[data-photo=ready]", timeout=60_000)
        assert page.text_content("#status") == "512×288. Paint what moves, then Preview or Render."

        # The first preview inverts the photo; another direction reuses that inversion.
        page.click("#preview-button")
        page.wait_for_selector("body[data-render=done]", timeout=60_000)
        assert "Preview done" in page.text_content("#status") and "photo inverted" in page.text_content("#status")
        page.evaluate("document.body.dataset.render = ''")
        page.fill("#direction", "180")
        page.click("#preview-button")
        page.wait_for_selector("body[data-render=done]", timeout=60_000)
        assert "inversion reused" in page.text_content("#status"), page.text_content("#status")
        _wait_until(page, "document.getElementById('result-video').readyState >= 2")
        href = page.get_attribute("#download-link", "href")

    frames = _served_frames(deeplandscape_server, href, tmp_path / "preview.mp4")
    assert frames.shape == (5, 288, 512, 3)   # 1 s at 5 fps, the example's own size (under the preview's)
    assert np.abs(frames[2] - frames[0]).mean() > 0.5   # the loop moves (no mask: the whole photo is fluid)
    assert time.monotonic() - started < 60


@pytest.fixture
def toy_server(tmp_path):
    """`cinescape serve --model DIR` with the toy fourth method of tests/test_method_contract.py (a package outside
    the source tree, added to cinescape.methods' path in the server's process): its URL."""
    import json
    import textwrap

    from test_method_contract import TOY_PACKAGE

    root = tmp_path / "packages"
    (root / "toyfade").mkdir(parents=True)
    (root / "toyfade" / "__init__.py").write_text(textwrap.dedent(TOY_PACKAGE))
    model = tmp_path / "toy_model"
    model.mkdir()
    (model / "pipeline.json").write_text(json.dumps({"pipeline_class": "toyfade.ToyPipeline", "gain": 7}))
    yield from _serve(tmp_path, "--model", str(model), extra_package_path=root)


def test_a_method_without_a_page_of_its_own_gets_the_basic_controls(toy_server, tmp_path):
    """The toy method names no control set: the page shows the loop's length, frame rate, seed and format only,
    and its render is the toy's closed form (frame i = the photo + 7 i grey levels, clipped)."""
    with _browser_page(toy_server) as page:
        assert page.text_content("#method") == "Method: toyfade"
        for selector in AL_ONLY + DEEPLANDSCAPE_ONLY + ("#tool-move", "#region", "#motion-speed"):
            assert not page.is_visible(selector), selector
        for selector in ("#seed", "#seconds", "#fps", "#format", "#render-button"):
            assert page.is_visible(selector), selector
        page.fill("#seconds", "1")
        page.fill("#fps", "4")
        page.set_input_files("#file-input", str(EXAMPLE))
        page.wait_for_selector("body[data-photo=ready]", timeout=60_000)
        assert page.text_content("#status") == "512×288. Preview or Render."
        page.click("#render-button")
        page.wait_for_selector("body[data-render=done]", timeout=60_000)
        href = page.get_attribute("#download-link", "href")
    frames = _served_frames(toy_server, href, tmp_path / "toy.mp4")
    photo = np.asarray(Image.open(EXAMPLE).convert("RGB")).astype(np.float32)
    assert frames.shape == (4, 288, 512, 3)
    for i, frame in enumerate(frames):   # H.264 at CRF 18 on the textured example: a few levels
        expected = np.clip(photo + 7 * i, 0, 255)
        assert np.abs(frame - expected).mean() < 4.0, i
