"""Tests for cinescape.io: image loading/saving, tensor conversion, video writers and readers."""

from __future__ import annotations

import os
import struct
import zlib

import av
import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from cinescape.errors import InputImageError, OptionError, OutputError
from cinescape.io import (
    SUPPORTED_OUTPUTS,
    VideoWriter,
    image_to_tensor,
    load_image,
    read_clip,
    read_frame_folder,
    read_video_frames,
    save_image,
    tensor_to_image,
    write_video,
)

# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------


def _frames(w: int, h: int, n: int = 6) -> list[np.ndarray]:
    """Smooth frames: red ramps along x, green along y, blue steps per frame (distinct frames)."""
    y, x = np.mgrid[0:h, 0:w]
    red, green = x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1)
    return [np.stack([red, green, np.full_like(x, 20 + 40 * i)], -1).astype(np.uint8) for i in range(n)]


def _sky_frames(w: int, h: int, n: int = 6) -> list[np.ndarray]:
    """Landscape-like smooth frames: a vertical sky gradient with a drifting ripple, brightening."""
    y, x = np.mgrid[0:h, 0:w]
    t = (y / (h - 1))[..., None]
    top, bottom = np.array([40.0, 90.0, 170.0]), np.array([230.0, 225.0, 210.0])
    sky = top * (1 - t) + bottom * t
    ripple = [10 * np.sin(x / 10 + i)[..., None] + 3 * i for i in range(n)]
    return [np.clip(sky + r, 0, 255).astype(np.uint8) for r in ripple]


def _gif_colour_tables(data: bytes) -> tuple[bool, int, int]:
    """Walk a GIF's blocks: (has a global colour table, number of frames, frames with a local table)."""

    def table_bytes(packed: int) -> int:
        return 3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0

    i = 13 + table_bytes(data[10])
    frames = local = 0
    while data[i] != 0x3B:  # trailer
        if data[i] == 0x21:  # extension: label, then data sub-blocks
            i += 2
        else:  # 0x2C image descriptor, local table, LZW code size, then data sub-blocks
            assert data[i] == 0x2C
            frames += 1
            local += bool(data[i + 9] & 0x80)
            i += 10 + table_bytes(data[i + 9]) + 1
        while data[i]:
            i += data[i] + 1
        i += 1
    return bool(data[10] & 0x80), frames, local


def _decode_pyav(path) -> tuple[list[np.ndarray], tuple]:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        info = (stream.codec_context.name, stream.codec_context.pix_fmt, stream.average_rate)
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return frames, info


def _assert_one_line(exc: pytest.ExceptionInfo) -> None:
    message = str(exc.value)
    assert message and "\n" not in message


def _read_png(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _png_header(w: int, h: int) -> bytes:
    """A tiny PNG that declares a w x h RGB image but carries no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _noise_image(path, w=64, h=64, mode="RGB", **save_kw) -> np.ndarray:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(arr).convert(mode).save(path, **save_kw)
    return arr


# ------------------------------------------------------------------------------------------------
# video writers
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext,codec", [(".mp4", "h264"), (".webm", "vp9"), (".MP4", "h264")])
@pytest.mark.parametrize("w,h", [(66, 50), (65, 49)])
def test_h264_vp9_roundtrip(tmp_path, ext, codec, w, h):
    frames = _frames(w, h)
    path = tmp_path / f"loop{ext}"
    assert write_video(frames, path, fps=12) == 6
    decoded, (name, pix_fmt, rate) = _decode_pyav(path)
    assert (name, pix_fmt, rate) == (codec, "yuv420p", 12)
    assert len(decoded) == 6
    # Odd sizes are padded up to even by edge replication.
    assert decoded[0].shape == (h + h % 2, w + w % 2, 3)
    for got, want in zip(decoded, frames):
        np.testing.assert_allclose(got[:h, :w].reshape(-1, 3).mean(0), want.reshape(-1, 3).mean(0), atol=3)
        assert np.abs(got[:h, :w].astype(int) - want).mean() < 4
    if w % 2:  # the padded column repeats the last one
        assert np.abs(decoded[0][:h, w].astype(int) - decoded[0][:h, w - 1]).mean() < 4
    assert os.listdir(tmp_path) == [path.name]  # no temporary files left


def test_mp4_faststart(tmp_path):
    path = tmp_path / "a.mp4"
    write_video(_frames(66, 50, 3), path, fps=24)
    data = path.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")


def test_gif_roundtrip_palette_loop_and_timing(tmp_path):
    w, h = 66, 50
    frames = _sky_frames(w, h)
    path = tmp_path / "loop.gif"
    write_video(frames, path, fps=12)
    with Image.open(path) as im:
        assert im.n_frames == 6
        assert im.info["loop"] == 0
        durations, decoded = [], []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
            decoded.append(np.asarray(im.convert("RGB")))
    # Centisecond delays: cumulative rounding keeps the total at 6 / 12 s.
    assert sum(durations) == 500 and set(durations) <= {80, 90}
    assert _gif_colour_tables(path.read_bytes()) == (True, 6, 0)  # one global palette, no local ones
    errors = [np.abs(d.astype(int) - f).mean() for d, f in zip(decoded, frames)]
    assert max(errors) < 2.5, errors  # measured ~1.7 with the global median-cut palette
    # read_video_frames decodes GIFs too.
    back = read_video_frames(path)
    assert len(back) == 6 and back[0].shape == (h, w, 3)


def test_webp_roundtrip(tmp_path):
    frames = _frames(65, 49)
    path = tmp_path / "loop.webp"
    write_video(frames, path, fps=10)
    with Image.open(path) as im:
        assert im.is_animated and im.n_frames == 6
        assert im.info.get("loop") == 0
        assert im.size == (65, 49)
    back = read_video_frames(path)
    assert len(back) == 6
    for got, want in zip(back, frames):
        assert np.abs(got.astype(int) - want).mean() < 4


def test_png_folder_exact_and_natural_sort(tmp_path):
    frames = _frames(65, 49)
    out = tmp_path / "frames"
    write_video(frames, f"{out}/", fps=10)
    assert sorted(os.listdir(out)) == [f"{i:04d}.png" for i in range(6)]
    for i, frame in enumerate(frames):
        np.testing.assert_array_equal(_read_png(out / f"{i:04d}.png"), frame)
    back = read_clip(out)
    assert all((a == b).all() for a, b in zip(back, frames))
    assert sorted(os.listdir(tmp_path)) == ["frames"]


def test_png_folder_wide_numbering(tmp_path):
    tiny = np.zeros((2, 2, 3), np.uint8)
    write_video((tiny for _ in range(10001)), f"{tmp_path}/many/", fps=30)
    names = sorted(os.listdir(tmp_path / "many"))
    assert len(names) == 10001 and names[0] == "00000.png" and names[-1] == "10000.png"


def test_png_folder_existing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # An existing empty directory is a folder output even without a trailing slash.
    write_video(_frames(40, 40, 2), out, fps=5)
    assert sorted(os.listdir(out)) == ["0000.png", "0001.png"]
    with pytest.raises(OutputError, match="not empty") as exc:
        VideoWriter(f"{out}/", fps=5)
    _assert_one_line(exc)
    write_video(_frames(40, 40, 1), f"{out}/", fps=5, overwrite=True)
    assert sorted(os.listdir(out)) == ["0000.png"]
    assert sorted(os.listdir(tmp_path)) == ["out"]


@pytest.mark.parametrize("name", ["a.mp4", "a.webm", "a.gif", "a.webp", "frames/"])
def test_exception_inside_with_leaves_nothing(tmp_path, name):
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(tmp_path / name if not name.endswith("/") else f"{tmp_path}/{name}", fps=10) as w:
            for frame in _frames(40, 34, 3):
                w.write(frame)
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_zero_frames_and_bad_frames_leave_nothing(tmp_path):
    with VideoWriter(tmp_path / "a.mp4", fps=10) as w:
        pass
    assert w.frames_written == 0 and os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="no frames"):
        write_video([], tmp_path / "b.mp4")
    with pytest.raises(ValueError, match="uint8"):
        with VideoWriter(tmp_path / "c.mp4", fps=10) as w:
            w.write(np.zeros((40, 40, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        with VideoWriter(tmp_path / "d.gif", fps=10) as w:
            w.write(np.zeros((40, 40), np.uint8))
    with pytest.raises(ValueError, match="40x40"):
        with VideoWriter(tmp_path / "e.webm", fps=10, size=(40, 40)) as w:
            w.write(np.zeros((40, 40, 3), np.uint8))
            w.write(np.zeros((42, 40, 3), np.uint8))
    assert os.listdir(tmp_path) == []


def test_output_path_errors(tmp_path):
    with pytest.raises(OutputError, match=r"\.mp4") as exc:
        VideoWriter(tmp_path / "a.avi", fps=10)
    _assert_one_line(exc)
    with pytest.raises(OutputError, match="no extension"):
        VideoWriter(tmp_path / "noextension", fps=10)
    with pytest.raises(OutputError, match="does not exist") as exc:
        VideoWriter(tmp_path / "missing" / "a.mp4", fps=10)
    _assert_one_line(exc)
    (tmp_path / "dir.mp4").mkdir()
    with pytest.raises(OutputError, match="directory"):
        VideoWriter(tmp_path / "dir.mp4", fps=10)
    with pytest.raises(OptionError):
        VideoWriter(tmp_path / "a.mp4", fps=0)
    assert os.listdir(tmp_path) == ["dir.mp4"]
    assert ".webm" in SUPPORTED_OUTPUTS and ".gif" in SUPPORTED_OUTPUTS


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions, not root")
def test_unwritable_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="not writable"):
            VideoWriter(locked / "a.mp4", fps=10)
    finally:
        locked.chmod(0o700)


def test_unwritable_directory_probe(tmp_path, monkeypatch):
    """Same check, also under root: the constructor probes the directory by creating a file."""
    import cinescape.io.image as image_module

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(image_module, "open", denied, raising=False)
    with pytest.raises(OutputError, match="not writable") as exc:
        VideoWriter(tmp_path / "a.webm", fps=10)
    _assert_one_line(exc)


# ------------------------------------------------------------------------------------------------
# readers
# ------------------------------------------------------------------------------------------------


def test_read_video_stride_max_frames(tmp_path):
    frames = _frames(40, 32, 6)
    write_video(frames, tmp_path / "a.mp4", fps=10)
    picked = read_video_frames(tmp_path / "a.mp4", stride=2, max_frames=2)
    assert len(picked) == 2
    blue = [int(round(f[..., 2].mean())) for f in picked]
    assert abs(blue[0] - 20) <= 3 and abs(blue[1] - 100) <= 3  # frames 0 and 2


def test_read_frame_folder_natural_order_and_errors(tmp_path):
    folder = tmp_path / "clip"
    folder.mkdir()
    for i in (1, 2, 10):
        Image.fromarray(np.full((8, 8, 3), i, np.uint8)).save(folder / f"f{i}.png")
    (folder / "notes.txt").write_text("ignored")
    frames = read_frame_folder(folder)
    assert [int(f[0, 0, 0]) for f in frames] == [1, 2, 10]
    assert [int(f[0, 0, 0]) for f in read_clip(folder, stride=2)] == [1, 10]
    Image.fromarray(np.zeros((9, 8, 3), np.uint8)).save(folder / "f11.png")
    with pytest.raises(InputImageError, match="same size"):
        read_frame_folder(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputImageError, match="no frame images"):
        read_frame_folder(tmp_path / "empty")


def test_reader_errors(tmp_path):
    with pytest.raises(InputImageError, match="no such file"):
        read_clip(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputImageError, match="empty"):
        read_video_frames(tmp_path / "empty.mp4")
    (tmp_path / "text.mp4").write_text("this is not a video\n" * 20)
    with pytest.raises(InputImageError) as exc:
        read_video_frames(tmp_path / "text.mp4")
    _assert_one_line(exc)
    (tmp_path / "text.gif").write_text("this is not a gif\n" * 20)
    with pytest.raises(InputImageError):
        read_video_frames(tmp_path / "text.gif")


# ------------------------------------------------------------------------------------------------
# load_image
# ------------------------------------------------------------------------------------------------


def test_load_rgb_grey_and_bilevel(tmp_path):
    arr = _noise_image(tmp_path / "rgb.png")
    np.testing.assert_array_equal(load_image(tmp_path / "rgb.png"), arr)
    Image.fromarray((np.arange(64 * 40) % 256).astype(np.uint8).reshape(40, 64)).save(tmp_path / "l.png")
    grey = load_image(tmp_path / "l.png")
    assert grey.shape == (40, 64, 3) and grey.dtype == np.uint8
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    Image.new("1", (40, 40), 1).save(tmp_path / "bw.png")
    assert (load_image(tmp_path / "bw.png") == 255).all()


def test_load_rgba_composited_over_white(tmp_path):
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., :3] = (10, 20, 30)
    rgba[0, 0] = (0, 0, 0, 0)  # fully transparent -> white
    rgba[0, 1] = (10, 20, 30, 255)  # opaque -> unchanged
    rgba[0, 2] = (0, 0, 0, 128)  # half transparent black -> mid grey
    Image.fromarray(rgba).save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    assert out.shape == (40, 40, 3)
    assert tuple(out[0, 0]) == (255, 255, 255)
    assert tuple(out[0, 1]) == (10, 20, 30)
    assert all(abs(int(v) - 127) <= 1 for v in out[0, 2])
    # LA and palette-with-transparency take the same path.
    Image.fromarray(rgba).convert("LA").save(tmp_path / "la.png")
    assert tuple(load_image(tmp_path / "la.png")[0, 0]) == (255, 255, 255)
    pal = Image.new("P", (40, 40), 1)
    pal.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    pal.putpixel((0, 0), 0)
    pal.save(tmp_path / "p.png", transparency=0)
    out = load_image(tmp_path / "p.png")
    assert tuple(out[0, 0]) == (255, 255, 255) and tuple(out[5, 5]) == (200, 0, 0)


def test_load_16bit_png(tmp_path):
    grey = np.zeros((40, 40), np.uint16)
    grey[0, 0], grey[0, 1], grey[0, 2] = 65535, 32896, 257
    Image.fromarray(grey).save(tmp_path / "g16.png")
    with Image.open(tmp_path / "g16.png") as im:
        assert im.mode.startswith("I")
    out = load_image(tmp_path / "g16.png")
    assert tuple(out[0, 0]) == (255, 255, 255)
    assert tuple(out[0, 1]) == (128, 128, 128)
    assert tuple(out[0, 2]) == (1, 1, 1) and tuple(out[1, 1]) == (0, 0, 0)


def test_load_cmyk_jpeg(tmp_path):
    rgb = np.zeros((40, 40, 3), np.uint8)
    rgb[:] = (200, 60, 30)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    with Image.open(tmp_path / "c.jpg") as im:
        assert im.mode == "CMYK"
    out = load_image(tmp_path / "c.jpg")
    np.testing.assert_allclose(out.reshape(-1, 3).mean(0), (200, 60, 30), atol=6)


def test_load_exif_orientation(tmp_path):
    stored = np.zeros((40, 64, 3), np.uint8)  # 64 wide, 40 high as stored
    stored[:10, :10] = (255, 0, 0)  # red mark in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(stored).save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=95)
    out = load_image(tmp_path / "r.jpg")
    assert out.shape == (64, 40, 3)  # width and height swapped
    assert out[:8, -8:, 0].mean() > 200 and out[:8, -8:, 1].mean() < 60  # now top-right
    assert out[-8:, :8].mean() < 30


def test_load_animated_takes_first_frame(tmp_path):
    frames = [Image.new("RGB", (40, 40), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], loop=0)
    assert tuple(load_image(tmp_path / "a.gif")[5, 5]) == (255, 0, 0)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_load_truncated(tmp_path, fmt):
    path = tmp_path / f"t.{fmt.lower()}"
    _noise_image(path, 128, 128, format=fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputImageError, match="truncated or corrupt") as exc:
        load_image(path)
    _assert_one_line(exc)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_load_image_errors(tmp_path):
    Image.new("RGB", (20, 20)).save(tmp_path / "tiny.png")
    with pytest.raises(InputImageError, match="too small") as exc:
        load_image(tmp_path / "tiny.png")
    _assert_one_line(exc)
    (tmp_path / "zero.png").write_bytes(b"")
    with pytest.raises(InputImageError, match="empty"):
        load_image(tmp_path / "zero.png")
    (tmp_path / "text.jpg").write_text("definitely not a JPEG\n" * 10)
    with pytest.raises(InputImageError, match="not an image"):
        load_image(tmp_path / "text.jpg")
    with pytest.raises(InputImageError, match="directory"):
        load_image(tmp_path)
    with pytest.raises(InputImageError, match="no such file"):
        load_image(tmp_path / "missing.png")
    Image.new("RGB", (100, 100)).save(tmp_path / "big.png")
    with pytest.raises(InputImageError, match=r"100x100.*limit") as exc:
        load_image(tmp_path / "big.png", max_pixels=1000)
    _assert_one_line(exc)
    # Header-only PNGs: the size guard must fire before any pixel data is needed.
    (tmp_path / "60mp.png").write_bytes(_png_header(10000, 6000))
    with pytest.raises(InputImageError, match=r"10000x6000 \(60.0 megapixels\), over the limit of 50 "):
        load_image(tmp_path / "60mp.png")
    (tmp_path / "400mp.png").write_bytes(_png_header(20000, 20000))  # beyond Pillow's own guard
    with pytest.raises(InputImageError, match=r"400.0 megapixels, over the limit") as exc:
        load_image(tmp_path / "400mp.png")
    _assert_one_line(exc)
    # The InputImageError hierarchy lets callers catch ValueError too.
    assert issubclass(InputImageError, ValueError)


# ------------------------------------------------------------------------------------------------
# tensors and save_image
# ------------------------------------------------------------------------------------------------


def test_tensor_roundtrip_and_range():
    arr = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    t = image_to_tensor(arr)
    assert t.shape == (1, 3, 5, 7) and t.dtype == torch.float32
    assert t.min() >= -1 and t.max() <= 1
    assert float(image_to_tensor(np.zeros((1, 1, 3), np.uint8)).min()) == -1.0
    np.testing.assert_array_equal(tensor_to_image(t), arr)
    np.testing.assert_array_equal(tensor_to_image(t[0].double()), arr)
    clamped = tensor_to_image(torch.full((3, 2, 2), 5.0))
    assert clamped.dtype == np.uint8 and (clamped == 255).all()
    with pytest.raises(ValueError):
        image_to_tensor(arr.astype(np.float32))
    with pytest.raises(ValueError):
        tensor_to_image(torch.zeros(2, 3, 4, 4))


def test_save_image_atomic(tmp_path):
    arr = np.random.default_rng(2).integers(0, 256, (33, 35, 3), dtype=np.uint8)
    save_image(arr, tmp_path / "x.png")
    save_image(arr, tmp_path / "x.png")  # replaces
    np.testing.assert_array_equal(_read_png(tmp_path / "x.png"), arr)
    save_image(arr, tmp_path / "x.JPG")
    with Image.open(tmp_path / "x.JPG") as im:
        assert im.format == "JPEG"
    with pytest.raises(OutputError, match="extension"):
        save_image(arr, tmp_path / "x.xyz")
    with pytest.raises(OutputError, match="does not exist"):
        save_image(arr, tmp_path / "nope" / "x.png")
    assert sorted(os.listdir(tmp_path)) == ["x.JPG", "x.png"]
