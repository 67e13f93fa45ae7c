"""Regions by kind on the page, in a real browser (Debian's Chromium driven by Playwright, as
tests/test_web_browser.py): upload the bundled synthetic photo (sky over a lake), see its regions tinted by kind
with a legend, preview, change the lake's kind from the menu, drag its direction, preview again, and check that
the request carried the kind and that the lake in the served preview now flows the way the arrow was dragged.

Set ``CINESCAPE_WEB_KINDS_SCREENSHOT=/tmp/kinds.png`` to keep the page's screenshot.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request

import cv2
import numpy as np

from test_web_browser import EXAMPLE, _browser_page, _page_point, _served_frames, _wait_until, server  # noqa: F401

SIZE = (512, 288)                     # the example's (W, H), also its display size
KIND_COLORS = {"sky": (40, 170, 255), "river": (70, 215, 80)}   # static/app.js


def _canvas_pixel(page, x: float, y: float) -> np.ndarray:
    return np.array(page.evaluate(f"Array.from(document.getElementById('canvas').getContext('2d')"
                                  f".getImageData({int(x)}, {int(y)}, 1, 1).data)")[:3], np.float32)


def _lake_flow(frames: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Median optical flow (dx, dy) px/frame over ``inside`` in the first frames."""
    gray = [cv2.cvtColor(frame.astype(np.uint8), cv2.COLOR_RGB2GRAY) for frame in frames]
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return np.median(np.stack([flow.calc(a, b, None)[inside] for a, b in zip(gray[:5], gray[1:6])]), axis=(0, 1))


def test_change_a_regions_kind_and_direction_in_chromium(server, tmp_path):  # noqa: F811
    started = time.monotonic()
    sent = []
    with _browser_page(server) as page:
        page.on("request", lambda request: sent.append(json.loads(request.post_data))
                if request.method == "POST" and request.url.endswith("/renders") else None)
        assert page.is_visible("#tool-regions")
        page.fill("#seconds", "1")
        page.fill("#fps", "10")
        page.select_option("#loop", "none")
        page.uncheck("#appearance")
        page.select_option("#mode", "eulerian")
        page.set_input_files("#file-input", str(EXAMPLE))
        page.wait_for_selector("body[data-photo=ready]", timeout=60_000)
        page.wait_for_selector("body[data-regions=ready]", timeout=60_000)

        # The regions: the sky and the lake under it (the sky matte calls the lake's reflection sky too).
        regions = page.evaluate("window.cinescape.state.regions.regions")
        assert len(regions) >= 2, regions
        lake = max(regions, key=lambda region: region["point"][1])
        x, y = lake["point"]
        assert y > 180 and lake["kind"] == "sky", lake

        # A preview before any change: the lake moves as the sky does (the learned cloud motion).
        page.click("#preview-button")
        page.wait_for_selector("body[data-render=done]", timeout=90_000)
        before_href = page.get_attribute("#download-link", "href")
        page.evaluate("document.body.dataset.render = ''")
        assert sent and sent[-1]["settings"]["kinds"] is None

        # Under the Regions tool the lake is tinted with its kind's colour, and the legend names it.
        page.click("#tool-move")
        page.uncheck("#show-mask")
        photo_pixel = _canvas_pixel(page, x, y)
        page.click("#tool-regions")
        tinted = _canvas_pixel(page, x, y)
        expected = 0.5 * photo_pixel + 0.5 * np.array(KIND_COLORS["sky"])
        assert np.abs(tinted - expected).max() < 12, (tinted, expected, photo_pixel)
        assert page.is_visible("#kind-legend") and "sky" in page.text_content("#kind-legend")

        # Click the lake: the menu opens on its kind; make it a river.
        box = page.locator("#canvas").bounding_box()
        page.mouse.click(*_page_point(box, SIZE, x, y))
        assert page.is_visible("#kind-menu") and page.input_value("#kind-select") == "sky"
        page.select_option("#kind-select", "river")
        assert not page.is_visible("#kind-menu")
        assert "river" in page.text_content("#kind-legend")
        river_pixel = _canvas_pixel(page, x, y)
        expected = 0.5 * photo_pixel + 0.5 * np.array(KIND_COLORS["river"])
        assert np.abs(river_pixel - expected).max() < 12, (river_pixel, expected)

        # Drag on the lake towards the right (the sky's motion took it left): its direction, 0 degrees.
        page.mouse.move(*_page_point(box, SIZE, x, y))
        page.mouse.down()
        page.mouse.move(*_page_point(box, SIZE, x + 60, y), steps=8)
        page.mouse.up()
        assert page.evaluate("window.cinescape.kindsSetting()") == [f"river@{x},{y},0"]

        page.click("#preview-button")
        page.wait_for_selector("body[data-render=done]", timeout=90_000)
        assert "Preview done" in page.text_content("#status"), page.text_content("#status")
        href = page.get_attribute("#download-link", "href")
        labels = np.array(page.evaluate("Array.from(window.cinescape.state.regions.labels)"), np.uint8)
        h, w = page.evaluate("window.cinescape.state.regions.size")
        screenshot = os.environ.get("CINESCAPE_WEB_KINDS_SCREENSHOT")
        if screenshot:
            page.screenshot(path=screenshot, full_page=True)

    # The request carried the kind, as the CLI's --kind takes it; the plan moved the lake as a river.
    assert sent and sent[-1]["settings"]["kinds"] == [f"river@{x},{y},0"], sent
    render_id = href.split("/api/renders/", 1)[1].split("/")[0]
    with urllib.request.urlopen(f"{server.rstrip('/')}/api/renders/{render_id}", timeout=30) as response:
        planned = json.loads(response.read())["regions"]
    river = [region for region in planned if region["kind"] == "river"]
    assert len(river) == 1 and river[0]["direction"] == 0 and abs(river[0]["point"][1] - y) < 40, planned

    # ... and the lake flows right in the served preview.
    frames = _served_frames(server, href, tmp_path / "preview.mp4")
    assert frames.shape == (10, 288, 512, 3)
    lake_pixels = cv2.resize((labels.reshape(h, w) == lake["id"]).astype(np.uint8), SIZE,
                             interpolation=cv2.INTER_NEAREST)
    inside = cv2.erode(lake_pixels, np.ones((15, 15), np.uint8)).astype(bool)
    assert inside.sum() > 2000
    moved = _lake_flow(frames, inside)
    before = _lake_flow(_served_frames(server, before_href, tmp_path / "before.mp4"), inside)
    print(f"median flow in the lake: {before.round(3)} px/frame as sky, {moved.round(3)} as a river at 0 degrees")
    assert moved[0] > 0.3 and abs(moved[1]) < 0.3 * abs(moved[0]), moved
    assert np.linalg.norm(moved - before) > 0.3, (before, moved)   # the change is what moved it so
    assert time.monotonic() - started < 120
