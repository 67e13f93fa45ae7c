"""Known-answer tests of the evaluation metrics, the FID/FVD networks, `cinescape evaluate` and `cinescape bench`.

Everything runs on tiny inputs with randomly initialised networks unless ../shared holds the real weights.
"""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import needs_shared
from PIL import Image

from cinescape.errors import ModelLoadError, OptionError
from cinescape.eval import metrics as M
from cinescape.eval.fid import I3D, InceptionV3FID, load_i3d, load_inception


def _texture(height: int, width: int, seed: int = 0, scale: int = 4) -> np.ndarray:
    """Smooth random RGB texture, uint8 (H, W, 3), features about ``scale`` px: something optical flow can track."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, height // scale, width // scale, generator=g)
    fine = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
    return (fine[0].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one thread is fastest, and avoids OpenMP stalls while other jobs use the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def random_lpips():
    torch.manual_seed(0)
    lpips = M.LPIPS(pretrained=False)
    with torch.no_grad():  # trained LPIPS heads are non-negative; random ones must be too for distances >= 0
        for head in lpips.heads:
            head.weight.abs_()
    return lpips


# ------------------------------------------------------------------------------------ pixel metrics


def test_identical_images_give_the_cap_one_and_zero(random_lpips):
    x = M.frames_to_tensor(_texture(32, 40)[None])
    assert float(M.psnr(x, x)) == M.PSNR_CAP_DB
    assert float(M.ssim(x, x)) == pytest.approx(1.0, abs=1e-6)
    assert float(M.rmse(x, x)) == 0.0
    assert float(random_lpips(x, x)) == 0.0


def test_psnr_and_rmse_closed_form_and_mask():
    x = torch.full((1, 3, 16, 16), 100.0)
    y = x + 5.0
    assert float(M.psnr(x, y)) == pytest.approx(10 * math.log10(255 ** 2 / 25), abs=1e-4)
    assert float(M.rmse(x, y)) == pytest.approx(5 / 255, rel=1e-5)
    y[..., :8] = 100.0  # only the right half differs: masked to the left half, the images are identical
    left = torch.zeros(16, 16, dtype=torch.bool)
    left[:, :8] = True
    assert float(M.psnr(x, y, left)) == M.PSNR_CAP_DB
    assert math.isnan(float(M.psnr(x, y, torch.zeros(16, 16, dtype=torch.bool))))  # empty mask: undefined


def test_ssim_closed_form_on_constant_images():
    # No variance: SSIM reduces to the luminance term (2ab + C1) / (a² + b² + C1).
    a, b = 80.0, 120.0
    c1 = (0.01 * 255) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    value = M.ssim(torch.full((1, 3, 20, 20), a), torch.full((1, 3, 20, 20), b))
    assert float(value) == pytest.approx(expected, rel=1e-5)
    # Same mean and variance, negated structure: SSIM ~ (-var + C2/2) / (var + C2/2) < 0.
    x = M.frames_to_tensor(_texture(40, 40)[None])
    assert float(M.ssim(x, 2 * x.mean() - x)) < 0


def test_ssim_matches_pytorch_msssim_when_installed():
    reference = pytest.importorskip("pytorch_msssim", reason="pytorch-msssim not installed (optional cross-check)")
    torch.manual_seed(0)
    a = torch.rand(2, 3, 40, 48) * 255
    b = (a + torch.randn_like(a) * 20).clamp(0, 255)
    expected = reference.ssim(a, b, data_range=255, size_average=False)
    assert torch.allclose(M.ssim(a, b), expected, atol=1e-5)


def test_moving_mask_finds_the_known_moving_region():
    rng = np.random.default_rng(0)
    frames = np.repeat(_texture(24, 32)[None], 6, axis=0)
    frames[:, 5:12, 10:20] = rng.integers(0, 256, size=(6, 7, 10, 3))  # flicker: moving
    frames[:, 15:20, 2:8] = 100
    frames[1, 15:20, 2:8] = 101  # L1 = 3 > 2.5 on the steps into and out of frame 1, but a mean of 6 / 5 < 2.5
    moving = M.moving_mask(M.frames_to_tensor(frames))
    expected = torch.zeros(24, 32, dtype=torch.bool)
    expected[5:12, 10:20] = True
    assert torch.equal(moving, expected)


def test_moving_mask_of_a_synthetic_clip_matches_its_sky_and_water():
    from cinescape.data.synthetic import generate_timelapse

    clip = generate_timelapse(6, 48, 48, seed=1, day_cycle=False, cloud_speed=3.0)
    frames = (clip.frames + 1) * 127.5
    moving = M.moving_mask(frames)
    sky = clip.masks[0, 0] > 0.5
    assert not moving[~sky].any()  # terrain never moves
    assert moving[sky].float().mean() > 0.2  # cloud edges do (flat blue sky changes too little)


# ------------------------------------------------------------------------------------------ LPIPS


def test_lpips_reproduces_the_reference_figures():
    folder = needs_shared("weights", "lpips")

    def load(name):
        return M.frames_to_tensor(np.array(Image.open(folder / f"{name}.png").convert("RGB"))[None])

    lpips = M.LPIPS()
    ref, p0, p1 = load("ex_ref"), load("ex_p0"), load("ex_p1")
    assert float(lpips(ref, p0)) == pytest.approx(0.711, abs=0.002)
    assert float(lpips(ref, p1)) == pytest.approx(0.148, abs=0.002)
    assert float(lpips(ref, ref)) == 0.0
    # A full mask changes nothing; masks select where the distance is averaged.
    assert float(lpips(ref, p0, torch.ones(64, 64, dtype=torch.bool))) == pytest.approx(float(lpips(ref, p0)), rel=1e-5)


def test_lpips_mask_ignores_differences_outside_it(random_lpips):
    x = M.frames_to_tensor(_texture(64, 64)[None])
    y = x.clone()
    y[..., 40:] = 255 - y[..., 40:]  # change the right part only
    left = torch.zeros(64, 64, dtype=torch.bool)
    left[:, :8] = True
    assert float(random_lpips(x, y, left)) < 0.2 * float(random_lpips(x, y))


# ------------------------------------------------------------------------------------------- flow


def test_dis_flow_of_a_shifted_video_has_the_shift_magnitude():
    base = _texture(80, 120, seed=3)
    dx, dy = 2, 1
    frames = np.stack([np.roll(base, (k * dy, k * dx), axis=(0, 1)) for k in range(4)])
    flows = M.optical_flow_dis(frames)
    assert flows.shape == (3, 2, 80, 120)
    inner = torch.zeros(80, 120, dtype=torch.bool)
    inner[10:-10, 10:-10] = True  # away from the wrapped border
    magnitude = float(M.mean_flow_magnitude(flows, inner).mean())
    assert magnitude == pytest.approx(math.hypot(dx, dy), rel=0.1)
    assert float(flows[:, 0][:, inner].median()) == pytest.approx(dx, abs=0.2)
    assert M.motion_ratio(frames, frames, inner) == pytest.approx(1.0)
    assert M.motion_ratio(np.repeat(frames[:1], 4, axis=0), frames, inner) == pytest.approx(0.0, abs=0.02)


def test_endpoint_error_is_zero_for_the_exact_flow_and_the_offset_otherwise():
    from cinescape.data.synthetic import generate_timelapse
    from cinescape.ops import flow_normalized_to_pixels

    clip = generate_timelapse(3, 32, 32, seed=2, day_cycle=False)
    flows = flow_normalized_to_pixels(clip.flows)
    assert float(M.endpoint_error(flows, flows, clip.valid).nan_to_num().max()) == 0.0
    shifted = flows + torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)
    assert torch.allclose(M.endpoint_error(shifted, flows), torch.full((3,), 5.0), atol=1e-5)


# ------------------------------------------------------------------------------------------- loop


def test_seam_ratio_periodic_video_is_one_and_a_cut_loop_is_large():
    base = M.frames_to_tensor(_texture(32, 64, scale=8)[None])
    period = 64  # 1 px per frame around a 64 px wide image: frame 64 would be frame 0 again
    periodic = torch.cat([torch.roll(base, k, dims=-1) for k in range(period)])
    assert M.seam_ratio(periodic) == pytest.approx(1.0, abs=1e-6)
    cut = periodic[: period // 2]  # the same motion stopped half way: the jump back is a big cut
    assert M.seam_ratio(cut) > 5  # a 31 px jump after 1 px steps
    assert math.isnan(M.seam_ratio(base.repeat(5, 1, 1, 1)))  # a still video has no seam to speak of


# -------------------------------------------------------------------------------- Fréchet distance


def test_frechet_distance_closed_forms_and_both_code_paths():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    assert M.frechet_distance_from_features(x, x) == pytest.approx(0.0, abs=1e-9)
    # 1-D Gaussians: (mu1 - mu2)² + (s1 - s2)².
    assert M.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4 + 1)
    # Diagonal covariances: |mu1 - mu2|² + sum (sqrt(a_i) - sqrt(b_i))².
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    value = M.frechet_distance(np.zeros(3), np.diag(a), np.ones(3), np.diag(b))
    assert value == pytest.approx(3 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum())
    # Fewer samples than dimensions (the nuclear-norm path) agrees with the D×D path.
    small_a, small_b = rng.normal(size=(5, 16)), rng.normal(size=(6, 16)) * 2 + 1
    direct = M.frechet_distance(*M.gaussian_statistics(small_a), *M.gaussian_statistics(small_b))
    assert M.frechet_distance_from_features(small_a, small_b) == pytest.approx(direct, rel=1e-6)


def test_frechet_distance_matches_scipy_sqrtm_when_installed():
    linalg = pytest.importorskip("scipy.linalg", reason="scipy not installed (optional cross-check)")
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(60, 8)), rng.normal(size=(50, 8)) * 1.5 + 0.3
    (m1, s1), (m2, s2) = M.gaussian_statistics(x), M.gaussian_statistics(y)
    expected = ((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert M.frechet_distance_from_features(x, y) == pytest.approx(expected, rel=1e-8)


# ------------------------------------------------------------------------------------ FID / FVD nets


def test_inception_fid_architecture_loads_a_state_dict_and_reports_missing_weights(tmp_path, monkeypatch):
    torch.manual_seed(0)
    net = InceptionV3FID(resize_to=75)
    # torchvision's Inception-v3 without the auxiliary head, with the FID graph's 1008-way classifier.
    assert sum(p.numel() for p in net.parameters()) == 23_850_960
    images = torch.rand(2, 3, 40, 40) * 255
    features = net(images)
    assert features.shape == (2, 2048) and torch.isfinite(features).all()
    path = tmp_path / "inception.pth"
    torch.save(net.state_dict(), path)
    loaded = load_inception(path, resize_to=75)
    assert torch.allclose(loaded(images), features)
    assert len(loaded.weights_sha256) == 64
    monkeypatch.setenv("CINESCAPE_WEIGHTS", str(tmp_path / "empty"))
    with pytest.raises(ModelLoadError, match="no FID Inception-v3 weights"):
        load_inception(allow_download=False)
    torch.save({"something": torch.zeros(1)}, tmp_path / "wrong.pth")
    with pytest.raises(ModelLoadError, match="not a FID Inception-v3 weights file"):
        load_inception(tmp_path / "wrong.pth")


def test_i3d_architecture_loads_a_state_dict_and_needs_a_file(tmp_path):
    torch.manual_seed(0)
    net = I3D(size=32, num_frames=8)
    assert sum(p.numel() for p in net.parameters()) == 12_697_264  # Inception-v1 I3D, 400 classes
    keys = set(net.state_dict())
    assert {"Conv3d_1a_7x7.conv3d.weight", "Mixed_3b.b1b.bn.running_var", "logits.conv3d.bias"} <= keys
    videos = torch.rand(2, 5, 3, 24, 24) * 255
    logits = net(videos)
    assert logits.shape == (2, 400) and torch.isfinite(logits).all()
    path = tmp_path / "i3d.pt"
    torch.save(net.state_dict(), path)
    assert torch.allclose(load_i3d(path, size=32, num_frames=8)(videos), logits)
    with pytest.raises(ModelLoadError, match="no I3D weights"):
        load_i3d(None)


# ------------------------------------------------------------------------------------------ harness


@pytest.fixture
def clip_folder(tmp_path):
    """Two tiny real-looking clips (PNG frame folders) cut from one synthetic time-lapse."""
    from cinescape.data.synthetic import generate_timelapse

    clip = generate_timelapse(10, 40, 56, seed=5, day_cycle=False, cloud_speed=2.0)
    frames = ((clip.frames + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    root = tmp_path / "clips"
    for c in range(2):
        folder = root / f"clip_{c}"
        folder.mkdir(parents=True)
        for i in range(5):
            Image.fromarray(frames[c * 5 + i]).save(folder / f"{i:02d}.png")
    return root


def test_evaluate_end_to_end_with_baselines_and_a_tiny_model(clip_folder, tiny_pipeline, random_lpips, tmp_path):
    from cinescape.eval.evaluate import EvalSettings, PipelineMethod, evaluate, format_table, write_report

    settings = EvalSettings(data=str(clip_folder), synthetic=1, frames=4, size=40, samples=2, sky_matte=False)
    report = evaluate(settings, ["static", "shift", "real", PipelineMethod(tiny_pipeline, "tiny")], progress=False,
                      lpips=random_lpips)
    assert report["clips"] == ["clip_0", "clip_1", "synthetic_000"]
    methods = report["methods"]
    static, shift, real = (methods[k]["summary"] for k in ("static", "shift", "real"))
    assert static["psnr_static"] == M.PSNR_CAP_DB and static["ssim_static"] == pytest.approx(1.0, abs=1e-6)
    assert static["lpips_input"] == 0.0 and static["motion_ratio"] == pytest.approx(0.0, abs=0.05)
    assert real["lpips_real"] == 0.0 and real["rmse_real"] == 0.0 and real["motion_ratio"] == pytest.approx(1.0)
    assert real["epe"] == 0.0  # the synthetic clip's own exact flow
    assert shift["motion_ratio"] > 0.2 and shift["psnr_static"] < 60
    assert math.isfinite(methods["tiny"]["summary"]["epe"]) and math.isfinite(static["fid_squeezenet"])
    assert len(methods["tiny"]["per_frame"]["lpips_input"]) == 4
    assert "unavailable" in report["networks"]["fid"] and "unavailable" in report["networks"]["fvd"]

    files = write_report(report, tmp_path / "out")
    names = {f.name for f in files}
    assert {"metrics.json", "metrics.md", "metrics.csv", "lpips_input.png"} <= names
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["methods"]["static"]["summary"]["seam_ratio"] is None  # undefined (no change), not NaN
    assert set(saved["methods"]["tiny"]["clips"]) == {"clip_0", "clip_1", "synthetic_000"}
    table = format_table(report)
    assert "| static | 100.00 | 1.0000 |" in table and "FID-SqueezeNet" in table and "FID ↓" not in table
    csv_lines = (tmp_path / "out" / "metrics.csv").read_text().splitlines()
    assert csv_lines[0].startswith("method,clip,psnr_static") and len(csv_lines) == 1 + 4 * 4


def test_evaluate_cli_cuts_clips_and_writes_the_files(clip_folder, tmp_path, capsys, monkeypatch):
    from cinescape import cli
    from cinescape.eval import evaluate as E

    # An untrained LPIPS keeps the CLI test independent of ../shared.
    untrained = M.LPIPS
    monkeypatch.setattr(E.M, "LPIPS", lambda: untrained(pretrained=False))
    out = tmp_path / "eval"
    code = cli.main(["evaluate", "--data", str(clip_folder / "clip_0"), "--cut", "--frames", "3", "--size", "32",
                     "--method", "static", "shift", "--samples", "2", "--no-sky-matte", "--out", str(out), "-q"])
    assert code == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["clips"] == ["clip_0@0"]  # 5 frames hold one 3-frame clip
    assert report["command"].startswith("cinescape evaluate --data")
    assert "| shift |" in capsys.readouterr().out
    assert cli.main(["evaluate", "--data", str(tmp_path / "missing"), "--method", "static", "-q"]) == 2
    assert cli.main(["evaluate", "--data", str(clip_folder), "--method", "nonsense", "-q"]) == 2
    assert "unknown method" in capsys.readouterr().err


@pytest.fixture
def native_clip(tmp_path):
    """One non-square 44x60 clip (4 PNG frames) of a drifting texture: comparison frames are cropped and resized."""
    base = _texture(44, 72, seed=3, scale=6)
    folder = tmp_path / "native" / "clip_0"
    folder.mkdir(parents=True)
    for i in range(4):
        Image.fromarray(np.ascontiguousarray(base[:, 2 * i:2 * i + 60])).save(folder / f"{i:02d}.png")
    return folder


def test_a_model_is_scored_on_what_cinescape_animate_writes(native_clip, model_dir, tmp_path, capsys):
    """Issue 14: evaluate's model frames are the user's `cinescape animate f0.png -o OUT/ --loop none --no-appearance
    --frames N --seed S` frames (native photo), cropped and resized like the real frames."""
    from cinescape import cli
    from cinescape.eval.evaluate import EvalSettings, PipelineMethod, load_clips, prepare_frames
    from cinescape.io.video import read_clip
    from cinescape.methods.al.pipeline import CinemagraphPipeline

    settings = EvalSettings(data=str(native_clip), frames=4, size=32, sky_matte=False)
    (clip,), _ = load_clips(settings)
    assert clip.frames.shape == (4, 32, 32, 3) and clip.input.shape == (44, 60, 3)
    pipeline = CinemagraphPipeline.from_pretrained(model_dir)
    method = PipelineMethod(pipeline, "tiny")
    out = tmp_path / "user"
    assert cli.main(["animate", str(native_clip / "00.png"), "-o", f"{out}/", "--loop", "none", "--no-appearance",
                     "--frames", "4", "--seed", "1", "--model", model_dir, "-q"]) == 0, capsys.readouterr().err
    user = prepare_frames(read_clip(out), 32)
    generated = method.generate(clip, 1)
    assert np.array_equal(generated.frames, user)
    assert np.array_equal(generated.frames[0], clip.frames[0])
    # The test can tell: animating the 32-px comparison frame instead gives other frames.
    resized = np.stack(list(pipeline.plan(clip.frames[0], method.animation_settings(4, 1)).frames()))
    assert not np.array_equal(resized, user)
    # Flows come to the comparison frames' pixels: 44x60 -> 44x44 crop -> 32x32 scales them by 32/44.
    assert generated.flows.shape == (4, 2, 32, 32) and torch.isfinite(generated.flows).all()
    uniform = clip.prepare_flows(torch.tensor([0.1, -0.2]).view(1, 2, 1, 1).expand(1, 2, 6, 8))
    assert torch.allclose(uniform[0, :, 5, 5], torch.tensor([0.1 * 30 * 32 / 44, -0.2 * 22 * 32 / 44]))


def test_evaluate_uses_the_settings_of_cinescape_animate(photo_path, tmp_path, monkeypatch, tiny_pipeline):
    """A model runs with the CLI's defaults, only the protocol's loop / appearance (and given options) differing."""
    from cinescape import cli
    from cinescape.eval.evaluate import EvalSettings, PipelineMethod
    from cinescape.methods import select

    seen = []

    class Recorder:
        def plan(self, image, settings, **options):
            seen.append(settings)
            raise KeyboardInterrupt  # stop before any work (the CLI reports "interrupted")

    monkeypatch.setattr(select, "load_method_pipeline", lambda method, model: Recorder())
    cli.main(["animate", str(photo_path), "-o", f"{tmp_path / 'out'}/", "--loop", "none", "--no-appearance",
              "--frames", "32", "--seed", "3", "-q"])
    assert len(seen) == 1
    settings = EvalSettings(data="unused")
    method = PipelineMethod(tiny_pipeline, "m", settings.loop, settings.appearance, settings.mode, settings.auto_mask)
    assert method.animation_settings(32, 3) == seen[0]
    assert PipelineMethod(tiny_pipeline, "m", mode="eulerian").animation_settings(32, 3).mode == "eulerian"


def test_cinescape_evaluate_leaves_the_motion_mode_to_the_model():
    from cinescape import cli

    assert cli.build_parser().parse_args(["evaluate", "--data", "clips"]).mode is None


def test_sky_matte_marks_the_sky_of_a_real_frame():
    folder = needs_shared("data", "motion", "skytimelapse128", "clip_r0_c0")
    needs_shared("weights", "skyseg")
    pytest.importorskip("ncnn", reason="ncnn not installed (pip install 'cinescape[eval]')")
    from cinescape.eval.evaluate import SkyMatte

    frame = np.array(Image.open(folder / "00.png").convert("RGB"))
    sky = SkyMatte()(frame)
    assert sky.shape == frame.shape[:2]
    assert (sky[:32] > 0.5).mean() > 0.9  # the top of this clip is all sky


# -------------------------------------------------------------------------------------------- bench


def test_bench_times_every_stage(tiny_pipeline, tmp_path, capsys):
    from cinescape import cli
    from cinescape.eval.bench import format_bench_table, run_bench

    model = tiny_pipeline.save_pretrained(tmp_path / "model")
    result = run_bench([(64, 36)], frames=3, loops=("crossfade", "none"), model=str(model), isolate=False,
                       progress=False)
    assert [(r["size"], r["loop"]) for r in result["rows"]] == [("64x36", "crossfade"), ("64x36", "none")]
    for row in result["rows"]:
        assert all(row[k] >= 0 for k in ("load_s", "motion_s", "loop_s", "appearance_s", "encode_s"))
        assert row["peak_rss_mb"] >= row["rss_loaded_mb"] > 0
        assert row["floor_s"] > 0 and row["x_floor"] == pytest.approx(row["total_s"] / row["floor_s"])
    assert "| 64x36 | crossfade | True | 3 |" in format_bench_table(result)
    path = tmp_path / "bench.json"
    assert cli.main(["bench", "--sizes", "48x32", "--frames", "2", "--loop", "none", "--appearance", "off",
                     "--model", str(model), "--same-process", "--json", str(path), "-q"]) == 0
    assert json.loads(path.read_text())["rows"][0]["appearance"] is False
    assert cli.main(["bench", "--sizes", "big", "-q"]) == 2
    for command in (["evaluate", "--help"], ["bench", "--help"]):
        assert cli.main(command) == 0


def test_bench_runs_each_configuration_in_a_fresh_process(tiny_pipeline, tmp_path):
    from cinescape.eval.bench import run_bench

    model = tiny_pipeline.save_pretrained(tmp_path / "model")
    result = run_bench([(48, 32)], frames=2, loops=("none",), model=str(model), threads=1, progress=False)
    row, = result["rows"]
    assert result["settings"]["isolated"] and row["size"] == "48x32" and row["peak_rss_mb"] > 0


def test_bench_repeats_report_the_median_of_each_column(monkeypatch, tiny_pipeline, tmp_path):
    from cinescape.eval import bench

    totals = iter([3.0, 1.0, 2.0])
    fake = lambda config, isolate, progress: {"size": "8x8", "total_s": next(totals), "frames": 2}  # noqa: E731
    monkeypatch.setattr(bench, "_run_config", fake)
    model = tiny_pipeline.save_pretrained(tmp_path / "model")
    result = bench.run_bench([(64, 36)], frames=2, loops=("none",), model=str(model), repeats=3, progress=False)
    assert result["rows"] == [{"size": "8x8", "total_s": 2.0, "frames": 2}] and result["settings"]["repeats"] == 3
    with pytest.raises(OptionError):
        bench.run_bench([(64, 36)], frames=2, model=str(model), repeats=0)
