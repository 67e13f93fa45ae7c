"""Known-answer tests of `cinescape evaluate --photos` (cinescape.eval.photos) on tiny synthetic photos."""

import json
import math

import cv2
import numpy as np
import pytest

from cinescape.errors import OptionError
from cinescape.eval import photo_metrics
from cinescape.eval import photos as P


def textured_photo(height: int = 72, width: int = 96, seed: int = 0) -> np.ndarray:
    """A uint8 (H, W, 3) photo of smooth random texture in greens and blues (no magenta anywhere)."""
    rng = np.random.default_rng(seed)
    noise = rng.random((height // 4 + 2, width // 4 + 2, 3)).astype(np.float32)
    texture = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    texture = cv2.GaussianBlur(texture, (0, 0), 0.7)
    photo = np.empty((height, width, 3), np.float32)
    photo[..., 0] = 20 + 40 * texture[..., 0]          # red stays low
    photo[..., 1] = 60 + 150 * texture[..., 1]
    photo[..., 2] = 50 + 160 * texture[..., 2]
    return np.clip(photo, 0, 255).round().astype(np.uint8)


def coherence(frames, photo, region=None, stride=1):
    return P.patch_coherence(frames, P.NearestPatchIndex(photo.astype(np.float32)), region, stride)


def test_static_frames_have_coherence_exactly_zero():
    photo = textured_photo()
    frames = list(P.StaticPhotoMethod().frames(photo, 5, seed=0))
    assert len(frames) == 5 and all(f is photo or np.array_equal(f, photo) for f in frames)
    assert coherence(frames, photo) == 0.0
    normalised = [P.match_colour_statistics(f, photo) for f in frames]
    assert coherence(normalised, photo) < 1e-3


def test_integer_rigid_shift_has_zero_coherence_in_the_interior():
    photo = textured_photo()
    dx, dy = 3, 2
    frame = P.shift_frame(photo, dx, dy)
    assert np.array_equal(frame[dy:, dx:], photo[:-dy, :-dx])  # an integer shift is an exact copy
    interior = np.zeros(photo.shape[:2], bool)
    interior[dy + 3:-3, dx + 3:-3] = True  # patches that lie wholly in the moved copy
    assert coherence([frame], photo, interior) == 0.0
    assert coherence([frame], photo) > 0  # patches at the reflected border are new


def test_a_pasted_foreign_square_is_incoherent_only_where_it_is():
    photo = textured_photo()
    frame = photo.copy()
    frame[30:40, 50:60] = (255, 0, 255)  # magenta: no such patch in the photo
    near = np.zeros(photo.shape[:2], bool)
    near[27:43, 47:63] = True  # centres of the patches that overlap the square
    index = P.NearestPatchIndex(photo.astype(np.float32))
    assert P.patch_coherence([frame], index, near) > 50
    assert P.patch_coherence([frame], index, ~near) == 0.0
    assert 0 < P.patch_coherence([frame], index) < P.patch_coherence([frame], index, near)


def test_colour_normalisation_removes_a_global_change_but_not_a_halo():
    photo = textured_photo()
    graded = photo.astype(np.float32) * 0.8 + 20  # a global gain and offset (unrounded)
    assert coherence([graded], photo) > 3
    assert coherence([P.match_colour_statistics(graded, photo)], photo) < 0.05

    halo = photo.astype(np.float32)
    halo[:, 40:44] += (60, -30, 0)  # a coloured band, as along a ridge
    raw = coherence([halo], photo)
    normalised = coherence([P.match_colour_statistics(halo, photo)], photo)
    assert raw > 2 and normalised > 0.5 * raw


def test_dis_motion_of_an_integer_shift_inside_a_mask_and_none_outside():
    photo = textured_photo(128, 160, seed=1)
    mask = np.zeros(photo.shape[:2], bool)
    mask[:64] = True
    frames = np.stack([np.where(mask[..., None], P.shift_frame(photo, 2 * t, 0), photo) for t in range(4)])
    inside, outside = P.region_motion(frames, mask)
    assert inside == pytest.approx(2.0, rel=0.15)
    assert outside < 0.2


def test_sharpness_of_the_photo_is_one_and_of_a_blur_below():
    photo = textured_photo()
    blurred = cv2.GaussianBlur(photo, (0, 0), 1.5)
    assert P.sharpness_ratio([photo, photo], photo) == pytest.approx(1.0, abs=1e-6)
    assert P.sharpness_ratio([blurred], photo) < 0.5
    region = np.zeros(photo.shape[:2], bool)
    region[:36] = True
    assert P.sharpness_ratio([photo], photo, region) == pytest.approx(1.0, abs=1e-6)
    assert math.isnan(P.sharpness_ratio([photo], photo, np.zeros_like(region)))


def test_seam_ratio_matches_the_clip_metric():
    from cinescape.eval import metrics as M

    frames = np.stack([P.shift_frame(textured_photo(), t, 0) for t in range(5)])
    assert P.seam_ratio_uint8(frames) == pytest.approx(M.seam_ratio(M.frames_to_tensor(frames)), rel=1e-6)
    assert math.isnan(P.seam_ratio_uint8(np.repeat(frames[:1], 4, axis=0)))


def test_approximate_search_is_close_to_exact_and_never_below(monkeypatch):
    # the PCA + IVF path on a small photo (fewer cells than for a 384-px photo, to stay fast)
    monkeypatch.setattr(P.NearestPatchIndex, "EXACT_BELOW", 1000)
    monkeypatch.setattr(P.NearestPatchIndex, "IVF_LISTS", 64)
    monkeypatch.setattr(P.NearestPatchIndex, "IVF_PROBES", 8)
    photo = textured_photo(96, 128, seed=2)
    frame = cv2.GaussianBlur(photo, (0, 0), 0.8)
    queries = P.extract_patches(frame)[::2, ::2].reshape(-1, 147)
    approximate = P.NearestPatchIndex(photo.astype(np.float32))
    exact = P.NearestPatchIndex(photo.astype(np.float32), exact=True)
    assert not approximate.exact and exact.exact
    found, best = approximate.squared_distances(queries), exact.squared_distances(queries)
    assert np.all(found >= best - 1e-6)
    assert np.sqrt(found / 147).mean() == pytest.approx(np.sqrt(best / 147).mean(), rel=0.01)
    monkeypatch.setattr(photo_metrics, "_faiss", lambda: None)  # without faiss: an exhaustive torch search
    small = textured_photo()
    torch_index = P.NearestPatchIndex(small.astype(np.float32))
    assert torch_index.backend.startswith("torch")
    some = P.extract_patches(cv2.GaussianBlur(small, (0, 0), 0.8))[::4, ::4].reshape(-1, 147)
    reference = np.array([((small_patches - q.astype(np.float64)) ** 2).sum(1).min()
                          for small_patches in [P.extract_patches(small).reshape(-1, 147)] for q in some])
    assert torch_index.squared_distances(some) == pytest.approx(reference, rel=1e-3, abs=1e-2)


def test_method_specs_parse_to_animation_settings():
    spec = P.parse_method_spec("default:mode=eulerian,loop=symmetric")
    assert (spec.label, spec.base, spec.overrides) == ("default:mode=eulerian,loop=symmetric", "default",
                                                       {"mode": "eulerian", "loop": "symmetric"})
    assert P.parse_method_spec("default:appearance=false").overrides == {"appearance": False}
    assert P.parse_method_spec("default").overrides == {}
    assert P.parse_method_spec("fgla:runs/my:model").base == "fgla:runs/my:model"
    spec = P.parse_method_spec("fgla:runs/x:motion-speed=1.5,working_size=96,motion_code=pc:0.9")
    assert spec.base == "fgla:runs/x"
    assert spec.overrides == {"motion_speed": 1.5, "working_size": 96, "motion_code": "pc:0.9"}
    assert P.parse_method_spec("default:time_of_day=day,sunset,night,seed=3").overrides == {
        "time_of_day": "day,sunset,night", "seed": 3}
    for bad in ("default:colour=red", "default:appearance=maybe", "default:motion_speed=fast",
                "default:loop=sideways", "shift:speed=2", "default:mode=eulerian,mode=recurrent"):
        with pytest.raises(OptionError) as info:
            P.parse_method_spec(bad)
        assert "\n" not in str(info.value)


def test_a_model_method_renders_full_resolution_frames(tiny_pipeline):
    photo = textured_photo(64, 80)
    method = P.PipelinePhotoMethod(tiny_pipeline, "tiny", {"appearance": False})
    frames = list(method.frames(photo, 4, seed=0))
    assert len(frames) == 4 and all(f.shape == photo.shape and f.dtype == np.uint8 for f in frames)
    described = method.describe(4, seed=0)
    assert described["appearance"] is False and described["num_frames"] == 4
    assert described["auto_mask"].startswith("model default")


@pytest.fixture
def photo_folder(tmp_path):
    folder = tmp_path / "photos"
    (folder / "masks").mkdir(parents=True)
    cv2.imwrite(str(folder / "a_lake.png"), cv2.cvtColor(textured_photo(64, 96, seed=3), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "b_hill.jpg"), cv2.cvtColor(textured_photo(72, 64, seed=4), cv2.COLOR_RGB2BGR))
    mask = np.zeros((64, 96), np.uint8)
    mask[:32] = 255
    cv2.imwrite(str(folder / "masks" / "a_lake.png"), mask)
    return folder


def test_cli_writes_the_reports_and_sheets(photo_folder, tmp_path, capsys):
    from cinescape import cli

    out = tmp_path / "out"
    code = cli.main(["evaluate", "--photos", str(photo_folder), "--method", "static", "shift", "--frames", "6",
                     "--out", str(out), "-q"])
    assert code == 0
    table = capsys.readouterr().out
    assert "| static | a_lake |" in table and "| **shift** | **mean** |" in table
    report = json.loads((out / "metrics.json").read_text())
    assert list(report["photos"]) == ["a_lake", "b_hill"]
    static, shift = report["methods"]["static"], report["methods"]["shift"]
    assert static["photos"]["a_lake"]["coherence"] == 0.0 and static["summary"]["coherence"] == 0.0
    assert static["photos"]["a_lake"]["fluid_motion"] == pytest.approx(0.0, abs=1e-3)
    assert static["photos"]["a_lake"]["sharpness_min"] == 1.0     # every frame is the photo
    assert "Sharpness min" in table
    assert static["photos"]["b_hill"]["fluid_motion"] is None  # no mask: n/a
    assert shift["photos"]["a_lake"]["fluid_motion"] == pytest.approx(0.5, rel=0.3)
    assert shift["summary"]["coherence"] > 0
    assert shift["settings"]["angle_degrees"] == 270.0 and shift["settings"]["border"] == "reflect"
    assert (out / "metrics.md").read_text().count("| **mean** |") == 2
    assert len((out / "metrics.csv").read_text().splitlines()) == 1 + 2 * 3
    sheets = sorted(p.name for p in (out / "sheets").iterdir())
    assert sheets == ["a_lake__shift.png", "a_lake__static.png", "b_hill__shift.png", "b_hill__static.png"]
    sheet = cv2.imread(str(out / "sheets" / "a_lake__shift.png"))
    assert sheet.shape[1] == 5 * 96 and sheet.shape[0] > 2 * 64
    assert not list(out.rglob("*.tmp"))

    code = cli.main(["evaluate", "--photos", str(photo_folder), "--only-masked", "--method", "static",
                     "--frames", "4", "--no-sheets", "--out", str(tmp_path / "masked"), "-q"])
    assert code == 0
    assert list(json.loads((tmp_path / "masked" / "metrics.json").read_text())["photos"]) == ["a_lake"]


@pytest.mark.parametrize("case", ["missing", "empty", "unreadable", "both", "neither", "bad-spec", "clip-option"])
def test_cli_bad_inputs_fail_with_one_line(case, photo_folder, tmp_path, capsys):
    from cinescape import cli

    folder = photo_folder
    extra: list[str] = []
    if case == "missing":
        folder = tmp_path / "nowhere"
    elif case == "empty":
        folder = tmp_path / "empty"
        folder.mkdir()
        (folder / "notes.txt").write_text("no photos here")
    elif case == "unreadable":
        (photo_folder / "c_broken.png").write_bytes(b"not a png at all")
    elif case == "both":
        extra = ["--data", str(photo_folder)]
    elif case == "bad-spec":
        extra = ["--method", "default:warp=9"]
    elif case == "clip-option":
        extra = ["--loop", "symmetric"]
    args = ["evaluate"] + ([] if case == "neither" else ["--photos", str(folder)]) + extra
    args += ["--method", "static"] if "--method" not in extra else []
    code = cli.main(args + ["--out", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("cinescape: error: ") and "\n" not in err
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_settings_errors_name_the_parameter_and_the_cli_says_its_flag(photo_folder, tmp_path, capsys):
    from cinescape import cli
    from cinescape.eval.evaluate import EvalSettings

    with pytest.raises(OptionError, match=r"^patch_stride must be between 1 and 8, got 9$"):
        P.PhotoEvalSettings(photos=str(photo_folder), patch_stride=9).validate()
    with pytest.raises(OptionError, match=r"^max_clips must be >= 1, got 0$"):
        EvalSettings(data="clips", max_clips=0).validate()
    with pytest.raises(OptionError, match=r"^photos: .* does not exist$"):
        P.find_photos(tmp_path / "nowhere")
    out = ["--out", str(tmp_path / "out"), "-q"]
    assert cli.main(["evaluate", "--photos", str(photo_folder), "--patch-stride", "9", *out]) == 2
    assert capsys.readouterr().err == "cinescape: error: --patch-stride must be between 1 and 8, got 9\n"
    assert cli.main(["evaluate", "--photos", str(tmp_path / "nowhere"), *out]) == 2
    assert capsys.readouterr().err == f"cinescape: error: --photos: {tmp_path / 'nowhere'} does not exist\n"
    # a --method spec stays as typed, and its settings keep their AnimationSettings names
    assert cli.main(["evaluate", "--photos", str(photo_folder), "--method", "default:loop=sideways", *out]) == 2
    assert capsys.readouterr().err.startswith(
        "cinescape: error: --method entry 'default:loop=sideways': 'loop' must be one of ")
