"""The method contract (cinescape.methods.base): a toy fourth method, one package and a model folder, is used by
``cinescape animate --model DIR``, batches and ``cinescape evaluate`` without any change to those shells."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest

import cinescape.methods
from cinescape.cli import main
from cinescape.io.image import load_image, save_image

# A method whose frame i is the photo brightened by gain * i grey levels (clipped), gain from its model folder and
# its settings: a closed form to check the shells' output against.
TOY_PACKAGE = '''
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cinescape.errors import OptionError
from cinescape.io.image import load_image
from cinescape.methods import read_pipeline_config
from cinescape.methods.base import MethodPipeline, Offers


@dataclass
class ToySettings:
    num_frames: int = 5
    seed: int = 0
    step: int = 1

    def validate(self):
        if not 2 <= self.num_frames <= 100:
            raise OptionError(f"num_frames must be between 2 and 100, got {self.num_frames}")


class ToyAnimation:
    def __init__(self, photo, gain, settings):
        self.photo, self.gain, self.num_frames = photo, gain, settings.num_frames
        self.step = settings.step

    def frame(self, i):
        return np.clip(self.photo.astype(np.int32) + self.gain * self.step * i, 0, 255).astype(np.uint8)

    def frames(self):
        return (self.frame(i) for i in range(self.num_frames))


class ToyPipeline(MethodPipeline):
    settings_class = ToySettings
    offers = Offers()

    def __init__(self, gain):
        self.gain = gain

    @classmethod
    def from_pretrained(cls, folder=None):
        return cls(int(read_pipeline_config(folder)["gain"]))

    def plan(self, image, settings=None, *, progress=False, **per_call):
        photo = load_image(image) if isinstance(image, (str, Path)) else image
        return ToyAnimation(photo, self.gain, settings or ToySettings())
'''


@pytest.fixture
def toy_model(tmp_path, monkeypatch):
    """The toy package registered as ``cinescape.methods.toyfade`` (a folder added to the package's path) and a
    model folder of it (gain 7)."""
    root = tmp_path / "packages"
    (root / "toyfade").mkdir(parents=True)
    (root / "toyfade" / "__init__.py").write_text(textwrap.dedent(TOY_PACKAGE))
    monkeypatch.setattr(cinescape.methods, "__path__", [*cinescape.methods.__path__, str(root)])
    folder = tmp_path / "toy_model"
    folder.mkdir()
    (folder / "pipeline.json").write_text(json.dumps({"pipeline_class": "toyfade.ToyPipeline", "gain": 7}))
    yield folder
    sys.modules.pop("cinescape.methods.toyfade", None)


@pytest.fixture
def small_photo(tmp_path):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 200, (40, 48, 3), dtype=np.uint8)
    path = tmp_path / "photos" / "toy.png"
    path.parent.mkdir()
    save_image(photo, path)
    return path, photo


def _expected(photo, i, gain=7):
    return np.clip(photo.astype(np.int32) + gain * i, 0, 255).astype(np.uint8)


def test_toy_method_from_cinescape_animate(toy_model, small_photo, tmp_path, capsys):
    path, photo = small_photo
    out = tmp_path / "frames"
    assert main(["animate", str(path), "-o", f"{out}/", "--model", str(toy_model), "--frames", "4", "-q"]) == 0
    written = sorted(out.glob("*.png"))
    assert len(written) == 4
    for i, frame_path in enumerate(written):
        np.testing.assert_array_equal(load_image(frame_path), _expected(photo, i))


def test_toy_method_refuses_options_it_does_not_offer(toy_model, small_photo, tmp_path, capsys):
    path, _ = small_photo
    for option in (["--loop", "crossfade"], ["--reference", "sky=x.mp4"], ["--lighting", "0.5"],
                   ["--flow-video", str(tmp_path / "flow.mp4")]):
        code = main(["animate", str(path), "-o", str(tmp_path / "x.mp4"), "--model", str(toy_model), *option])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1, err
        assert f"{option[0]} is not available with --method toyfade" in err
        assert not (tmp_path / "x.mp4").exists()


def test_toy_method_in_a_batch(toy_model, small_photo, tmp_path):
    from cinescape.batch import animate_many

    path, photo = small_photo
    save_image(photo[::-1].copy(), path.parent / "toy2.png")
    result = animate_many(str(path.parent), str(tmp_path / "loops" / "{stem}") + "/", model=toy_model,
                          num_frames=3, step=2, progress=False)
    assert len(result.done) == 2 and not result.failed
    for name, source in (("toy", photo), ("toy2", photo[::-1])):
        frames = sorted((tmp_path / "loops" / name).glob("*.png"))
        assert len(frames) == 3
        np.testing.assert_array_equal(load_image(frames[2]), _expected(source, 2, gain=14))


def test_toy_method_in_cinescape_evaluate(toy_model, small_photo, tmp_path, capsys):
    path, _ = small_photo
    out = tmp_path / "eval"
    code = main(["evaluate", "--photos", str(path.parent), "--method", f"{toy_model}:step=0", "--frames", "3",
                 "--out", str(out), "--no-sheets"])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert str(toy_model) in json.dumps(metrics)


def test_toy_method_settings_and_eval_settings(toy_model):
    from cinescape.methods import load_pipeline, method_of
    from cinescape.methods.select import resolve_settings

    pipeline = load_pipeline(toy_model)
    assert method_of(pipeline) == "toyfade"
    assert resolve_settings(toy_model, step=3).step == 3
    settings = pipeline.eval_settings(9, 4, loop="none", appearance=False, overrides={"step": 2})
    assert (settings.num_frames, settings.seed, settings.step) == (9, 4, 2)


def test_toy_method_on_the_web_page(toy_model, small_photo, tmp_path, capsys):
    """``cinescape serve --model DIR`` takes the toy method (it names no control set: the page's basic one), and
    a render through the HTTP API gives the toy's frames: frame i is the photo + 7 i grey levels."""
    pytest.importorskip("fastapi")
    import io
    import time

    from fastapi.testclient import TestClient
    from PIL import Image

    from cinescape.io.video import read_video_frames
    from cinescape.methods import load_pipeline
    from cinescape.web import check_web_pipeline, create_app, page_kind

    pipeline = load_pipeline(toy_model)
    assert page_kind(pipeline) == "basic"
    check_web_pipeline(type(pipeline))
    ramp = np.linspace(20, 180, 128)   # a smooth 128x128 photo, which H.264 keeps within a level or two
    photo = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], 200 - ramp[None, :]), -1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="PNG")
    with TestClient(create_app(pipeline, root=tmp_path)) as client:
        info = client.get("/api/info").json()
        assert info["controls"] == "basic" and info["method"] == "toyfade" and info["kinds"] == []
        photo_id = client.post("/api/photos", content=buffer.getvalue()).json()["id"]
        mask = np.asarray(Image.open(io.BytesIO(client.get(f"/api/photos/{photo_id}/mask").content)))
        assert (mask == 255).all()   # no mask: everything the method moves, moves
        for body, fragment in (({"settings": {"arrows": []}}, 'unknown setting "arrows"'),
                               ({"settings": {"seconds": 0.1}}, "seconds must be between"),
                               ({"settings": {}, "mask": "data:image/png;base64,AAAA"}, "takes no mask")):
            response = client.post(f"/api/photos/{photo_id}/renders", json=body)
            assert response.status_code == 400 and fragment in response.json()["error"], response.text
            assert "\n" not in response.json()["error"]
        response = client.post(f"/api/photos/{photo_id}/renders",
                               json={"settings": {"seconds": 1, "fps": 5, "seed": 3}})
        assert response.status_code == 202, response.text
        render_id = response.json()["id"]
        deadline = time.monotonic() + 60
        while (status := client.get(f"/api/renders/{render_id}").json())["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert status["state"] == "done", status
        video = tmp_path / "toy.mp4"
        video.write_bytes(client.get(status["video_url"]).content)
    frames = read_video_frames(video)
    assert len(frames) == 5
    for i, frame in enumerate(frames):   # H.264 at CRF 18: within a few levels of the closed form
        assert np.abs(frame.astype(np.float64) - _expected(photo, i)).mean() < 3.0
    rise = [float(frame.astype(np.float64).mean() - frames[0].astype(np.float64).mean()) for frame in frames]
    np.testing.assert_allclose(rise, [7 * i for i in range(5)], atol=1.0)
