"""Region kinds on the web page's API (cinescape.web.kinds) with FastAPI's TestClient and the tiny pipeline: the
regions endpoint gives the plan's own regions, a render's ``kinds`` setting moves a region the way it says, and
every bad ``kinds`` entry is a one-line 400. The page itself is driven in tests/test_web_browser.py."""

from __future__ import annotations

import base64
import io
import math

import cv2
import numpy as np
import pytest
from PIL import Image

from test_web import (EXAMPLE, assert_one_line_error, client, data_url, photo_id, png_bytes, submit,  # noqa: F401
                      textured_photo, wait_for)

from cinescape.io.video import read_video_frames  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")

# A 192x320 textured photo and a painted mask of two separate blobs: an upper band ("sky") and a lower band.
HEIGHT, WIDTH = 192, 320
UPPER, LOWER = (slice(10, 70), slice(10, 310)), (slice(120, 182), slice(20, 300))


def two_bands() -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[UPPER] = 255
    mask[LOWER] = 255
    return mask


@pytest.fixture
def banded(client):
    """A photo uploaded with the two-band painted mask: (photo id, the mask's data URL)."""
    response = client.post("/api/photos?name=bands.png", content=png_bytes(textured_photo(HEIGHT, WIDTH, seed=3)))
    assert response.status_code == 201, response.text
    return response.json()["id"], data_url(two_bands())


def regions_of(client, photo_id, mask, auto="none"):
    response = client.post(f"/api/photos/{photo_id}/regions", json={"auto": auto, "mask": mask})
    assert response.status_code == 200, response.text
    return response.json()


def test_regions_of_a_painted_mask_are_its_two_bands(client, banded):
    photo_id, mask = banded
    found = regions_of(client, photo_id, mask)
    regions = found["regions"]
    assert [r["kind"] for r in regions] == ["sky", "sky"]   # no sky matte ran: each keeps the learned motion
    assert found["kinds"] == ["sky", "waterfall", "river", "sea", "lake", "fountain", "still"]
    h, w = found["size"]
    assert found["photo_size"] == [HEIGHT, WIDTH]
    labels = np.asarray(Image.open(io.BytesIO(base64.b64decode(found["labels"].split(",", 1)[1]))))
    assert labels.shape == (h, w) and set(np.unique(labels)) == {0, 1, 2}
    # each region's point lies inside it, and inside the band it came from
    for region, band in zip(regions, (UPPER, LOWER)):
        x, y = region["point"]
        assert labels[int(y * h / HEIGHT), int(x * w / WIDTH)] == region["id"]
        assert band[0].start <= y < band[0].stop and band[1].start <= x < band[1].stop
        share = (band[0].stop - band[0].start) * (band[1].stop - band[1].start) / (HEIGHT * WIDTH)
        assert abs(region["area"] - share) < 0.03, (region["area"], share)


def test_everything_moving_has_no_regions(client, photo_id, tiny_pipeline, monkeypatch):
    monkeypatch.setitem(tiny_pipeline.defaults, "auto_mask", "sky")   # a model whose default mask is the sky's
    found = regions_of(client, photo_id, None)   # auto "none", unpainted: no matte, nothing to split
    assert found["regions"] == []


def test_regions_endpoint_matches_the_plan(client, tiny_pipeline, photo_id):
    """GET .../regions?auto=sky is what plan() finds with auto_mask="sky" (the sky matte's evidence included)."""
    found = client.get(f"/api/photos/{photo_id}/regions?auto=sky")
    assert found.status_code == 200, found.text
    found = found.json()
    photo = np.asarray(Image.open(EXAMPLE).convert("RGB"))
    planned = tiny_pipeline.plan(photo, num_frames=2, auto_mask="sky", appearance=False).regions
    labels = np.asarray(Image.open(io.BytesIO(base64.b64decode(found["labels"].split(",", 1)[1]))))
    assert np.array_equal(labels, planned.labels)
    assert [r["kind"] for r in found["regions"]] == [r.kind for r in planned.regions]
    assert found["regions"] and all(r["why"] == "the sky matte" for r in found["regions"])


def test_a_kind_and_direction_move_the_region_that_way(client, banded, tmp_path):
    photo_id, mask = banded
    shown = regions_of(client, photo_id, mask)["regions"]
    lower = shown[1]
    x, y = lower["point"]
    settings = {"seconds": 1, "fps": 10, "loop": "none", "appearance": False, "auto_mask": "none",
                "kinds": [f"river@{x},{y},180"]}
    status = wait_for(client, submit(client, photo_id, settings, mask).json()["id"])
    assert status["state"] == "done", status
    planned = {r["kind"]: r for r in status["regions"]}
    assert set(planned) == {"sky", "river"} and planned["river"]["direction"] == 180
    assert planned["river"]["source"] == "point"
    # what the page showed is what the plan moved: the same regions, the same areas
    assert sorted(r["area"] for r in status["regions"]) == pytest.approx(sorted(r["area"] for r in shown), abs=0.01)

    video = client.get(status["video_url"])
    (tmp_path / "loop.mp4").write_bytes(video.content)
    frames = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in read_video_frames(tmp_path / "loop.mp4")]
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    inner = (slice(LOWER[0].start + 12, LOWER[0].stop - 12), slice(LOWER[1].start + 30, LOWER[1].stop - 30))
    moved = np.median(np.stack([flow.calc(a, b, None)[inner] for a, b in zip(frames[:4], frames[1:5])]),
                      axis=(0, 1, 2))
    # the river flows left (180 degrees) along its band, at its speed (0.8 px/frame at 512 px wide)
    print(f"median flow in the river {moved.round(3)} px/frame")
    assert moved[0] < -0.2 and abs(moved[1]) < 0.3 * abs(moved[0]), moved
    assert math.isclose(-moved[0], 0.8 * WIDTH / 512, rel_tol=0.5), moved


@pytest.mark.parametrize("kinds, fragment", [
    (["lava@100,40"], "unknown kind 'lava'"),
    (["river@400,40"], "outside the photo"),
    (["river@100,100"], "no moving region there"),
    (["river@100,40,nan"], "not a finite number"),
    (["river@100,40,inf"], "not a finite number"),
    (["river:/etc/passwd"], "KIND@X,Y"),
    (["river@100"], "KIND@X,Y"),
    ([7], "each entry is a text"),
    ("river@100,40", "must be a list"),
    (["river@100,40"] * 65, "at most 64"),
], ids=["unknown-kind", "outside", "no-region", "nan", "inf", "mask-file", "one-number", "number", "not-list",
        "too-many"])
def test_bad_kinds_are_one_line_400s(client, banded, kinds, fragment):
    photo_id, mask = banded
    settings = {"auto_mask": "none", "kinds": kinds, "preview": True}
    message = assert_one_line_error(submit(client, photo_id, settings, mask), 400, fragment)
    assert "--" not in message   # the page's field names, not the CLI's options
    assert client.app.state.service.queue_length == 0   # nothing was queued


def test_kinds_with_arrows_or_the_recurrent_mode_are_refused(client, banded):
    photo_id, mask = banded
    arrows = [{"from": [100, 40], "to": [104, 40]}]
    for extra in ({"arrows": arrows}, {"mode": "recurrent"}):
        settings = {"auto_mask": "none", "kinds": ["river@100,40"], **extra}
        assert_one_line_error(submit(client, photo_id, settings, mask), 400, "kinds: region kinds move the eulerian")


def test_bad_regions_requests_are_one_line_4xx(client, banded):
    photo_id, mask = banded
    assert_one_line_error(client.get(f"/api/photos/{photo_id}/regions?auto=clouds"), 400, "auto must be one of")
    assert_one_line_error(client.post(f"/api/photos/{photo_id}/regions", content=b"{"), 400, "not valid JSON")
    assert_one_line_error(client.post(f"/api/photos/{photo_id}/regions", json={"mask": mask, "x": 1}), 400,
                          "JSON object")
    assert_one_line_error(client.post(f"/api/photos/{photo_id}/regions", json={"mask": "data:image/png;base64,!"}),
                          400, "mask: not valid base64")
    assert_one_line_error(client.get("/api/photos/nope/regions"), 404, "unknown photo id")


def test_info_offers_kinds_from_the_pipelines_capability(client, tiny_pipeline, tmp_path):
    from cinescape.web import create_app
    from test_web import TestClient

    assert client.get("/api/info").json()["kinds"][:3] == ["sky", "waterfall", "river"]
    tiny_pipeline.motion_by_kind = False   # a pipeline that sets its own motion per region (as FGLA's)
    try:
        with TestClient(create_app(tiny_pipeline, root=tmp_path)) as other:
            assert other.get("/api/info").json()["kinds"] == []
            photo_id = other.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]
            assert_one_line_error(other.get(f"/api/photos/{photo_id}/regions"), 400, "has no region kinds")
            assert_one_line_error(submit(other, photo_id, {"kinds": ["sky@10,10"]}), 400, "region kinds are the")
    finally:
        del tiny_pipeline.motion_by_kind
