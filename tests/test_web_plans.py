"""The web page's kept plans (cinescape.web.plans) and its previews' fast encoding: the same request asked again is
not planned again and gives the same frames, every other request is, and the store stays within its bounds."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install -e \".[web]\"")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from cinescape.io.video import VideoWriter, read_video_frames  # noqa: E402
from cinescape.web import create_app  # noqa: E402
from cinescape.web.plans import PlanCache, settings_digest  # noqa: E402
from cinescape.web.service import ServiceLimits  # noqa: E402
from test_web import (EXAMPLE, BlockingPipeline, RecordingPipeline, _save, png_bytes, submit,  # noqa: E402
                      textured_photo, wait_for)

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")


def test_plan_cache_keeps_the_least_recently_used_within_its_bounds():
    cache = PlanCache(max_plans=2, max_pixels=100)
    calls = []

    def plan(name):
        return lambda: calls.append(name) or name

    assert cache.get_or_plan("a", plan("a"), pixels=40) == ("a", False)
    assert cache.get_or_plan("b", plan("b"), pixels=40) == ("b", False)
    assert cache.get_or_plan("a", plan("a"), pixels=40) == ("a", True)      # a is now the most recently used
    assert cache.get_or_plan("c", plan("c"), pixels=40) == ("c", False)     # 3 plans: b (least recent) goes
    assert len(cache) == 2 and cache.pixels == 80
    assert cache.get_or_plan("b", plan("b"), pixels=40) == ("b", False)     # planned again
    assert calls == ["a", "b", "c", "b"] and (cache.planned, cache.reused) == (4, 1)
    assert cache.get_or_plan("d", plan("d"), pixels=70) == ("d", False)     # 70 + 40 > 100: only d stays
    assert len(cache) == 1 and cache.pixels == 70
    assert cache.get_or_plan("huge", plan("huge"), pixels=101) == ("huge", False)   # over the budget: not kept
    assert len(cache) == 1 and cache.pixels == 70
    assert cache.forget(lambda key: key == "d") == 1 and len(cache) == 0

    def failing():
        raise RuntimeError("no plan")
    with pytest.raises(RuntimeError):
        cache.get_or_plan("e", failing, pixels=1)
    assert len(cache) == 0 and cache.planned == 6
    assert PlanCache(max_plans=0).get_or_plan("a", plan("a"), pixels=1) == ("a", False)


def test_settings_digest_compares_by_content():
    mask = np.zeros((4, 6), np.float32)
    same = settings_digest({"seed": 1, "mask": mask})
    assert settings_digest({"mask": mask.copy(), "seed": 1}) == same        # key order, another array object
    changed = mask.copy()
    changed[2, 3] = 0.5
    assert settings_digest({"seed": 1, "mask": changed}) != same
    assert settings_digest({"seed": 1, "mask": mask.astype(np.float64)}) != same   # the dtype counts
    assert settings_digest({"seed": 1, "mask": mask.reshape(6, 4)}) != same        # and the shape
    assert settings_digest({"seed": 2, "mask": mask}) != same
    assert settings_digest([1, 2]) != settings_digest((1, 2))


def test_the_same_preview_again_reuses_its_plan_and_gives_the_same_frames(tiny_pipeline, tmp_path):
    """A second preview with the same settings renders from the kept plan (the pipeline is not asked to plan
    again) into the same frames; another format or the flow video reuses it too; another setting, another upload
    of the same file, or the full render plans anew (nothing is planned ahead here: see the next test)."""
    pipeline = RecordingPipeline(tiny_pipeline)
    with TestClient(create_app(pipeline, root=tmp_path, limits=ServiceLimits(plan_ahead=False))) as client:
        photo_id = client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]
        settings = {"preview": True, "seconds": 1, "fps": 8, "seed": 3}
        first = wait_for(client, submit(client, photo_id, settings).json()["id"])
        assert first["state"] == "done" and first["reused_plan"] is False and len(pipeline.plans) == 1
        second = wait_for(client, submit(client, photo_id, settings).json()["id"])
        assert second["state"] == "done" and second["reused_plan"] is True and len(pipeline.plans) == 1
        frames = [read_video_frames(_save(client.get(s["video_url"]).content, client, f"{s['id']}.mp4"))
                  for s in (first, second)]
        assert len(frames[0]) == 8 and all(np.array_equal(a, b) for a, b in zip(*frames))

        flowed = wait_for(client, submit(client, photo_id, {**settings, "flow": True}).json()["id"])
        assert flowed["reused_plan"] is True and flowed["flow_url"] and len(pipeline.plans) == 1
        for changed in ({**settings, "seed": 4}, {**settings, "preview": False}, {**settings, "motion_speed": 2}):
            status = wait_for(client, submit(client, photo_id, changed).json()["id"])
            assert status["state"] == "done" and status["reused_plan"] is False
        assert len(pipeline.plans) == 4
        full = wait_for(client, submit(client, photo_id, {**settings, "preview": False, "format": "gif"}).json()["id"])
        assert full["reused_plan"] is True and len(pipeline.plans) == 4   # the full render's plan, another format

        again = client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]   # a new photo id
        assert wait_for(client, submit(client, again, settings).json()["id"])["reused_plan"] is False
        assert len(pipeline.plans) == 5
        service = client.app.state.service
        assert len(service.plans) <= ServiceLimits().max_cached_plans
        kept = len(service.plans)
        assert client.delete(f"/api/photos/{again}").status_code == 200
        assert len(service.plans) == kept - 1   # a deleted photo's plans go with it


def test_after_a_preview_its_full_render_is_planned_ahead(tiny_pipeline, tmp_path):
    """Once a preview is done and nothing waits, the worker plans the full render of the same settings: the render,
    asked next (in any format), starts from that plan."""
    pipeline = RecordingPipeline(tiny_pipeline)
    with TestClient(create_app(pipeline, root=tmp_path)) as client:
        photo_id = client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]
        settings = {"seconds": 1, "fps": 20, "seed": 5}
        preview = wait_for(client, submit(client, photo_id, {**settings, "preview": True}).json()["id"])
        assert preview["state"] == "done" and preview["reused_plan"] is False
        service = client.app.state.service
        deadline = time.monotonic() + 60
        while service.plans.planned < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [plan.num_frames for plan in pipeline.plans] == [10, 20]   # the preview's 10 fps, then the render's
        render = wait_for(client, submit(client, photo_id, {**settings, "format": "gif"}).json()["id"])
        assert render["state"] == "done" and render["reused_plan"] is True and len(pipeline.plans) == 2
        assert render["frames_total"] == 20

    # A photo whose plan would not be kept is not planned ahead.
    pipeline = RecordingPipeline(tiny_pipeline)
    small_budget = ServiceLimits(max_cached_plan_pixels=300_000)   # the preview's 384x682, not the full 576x1024
    with TestClient(create_app(pipeline, root=tmp_path, limits=small_budget)) as client:
        photo_id = client.post("/api/photos", content=png_bytes(textured_photo(576, 1024))).json()["id"]
        preview = wait_for(client, submit(client, photo_id, {**settings, "preview": True}).json()["id"])
        render = wait_for(client, submit(client, photo_id, settings).json()["id"])
        assert preview["state"] == render["state"] == "done" and render["reused_plan"] is False
        assert [plan.num_frames for plan in pipeline.plans] == [10, 20]   # the render planned once, when asked


def test_after_a_mask_the_untouched_pages_preview_is_planned_ahead(tiny_pipeline, tmp_path):
    """Once the page has a photo's automatic mask, the worker plans the preview an untouched page asks for (all the
    page's default fields, sent as the page sends them): that preview starts from the plan; a preview with another
    setting, or of a painted mask, is planned when asked."""
    pipeline = RecordingPipeline(tiny_pipeline)
    with TestClient(create_app(pipeline, root=tmp_path)) as client:
        photo_id = client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]
        defaults = client.get("/api/info").json()["defaults"]
        assert client.get(f"/api/photos/{photo_id}/mask", params={"auto": "default"}).status_code == 200
        service = client.app.state.service
        deadline = time.monotonic() + 60
        while service.plans.planned < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(pipeline.plans) == 1
        page = {**defaults, "preview": True, "auto_mask": "default", "arrows": None, "kinds": None}
        preview = wait_for(client, submit(client, photo_id, page).json()["id"])
        assert preview["state"] == "done" and preview["reused_plan"] is True
        previews = [plan for plan in pipeline.plans if plan.num_frames == preview["frames_total"]]
        assert len(previews) == 1            # planned once, ahead (the full render may be planned ahead after it)
        other = wait_for(client, submit(client, photo_id, {**page, "seed": 7}).json()["id"])
        assert other["state"] == "done" and other["reused_plan"] is False

    # Without plans ahead (or on a page that keeps none) a mask plans nothing.
    pipeline = RecordingPipeline(tiny_pipeline)
    with TestClient(create_app(pipeline, root=tmp_path, limits=ServiceLimits(plan_ahead=False))) as client:
        photo_id = client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]
        assert client.get(f"/api/photos/{photo_id}/mask").status_code == 200
        time.sleep(0.3)
        assert pipeline.plans == [] and client.app.state.service.plans.planned == 0


def test_the_kept_plans_stay_within_the_servers_bounds(tiny_pipeline, tmp_path):
    pipeline = RecordingPipeline(tiny_pipeline)
    photo = textured_photo(120, 200)
    limits = ServiceLimits(max_cached_plans=2, max_cached_plan_pixels=120 * 200 * 2)
    with TestClient(create_app(pipeline, root=tmp_path, limits=limits)) as client:
        photo_id = client.post("/api/photos", content=png_bytes(photo)).json()["id"]
        service = client.app.state.service
        for seed in range(3):
            status = wait_for(client, submit(client, photo_id, {"seconds": 0.5, "fps": 4, "seed": seed}).json()["id"])
            assert status["state"] == "done"
            assert len(service.plans) <= 2 and service.plans.pixels <= limits.max_cached_plan_pixels
        assert len(service.plans) == 2
        # seed 0 was the least recently used: it went, and is planned again
        assert wait_for(client, submit(client, photo_id, {"seconds": 0.5, "fps": 4, "seed": 0}).json()["id"]
                        )["reused_plan"] is False
        assert wait_for(client, submit(client, photo_id, {"seconds": 0.5, "fps": 4, "seed": 2}).json()["id"]
                        )["reused_plan"] is True
        assert len(pipeline.plans) == 4


def test_a_draft_mp4_is_encoded_fast_at_the_same_quality(tmp_path):
    """VideoWriter(draft=True) (previews): libx264's ultrafast preset, which x264 writes into the stream's own
    settings (no CABAC, no B-frames), and frames as close to the input as the normal encoding's."""
    frames = [np.roll(textured_photo(96, 160, seed=1), 3 * i, axis=1) for i in range(8)]
    errors = {}
    for draft in (False, True):
        path = tmp_path / f"{'draft' if draft else 'normal'}.mp4"
        with VideoWriter(path, fps=10, draft=draft) as writer:
            for frame in frames:
                writer.write(frame)
        data = path.read_bytes()
        assert (b"cabac=0" in data and b"bframes=0" in data) == draft
        assert b"crf=18.0" in data
        decoded = read_video_frames(path)
        errors[draft] = max(float(np.mean((a.astype(np.float64) - b) ** 2)) for a, b in zip(frames, decoded))
    psnr = {draft: 10 * np.log10(255 ** 2 / error) for draft, error in errors.items()}
    assert psnr[False] > 28 and psnr[True] > psnr[False] - 1.0, psnr   # 4:2:0 chroma bounds both


def test_an_event_stream_hears_of_the_end_at_once(tiny_pipeline, tmp_path, monkeypatch):
    """The worker tells a render's event streams when it ends: with the streams' look at the render made
    1000 s apart, the page still gets "done" (the stream would otherwise wait 1000 s)."""
    import json
    import threading

    from cinescape.web import app as web_app
    monkeypatch.setattr(web_app, "EVENT_INTERVAL_S", 1000.0)
    pipeline = BlockingPipeline(tiny_pipeline)
    with TestClient(create_app(pipeline, root=tmp_path)) as client:
        photo_id = client.post("/api/photos", content=EXAMPLE.read_bytes()).json()["id"]
        render = submit(client, photo_id, {"seconds": 1, "fps": 8}).json()
        assert pipeline.planning.wait(10)   # the render is running, held in its plan
        service = client.app.state.service
        running = service.render(render["id"])
        events: list[dict] = []

        def follow():
            with client.stream("GET", f"/api/renders/{render['id']}/events") as stream:
                events.extend(json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: "))
        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        deadline = time.monotonic() + 30
        while not running.finish_listeners and time.monotonic() < deadline:   # the stream is listening
            time.sleep(0.01)
        assert running.finish_listeners
        pipeline.release.set()
        follower.join(60)
        assert not follower.is_alive(), "the stream did not hear of the end"
        assert events[-1]["state"] == "done" and events[-1]["video_url"]
        ended = service.render(render["id"])
        assert ended.finish_listeners == []   # the stream took its listener away
        heard = []
        service.on_finish(ended, lambda: heard.append(1))   # an ended render: told at once, nothing kept
        assert heard == [1] and ended.finish_listeners == []
