"""The CLI end to end on a tiny model: outputs, and one-line errors with no partial output for bad input."""

import io
import json

import av
import numpy as np
import pytest
from PIL import Image

from cinescape.cli import main

from conftest import run_cli


@pytest.fixture
def photo_path(tmp_path):
    """A random 45x67 noise photo (instead of conftest's 58x81 texture)."""
    rng = np.random.default_rng(0)
    path = tmp_path / "photo.png"
    Image.fromarray((rng.random((45, 67, 3)) * 255).astype(np.uint8)).save(path)
    return path


def assert_one_line_error(code, err):
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("cinescape: error:")
    assert "Traceback" not in err


def leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_animate_writes_mp4_at_the_photos_size(model_dir, photo_path, tmp_path, capsys):
    out = tmp_path / "loop.mp4"
    code, err = run_cli(["animate", photo_path, "-o", out, "--frames", 6, "--model", model_dir, "-q"], capsys)
    assert code == 0, err
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 6
    assert frames[0].shape[:2] == (46, 68)  # H.264 yuv420p needs even sizes: padded by one pixel


def test_animate_png_folder_and_flow_video(model_dir, photo_path, tmp_path, capsys):
    out = tmp_path / "frames"
    # recurrent: the flow changes every frame (an Eulerian flow video repeats one frame, which a GIF stores once)
    code, err = run_cli(["animate", photo_path, "-o", f"{out}/", "--frames", 4, "--loop", "none", "--mode", "recurrent",
                         "--model", model_dir, "--flow-video", tmp_path / "flow.gif", "-q"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["0000.png", "0001.png", "0002.png", "0003.png"]
    first = np.asarray(Image.open(out / "0000.png"))
    assert np.array_equal(first, np.asarray(Image.open(photo_path)))  # --loop none: frame 0 is the photo
    with Image.open(tmp_path / "flow.gif") as gif:
        assert gif.n_frames == 4


def test_help_of_each_command(capsys):
    for command in (["--help"], ["animate", "--help"], ["train", "--help"], ["codebook", "--help"]):
        assert main(command) == 0
    assert "--motion-speed" in capsys.readouterr().out


def _write_bad_inputs(folder):
    rng = np.random.default_rng(1)
    good = Image.fromarray((rng.random((60, 80, 3)) * 255).astype(np.uint8))
    buffer = io.BytesIO()
    good.save(buffer, format="PNG")
    data = buffer.getvalue()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    buffer = io.BytesIO()
    good.save(buffer, format="JPEG")
    (folder / "truncated.jpg").write_bytes(buffer.getvalue()[:300])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("this is not an image")
    Image.fromarray((rng.random((20, 20, 3)) * 255).astype(np.uint8)).save(folder / "tiny.png")
    (folder / "a_directory.png").mkdir()
    return ["truncated.png", "truncated.jpg", "empty.jpg", "text.jpg", "tiny.png", "a_directory.png", "missing.png"]


def test_bad_input_images_give_one_line_errors_and_no_output(model_dir, tmp_path, capsys):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    names = _write_bad_inputs(inputs)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for name in names:
        code, err = run_cli(["animate", inputs / name, "-o", out_dir / "out.mp4", "--frames", 3,
                             "--model", model_dir, "-q"], capsys)
        assert_one_line_error(code, err)
        assert leftovers(out_dir, set()) == [], name


@pytest.mark.parametrize("mode", ["L", "RGBA", "I;16", "CMYK", "P"])
def test_unusual_image_modes_are_animated(model_dir, tmp_path, capsys, mode):
    rng = np.random.default_rng(2)
    rgb = Image.fromarray((rng.random((40, 52, 3)) * 255).astype(np.uint8))
    image = rgb.convert("L").convert("I;16") if mode == "I;16" else rgb.convert(mode)
    path = tmp_path / ("in.jpg" if mode == "CMYK" else "in.png")
    image.save(path)
    code, err = run_cli(["animate", path, "-o", tmp_path / "o.webp", "--frames", 3, "--model", model_dir, "-q"],
                        capsys)
    assert code == 0, err
    with Image.open(tmp_path / "o.webp") as out:
        assert out.size == (52, 40) and out.n_frames == 3


def test_exif_rotated_photo_keeps_its_displayed_orientation(model_dir, tmp_path, capsys):
    rng = np.random.default_rng(3)
    image = Image.fromarray((rng.random((40, 64, 3)) * 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    out = tmp_path / "frames"
    code, err = run_cli(["animate", path, "-o", f"{out}/", "--frames", 2, "--model", model_dir, "-q"], capsys)
    assert code == 0, err
    assert Image.open(out / "0000.png").size == (40, 64)  # width and height swapped


@pytest.mark.parametrize("args,fragment", [
    (["--frames", "0"], "--frames"),
    (["--frames", "many"], "--frames"),
    (["--motion-speed", "-2"], "--motion-speed"),
    (["--fps", "0"], "--fps"),
    (["--loop", "pingpong"], "--loop"),
    (["--motion-code", "99"], "out of range"),
    (["--motion-code", "pc:7"], "code"),
    (["--frames", "9", "--appearance-speed", "2"], "multiple"),
])
def test_out_of_range_options(model_dir, photo_path, tmp_path, capsys, args, fragment):
    out = tmp_path / "o.mp4"
    code, err = run_cli(["animate", photo_path, "-o", out, "--model", model_dir, "-q", *args], capsys)
    assert_one_line_error(code, err)
    assert fragment in err
    assert not out.exists()


@pytest.mark.parametrize("output,fragment", [
    ("out.avi2", "extension"),
    ("missing_dir/out.mp4", "missing_dir"),
    ("a_file/out.mp4", "a_file"),
])
def test_bad_outputs(model_dir, photo_path, tmp_path, capsys, output, fragment):
    (tmp_path / "a_file").write_text("a file, not a folder")
    code, err = run_cli(["animate", photo_path, "-o", tmp_path / output, "--model", model_dir, "-q"], capsys)
    assert_one_line_error(code, err)
    assert fragment in err


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (no pixel data): enough to trip a size guard."""
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_huge_image_is_refused_before_decoding(model_dir, tmp_path, capsys):
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header_only(12000, 9000))  # 108 megapixels
    code, err = run_cli(["animate", path, "-o", tmp_path / "o.mp4", "--model", model_dir, "-q"], capsys)
    assert_one_line_error(code, err)
    assert "pixels" in err or "large" in err
    assert not (tmp_path / "o.mp4").exists()


def test_unwritable_output_directory(model_dir, photo_path, tmp_path, capsys):
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # running as root: permissions do not apply
            pytest.skip("directory permissions are not enforced for this user")
        code, err = run_cli(["animate", photo_path, "-o", locked / "o.mp4", "--model", model_dir, "-q"], capsys)
        assert_one_line_error(code, err)
    finally:
        locked.chmod(0o700)


def test_corrupt_or_foreign_model_folders(photo_path, tmp_path, capsys, model_dir):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "weights.bin").write_bytes(b"\0" * 10)
    corrupt = tmp_path / "corrupt"
    import shutil

    shutil.copytree(model_dir, corrupt)
    (corrupt / "motion_predictor" / "model.safetensors").write_bytes(b"garbage")
    wrong_type = tmp_path / "wrong_type"
    shutil.copytree(model_dir, wrong_type)
    config = json.loads((wrong_type / "motion_predictor" / "config.json").read_text())
    config["model_type"] = "something_else"
    (wrong_type / "motion_predictor" / "config.json").write_text(json.dumps(config))
    for folder in (foreign, corrupt, wrong_type, tmp_path / "nowhere"):
        out = tmp_path / "o.mp4"
        code, err = run_cli(["animate", photo_path, "-o", out, "--model", folder, "-q"], capsys)
        assert_one_line_error(code, err)
        assert not out.exists()


@pytest.mark.parametrize("extra, message", [
    (["--arrows", "arrows.json"], "--arrows is not available with --method deeplandscape"),
    (["--motion-code", "0"], "--motion-code is not available with --method deeplandscape"),
])
def test_deeplandscape_refuses_al_controls_in_one_line(tmp_path, capsys, extra, message):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((48, 64, 3), 120, np.uint8)).save(photo)
    code = main(["animate", str(photo), "-o", str(tmp_path / "out.mp4"), "--method", "deeplandscape", "-q", *extra])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.strip().startswith(f"cinescape: error: {message}")   # then which methods take it, in brackets
    assert not (tmp_path / "out.mp4").exists()
