"""The Ray backend of cinescape.batch on a local 2-CPU Ray: the same bytes and manifest as the local backend."""

from pathlib import Path

import pytest
from PIL import Image

from cinescape.batch import MANIFEST_NAME, animate_many, read_manifest
from test_batch import make_photos

ray = pytest.importorskip("ray", reason="the Ray backend needs Ray: pip install -e \".[distributed]\"")


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module (starting Ray takes seconds)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def test_ray_backend_writes_the_local_backends_bytes(local_ray, model_dir, tmp_path):
    photos = make_photos(tmp_path / "in", 3)
    corrupt = tmp_path / "in" / "corrupt.png"
    corrupt.write_bytes(b"not a photo")
    inputs = [*photos, corrupt]
    run = dict(model=model_dir, num_frames=4, seed=5, threads_per_worker=1, progress=False)

    # The local backend in this process (test_batch shows its worker processes write the same bytes).
    local = animate_many(inputs, tmp_path / "local", backend="local", workers=1, **run)
    on_ray = animate_many(inputs, tmp_path / "ray", backend="ray", workers=2, **run)

    assert [i.status for i in on_ray.items] == [i.status for i in local.items] == ["done"] * 3 + ["failed"]
    assert on_ray.failed[0].error == local.failed[0].error and "not an image" in on_ray.failed[0].error
    for photo in photos:
        assert (tmp_path / "ray" / f"{photo.stem}.mp4").read_bytes() == \
            (tmp_path / "local" / f"{photo.stem}.mp4").read_bytes()
    strip = lambda records: {k: {f: v for f, v in r.items() if f != "seconds"} for k, r in records.items()}  # noqa
    assert strip(read_manifest(tmp_path / "ray" / MANIFEST_NAME)) == strip(read_manifest(tmp_path / "local" /
                                                                                          MANIFEST_NAME))
    # A rerun on Ray skips what is done and retries the failure.
    Image.open(photos[0]).save(corrupt, format="PNG")   # the corrupt file is fixed meanwhile
    again = animate_many(inputs, tmp_path / "ray", backend="ray", workers=2, **run)
    assert [i.status for i in again.items] == ["skipped"] * 3 + ["done"]
    assert Path(again.items[3].output).read_bytes() == (tmp_path / "ray" / "photo0.mp4").read_bytes()
