"""Many photos in one run (cinescape.batch): outputs equal one-photo runs, bad items fail alone, resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cinescape.batch import MANIFEST_NAME, animate_many, read_manifest
from cinescape.data.synthetic import generate_landscape_photo
from cinescape.io import read_video_frames
from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]


def make_photos(folder: Path, count: int, height: int = 40, width: int = 56) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"photo{i}.png"
        Image.fromarray(generate_landscape_photo(height, width, seed=i)).save(path)
        paths.append(path)
    return paths


def temporaries(folder: Path) -> list[Path]:
    """Hidden temporary outputs (``.NAME.<hex>.tmp``) a writer left behind."""
    return [p for p in folder.rglob(".*") if p.name.endswith((".tmp", ".probe", ".old"))]


def manifest_lines(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / MANIFEST_NAME).read_text().splitlines()]


def test_batch_equals_single_runs_and_bad_items_fail_alone(model_dir, tmp_path, capsys):
    photos = make_photos(tmp_path / "in", 2)
    corrupt = tmp_path / "in" / "corrupt.png"
    corrupt.write_bytes(Image.open(photos[0]).tobytes()[:300])      # raw pixels, no image header
    directory = tmp_path / "in" / "folder.png"
    directory.mkdir()
    out = tmp_path / "out"
    options = ["--frames", 4, "--model", model_dir, "--seed", 3, "-q"]

    code, err = run_cli(["animate", photos[0], photos[1], corrupt, directory, "-o", f"{out}/", "--workers", 2,
                         *options], capsys)
    assert code == 1, err
    failures = [line for line in err.splitlines() if line.startswith("cinescape: failed:")]
    assert len(failures) == 2, err
    assert any("corrupt.png" in line and "not an image" in line for line in failures), err
    assert any("folder.png" in line and "it is a directory" in line for line in failures), err
    assert "2 animated, 0 already done, 2 failed" in err

    # Each photo's batch output is byte-identical to `cinescape animate PHOTO` with the same settings and seed,
    # whatever its position in the batch.
    for photo in photos:
        single = tmp_path / f"single_{photo.stem}.mp4"
        code, err = run_cli(["animate", photo, "-o", single, *options], capsys)
        assert code == 0, err
        assert (out / f"{photo.stem}.mp4").read_bytes() == single.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "photo0.mp4", "photo1.mp4"]

    records = {r["input"]: r for r in manifest_lines(out)}
    assert records[str(photos[0])]["status"] == "done" and records[str(photos[0])]["seed"] == 3
    assert records[str(photos[0])]["settings"]["num_frames"] == 4 and records[str(photos[0])]["error"] is None
    assert records[str(corrupt)]["status"] == "failed" and "not an image" in records[str(corrupt)]["error"]
    assert records[str(directory)]["status"] == "failed" and "\n" not in records[str(directory)]["error"]

    # Rerun: the done photos are skipped (untouched), the failed ones are tried again (and fail again).
    mtimes = {p: (out / f"{p.stem}.mp4").stat().st_mtime_ns for p in photos}
    code, err = run_cli(["animate", photos[0], photos[1], corrupt, directory, "-o", f"{out}/", *options], capsys)
    assert code == 1 and "0 animated, 2 already done, 2 failed" in err, err
    assert {p: (out / f"{p.stem}.mp4").stat().st_mtime_ns for p in photos} == mtimes
    assert len(manifest_lines(out)) == 6


def test_settings_change_redoes_and_deleted_output_is_redone(model_dir, tmp_path):
    make_photos(tmp_path / "in", 3)
    out = tmp_path / "out"
    run = dict(model=model_dir, num_frames=4, progress=False)
    first = animate_many(tmp_path / "in", out, **run)                         # a folder of photos
    assert [i.status for i in first.items] == ["done"] * 3 and first.ok
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.mp4")}

    again = animate_many(tmp_path / "in", out, **run)
    assert [i.status for i in again.items] == ["skipped"] * 3
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.mp4")} == mtimes

    (out / "photo1.mp4").unlink()                                             # a lost output is done again
    partly = animate_many(tmp_path / "in", out, **run)
    assert [i.status for i in partly.items] == ["skipped", "done", "skipped"]

    changed = animate_many(str(tmp_path / "in" / "*.png"), out, **{**run, "num_frames": 5})  # a glob, new settings
    assert [i.status for i in changed.items] == ["done"] * 3
    assert all(len(read_video_frames(out / f"photo{i}.mp4")) == 5 for i in range(3))
    hashes = {r["settings_hash"] for r in read_manifest(out / MANIFEST_NAME).values()}
    assert len(hashes) == 3  # one per photo (the photo's bytes are hashed too), none left from num_frames=4


def test_outputs_by_pattern_and_errors_before_any_work(model_dir, tmp_path, capsys):
    photos = make_photos(tmp_path / "in", 2)
    result = animate_many(photos, str(tmp_path / "gifs" / "{stem}_loop.gif"), model=model_dir, num_frames=3,
                          progress=False)
    assert result.ok and sorted(p.name for p in (tmp_path / "gifs").iterdir()) == [
        MANIFEST_NAME, "photo0_loop.gif", "photo1_loop.gif"]

    from cinescape.batch.job import _lock_manifest
    from cinescape.errors import OutputError

    lock = _lock_manifest(tmp_path / "gifs" / MANIFEST_NAME)      # another batch is writing into that folder
    try:
        with pytest.raises(OutputError, match="another batch is writing into"):
            animate_many(photos, str(tmp_path / "gifs" / "{stem}_loop.gif"), model=model_dir, num_frames=3,
                         progress=False)
    finally:
        os.close(lock)

    other = tmp_path / "other"
    other.mkdir()
    Image.open(photos[0]).save(other / "photo0.png")
    for args, fragment in [
        ([photos[0], "-o", tmp_path / "one.mp4", "--workers", 2], "--workers, --backend and --ray-address are for"),
        ([tmp_path / "in", "-o", tmp_path / "loop.mp4"], "several photos need an output folder"),
        ([photos[0], other / "photo0.png", "-o", f"{tmp_path / 'o'}/"], "would both be written to"),
        ([tmp_path / "in", "-o", f"{tmp_path / 'o'}/", "--mask", photos[0]], "--mask is for one photo"),
        ([tmp_path / "in", "-o", str(tmp_path / "o" / "{stem}.png")], "unknown extension"),
        ([tmp_path / "in", "-o", str(tmp_path / "o" / "{size}.mp4")], "use the fields {stem}, {name} or {parent}"),
        ([tmp_path / "in", "-o", f"{tmp_path / 'o2'}/", "--model", tmp_path / "missing"], "does not exist"),
    ]:
        code, err = run_cli(["animate", *args, "--frames", 3, "-q"], capsys)
        assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1, (args, err)
        assert not list(tmp_path.glob("o*/*.mp4"))


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to find the worker processes")
def test_sigkill_half_way_then_rerun_finishes_the_rest(model_dir, tmp_path, capsys):
    count = 8
    make_photos(tmp_path / "in", count, height=96, width=128)
    out = tmp_path / "out"
    args = ["animate", tmp_path / "in", "-o", f"{out}/", "--frames", 32, "--model", model_dir, "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    batch = subprocess.Popen([sys.executable, "-c", "import sys; from cinescape.cli import main; sys.exit(main())",
                              *map(str, args), "--workers", "2"], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while time.monotonic() < deadline and batch.poll() is None:
        workers = _children(batch.pid) or workers
        if (out / MANIFEST_NAME).exists() and len(read_manifest(out / MANIFEST_NAME)) >= 2:
            break
        time.sleep(0.02)
    batch.send_signal(signal.SIGKILL)
    batch.wait()
    batch.stderr.close()
    # The orphaned workers notice, abort their items (deleting the temporary outputs) and exit.
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{w}").exists() for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert workers and not any(Path(f"/proc/{w}").exists() for w in workers)
    assert temporaries(out) == []
    done_before = {r["output"]: (out / r["output"]).stat().st_mtime_ns
                   for r in read_manifest(out / MANIFEST_NAME).values() if r["status"] == "done"}
    assert 2 <= len(done_before) < count, "the batch finished before it could be killed half-way"
    # Only complete videos carry the final names.
    for video in out.glob("*.mp4"):
        assert len(read_video_frames(video)) == 32, video

    code, err = run_cli(args, capsys)
    assert code == 0, err
    assert f"{count - len(done_before)} animated, {len(done_before)} already done, 0 failed" in err
    assert {name: (out / name).stat().st_mtime_ns for name in done_before} == done_before  # nothing redone
    statuses = [r["status"] for r in manifest_lines(out)]
    assert statuses.count("done") == count and "failed" not in statuses
    assert sorted(p.name for p in out.glob("*.mp4")) == [f"photo{i}.mp4" for i in range(count)]
    assert temporaries(out) == []


def test_interrupted_in_process_item_leaves_nothing(model_dir, tmp_path, monkeypatch):
    """Ctrl-C during an item: the item's temporary output is deleted, the items before it stay done."""
    from cinescape.io.video import VideoWriter

    make_photos(tmp_path / "in", 3)
    out = tmp_path / "out"
    written = {"frames": 0}
    original_write = VideoWriter.write

    def write(self, frame):
        written["frames"] += 1
        if written["frames"] == 4 + 2:   # photo0's 4 frames, then 2 frames into photo1
            raise KeyboardInterrupt
        return original_write(self, frame)

    monkeypatch.setattr(VideoWriter, "write", write)
    with pytest.raises(KeyboardInterrupt):
        animate_many(tmp_path / "in", out, model=model_dir, num_frames=4, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "photo0.mp4"]
    monkeypatch.setattr(VideoWriter, "write", original_write)
    result = animate_many(tmp_path / "in", out, model=model_dir, num_frames=4, progress=False)
    assert [i.status for i in result.items] == ["skipped", "done", "done"]
    frames = read_video_frames(out / "photo1.mp4")
    assert len(frames) == 4 and np.asarray(frames[0]).shape == (40, 56, 3)
