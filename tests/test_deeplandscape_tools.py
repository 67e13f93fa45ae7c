"""DeepLandscape in the project's tools: settings resolution, evaluate (clips and photos, inversion figures), bench,
batches with resume, and the web page's check. A tiny random model (32 px generator) saved to tmp: no
../shared needed, each test a few seconds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from cinescape.data.synthetic import generate_landscape_photo
from cinescape.errors import CinescapeError, OptionError

# A few steps of everything; no mask (no segmentation weights) and no LPIPS loss (no third-party weights).
TINY_DEFAULTS = dict(latent_steps=2, finetune_steps=2, perceptual="none", use_mask=False, finetune_from=8,
                     num_frames=4, period=4, super_resolution=False)


def _tiny_pipeline():
    from cinescape.methods.deeplandscape.encoder import (LightingApproximator, LightingApproximatorConfig,
                                                         StyleEncoder, StyleEncoderConfig)
    from cinescape.methods.deeplandscape.generator import DeepLandscapeGenerator, DeepLandscapeGeneratorConfig
    from cinescape.methods.deeplandscape.pipeline import DeepLandscapePipeline

    torch.manual_seed(0)
    config = DeepLandscapeGeneratorConfig(resolution=32, z_static_dim=8, z_dynamic_dim=8, w_dim=16, mapping_layers=2,
                                          channel_base=128, channel_max=16)
    generator = DeepLandscapeGenerator(config).eval()
    encoder = StyleEncoder(StyleEncoderConfig(resolution=32, num_ws=config.num_ws, w_dim=16, widths=(8, 8),
                                              hidden=16))
    lighting = LightingApproximator(LightingApproximatorConfig(w_dim=16, z_dynamic_dim=8, hidden=16, num_layers=1))
    return DeepLandscapePipeline(generator, encoder, lighting, None, defaults=TINY_DEFAULTS)


@pytest.fixture(scope="module")
def dl_model(tmp_path_factory):
    """A tiny DeepLandscape model folder (pipeline.json names the class, as the shipped one does)."""
    folder = tmp_path_factory.mktemp("dl") / "model"
    _tiny_pipeline().save_pretrained(folder)
    return folder


def _photo_folder(folder, count=1, height=40, width=56):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(generate_landscape_photo(height, width, seed=i)).save(folder / f"photo{i}.png")
    return folder


def _positive_lpips():
    """An untrained LPIPS with non-negative heads: a distance, 0 only for equal features (no weights needed)."""
    from cinescape.eval.metrics import LPIPS

    lpips = LPIPS(pretrained=False)
    with torch.no_grad():
        for head in lpips.heads:
            head.weight.abs_()
    return lpips


def _expected_psnr(reconstruction: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR written out: 10 log10(255^2 / MSE) on the 0-255 scale, (x + 1) * 127.5."""
    rec = (reconstruction.clamp(-1, 1).double().numpy() + 1) * 127.5
    tgt = (target.clamp(-1, 1).double().numpy() + 1) * 127.5
    return 10 * math.log10(255.0 ** 2 / np.mean((rec - tgt) ** 2))


# ----------------------------------------------------------------------------------------- settings resolution

def test_settings_resolve_to_each_methods_own_class(dl_model):
    from cinescape.methods.al import AnimationSettings
    from cinescape.methods.deeplandscape import DeepLandscapeSettings
    from cinescape.methods.fgla.pipeline import FGLASettings
    from cinescape.methods.select import resolve_settings

    from_folder = resolve_settings(dl_model, num_frames=5, seed=2)
    assert isinstance(from_folder, DeepLandscapeSettings)
    # the folder's pipeline.json defaults, then the fields given
    assert (from_folder.latent_steps, from_folder.num_frames, from_folder.seed) == (2, 5, 2)
    loaded = _tiny_pipeline()
    assert resolve_settings(loaded, num_frames=5, seed=2) == from_folder
    assert type(resolve_settings("al", seed=1)) is AnimationSettings
    fgla = resolve_settings("fgla", motion_speed=0.5, references={"sky": "clouds.mp4"})
    assert type(fgla) is FGLASettings and isinstance(fgla, AnimationSettings)   # AL's fields and FGLA's regions
    assert resolve_settings(loaded, from_folder, seed=9).seed == 9


@pytest.mark.parametrize("fields, message", [
    ({"motion_code": 3}, "unknown deeplandscape setting 'motion_code'"),
    ({"frames": 3}, "unknown deeplandscape setting 'frames'"),
    ({"num_frames": 1}, "num_frames must be >= 2"),
    ({"lighting": 2.0}, "lighting must lie in [0, 1]"),
])
def test_bad_settings_are_one_line_option_errors(dl_model, fields, message):
    from cinescape.methods.select import resolve_settings

    with pytest.raises(OptionError) as info:
        resolve_settings(dl_model, **fields)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_settings_of_another_method_and_unknown_methods_are_refused(dl_model):
    from cinescape.methods.al import AnimationSettings
    from cinescape.methods.select import model_folder, resolve_settings

    with pytest.raises(OptionError, match="settings of deeplandscape must be DeepLandscapeSettings"):
        resolve_settings(dl_model, AnimationSettings())
    with pytest.raises(OptionError, match="unknown al setting 'finetune_steps'"):
        resolve_settings("al", finetune_steps=3)
    with pytest.raises(OptionError, match="method must be one of"):
        model_folder("stylegan")


def test_method_specs_take_the_methods_own_settings(dl_model):
    from cinescape.eval.photo_methods import parse_method_spec

    assert parse_method_spec("deeplandscape:finetune_steps=50,use_mask=false,direction=none").overrides == {
        "finetune_steps": 50, "use_mask": False, "direction": None}
    assert parse_method_spec(f"{dl_model}:speed=1.5").overrides == {"speed": 1.5}
    for bad in ("deeplandscape:motion_code=3", "deeplandscape:lighting=2", "deeplandscape:finetune_steps=many"):
        with pytest.raises(OptionError) as info:
            parse_method_spec(bad)
        assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------------- metrics

def test_inversion_quality_matches_the_closed_form():
    from cinescape.eval.metrics import inversion_quality

    target = torch.rand(1, 3, 32, 32) * 1.6 - 0.8
    # a constant offset d (in [-1, 1] units) is 127.5 d grey levels: PSNR = 20 log10(255 / (127.5 d)) = 20 log10(2 / d)
    quality = inversion_quality(target + 0.1, target)
    assert quality["inversion_psnr"] == pytest.approx(20 * math.log10(2 / 0.1), abs=1e-3)
    assert math.isnan(quality["inversion_lpips"])   # no network given
    lpips = _positive_lpips()
    assert inversion_quality(target, target, lpips) == {"inversion_psnr": 100.0, "inversion_lpips": 0.0}
    assert inversion_quality(target + 0.1, target, lpips)["inversion_lpips"] > 0


# --------------------------------------------------------------------------------------------------- evaluate

def test_evaluate_on_clips_gives_a_deeplandscape_row_with_inversion_figures(dl_model):
    from cinescape.eval.evaluate import EvalSettings, evaluate, format_table, resolve_method

    settings = EvalSettings(synthetic=1, frames=4, size=32, samples=1, sky_matte=False)
    method = resolve_method(f"{dl_model}:finetune_steps=1", settings)
    assert method.animation_settings(4, 0).finetune_steps == 1 and method.animation_settings(4, 0).lighting == 0
    pairs = []
    generate = method.generate
    method.generate = lambda clip, seed: pairs.append(generate(clip, seed)) or pairs[-1]
    report = evaluate(settings, ["static", method], progress=False, lpips=_positive_lpips())

    row = report["methods"][method.name]["summary"]
    reconstruction, target = pairs[0].inversion
    assert reconstruction.shape == target.shape == (1, 3, 32, 32)
    assert row["inversion_psnr"] == pytest.approx(_expected_psnr(reconstruction, target), abs=1e-3)
    assert math.isfinite(row["inversion_lpips"]) and row["inversion_lpips"] > 0
    assert math.isfinite(row["ssim_dl"]) and math.isfinite(row["motion_ratio"])   # static consistency applies
    assert math.isnan(report["methods"]["static"]["summary"]["inversion_psnr"])
    assert any("own loop" in note for note in report["notes"])
    assert "Inversion PSNR" in format_table(report)
    without = evaluate(settings, ["static"], progress=False, lpips=_positive_lpips())
    assert "Inversion" not in format_table(without)


def test_evaluate_on_photos_gives_a_deeplandscape_row_with_inversion_figures(dl_model, tmp_path):
    from cinescape.eval.photos import PhotoEvalSettings, evaluate_photos, format_photo_table, write_photo_report
    from cinescape.methods import load_pipeline

    photos = _photo_folder(tmp_path / "photos", height=40, width=64)
    label = f"{dl_model}:finetune_steps=1"
    settings = PhotoEvalSettings(photos=str(photos), frames=4, sheets=False)
    report = evaluate_photos(settings, ["static", label], progress=False, lpips=_positive_lpips())

    figures = report["methods"][label]["photos"]["photo0"]
    assert report["methods"][label]["settings"]["finetune_steps"] == 1
    # the same inversion again (deterministic on the CPU), its PSNR written out
    pipeline = load_pipeline(dl_model)
    image = np.asarray(Image.open(photos / "photo0.png").convert("RGB"))
    inversion = pipeline.plan(image, num_frames=4, finetune_steps=1).inversion
    assert figures["inversion_psnr"] == pytest.approx(_expected_psnr(inversion.reconstruction(), inversion.target),
                                                      abs=1e-3)
    assert "inversion_psnr" not in report["methods"]["static"]["photos"]["photo0"]
    table = format_photo_table(report)
    assert "Inversion PSNR" in table and "Inversion LPIPS" in table
    files = write_photo_report(report, tmp_path / "out")
    assert "inversion_psnr" in files[2].read_text().splitlines()[0]
    without = evaluate_photos(settings, ["static"], progress=False)
    assert "Inversion" not in format_photo_table(without)


# ------------------------------------------------------------------------------------------------------ bench

def test_bench_times_the_deeplandscape_stages(dl_model, tmp_path, capsys):
    from cinescape.cli import main

    code = main(["bench", "--model", str(dl_model), "--method", "deeplandscape", "--sizes", "64x36", "--frames",
                 "3", "--same-process", "--json", str(tmp_path / "bench.json"), "-q"])
    out = capsys.readouterr().out
    assert code in (0, None), out
    header = next(line for line in out.splitlines() if line.startswith("| size"))
    assert [c.strip() for c in header.strip("|").split("|")][:8] == [
        "size", "method", "frames", "load_s", "inversion_s", "render_s", "encode_s", "total_s"]
    import json

    row = json.loads((tmp_path / "bench.json").read_text())["rows"][0]
    assert row["size"] == "64x36" and row["frames"] == 3
    # total is the sum of the stages (and what lies between them: nothing)
    assert row["total_s"] == pytest.approx(row["load_s"] + row["inversion_s"] + row["render_s"] + row["encode_s"])
    with pytest.raises(OptionError, match="is a deeplandscape model folder, not al"):
        from cinescape.eval.bench import run_bench
        run_bench([(64, 36)], frames=3, model=str(dl_model), method="al", isolate=False, progress=False)


# ----------------------------------------------------------------------------------------------------- batch

def test_batches_take_deeplandscape_and_resume(dl_model, tmp_path, capsys):
    from cinescape.batch import animate_many, read_manifest
    from cinescape.cli import main

    photos = _photo_folder(tmp_path / "in", count=2)
    out = tmp_path / "out"
    options = ["--model", str(dl_model), "--method", "deeplandscape", "--frames", "3", "-q"]
    assert main(["animate", str(photos), "-o", f"{out}/", *options]) == 0
    assert "2 animated, 0 already done, 0 failed" in capsys.readouterr().err
    records = read_manifest(out / "manifest.jsonl")
    assert {r["settings"]["finetune_steps"] for r in records.values()} == {2}   # the folder's default
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("*.mp4")}
    assert len(first) == 2

    assert main(["animate", str(photos), "-o", f"{out}/", *options]) == 0   # the same command: nothing to do
    assert "0 animated, 2 already done, 0 failed" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.mp4")} == first

    # another setting of the method: every photo again
    result = animate_many(photos, f"{out}/", method="deeplandscape", model=dl_model, num_frames=3, finetune_steps=1,
                          progress=False)
    assert (len(result.done), len(result.skipped)) == (2, 0)
    again = animate_many(photos, f"{out}/", method="deeplandscape", model=dl_model, num_frames=3, finetune_steps=1,
                         progress=False)
    assert (len(again.done), len(again.skipped)) == (0, 2)
    hashes = {r["settings_hash"] for r in read_manifest(out / "manifest.jsonl").values()}
    assert len(hashes) == 2   # two photos, one hash each, none equal to the first run's
    with pytest.raises(OptionError, match="unknown deeplandscape setting 'motion_speed'"):
        animate_many(photos, f"{out}/", model=dl_model, motion_speed=2.0, progress=False)


def test_animate_options_of_deeplandscape_reach_its_settings_and_are_refused_for_al(dl_model, tmp_path, capsys):
    from cinescape.cli import build_parser, main
    from cinescape.cli.animate import _animate_settings
    from cinescape.methods.deeplandscape import DeepLandscapeSettings

    def settings_of(*options):
        return _animate_settings(build_parser().parse_args(["animate", "photo.png", "-o", "x.mp4", *options]))[0]

    settings = settings_of("--model", str(dl_model), "--latent-steps", "7", "--finetune-steps", "0", "--lighting",
                           "0.25", "--direction", "90", "--motion-speed", "3")
    assert (settings.latent_steps, settings.finetune_steps, settings.lighting, settings.direction) == (7, 0, 0.25, 90)
    assert settings.speed == pytest.approx(3 * DeepLandscapeSettings().speed)   # relative to the default
    assert settings_of("--model", str(dl_model), "--no-appearance").lighting == 0.0
    assert settings_of("--model", str(dl_model), "--auto-mask", "none").use_mask is False
    assert settings_of("--model", str(dl_model), "--auto-mask", "sky+water").use_mask is True
    assert settings_of("--model", str(dl_model)).finetune_steps == TINY_DEFAULTS["finetune_steps"]

    photo = _photo_folder(tmp_path / "in") / "photo0.png"
    # --mask: its black part stays the photo's own pixels (PNG frames, lossless)
    mask = np.zeros((40, 56), np.uint8)
    mask[:10] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    frames = tmp_path / "frames"
    assert main(["animate", str(photo), "-o", f"{frames}/", "-q", "--model", str(dl_model), "--mask",
                 str(tmp_path / "mask.png"), "--frames", "3"]) == 0
    original = np.asarray(Image.open(photo).convert("RGB"))
    written = sorted(frames.glob("*.png"))
    assert len(written) == 3
    for path in written:
        assert np.array_equal(np.asarray(Image.open(path).convert("RGB"))[20:], original[20:])
    for options, message in ((["--finetune-steps", "5"], "--finetune-steps is not available with --method al"),
                             (["--model", str(dl_model), "--lighting", "0.5", "--no-appearance"],
                              "--lighting contradicts --no-appearance"),
                             (["--model", str(dl_model), "--auto-mask", "sky"],
                              "--auto-mask sky is not available with --method deeplandscape")):
        out = tmp_path / "x.mp4"
        assert main(["animate", str(photo), "-o", str(out), "-q", *options]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and not out.exists()


def test_a_deeplandscape_batch_with_al_controls_is_refused(dl_model, tmp_path, capsys):
    from cinescape.cli import main

    photos = _photo_folder(tmp_path / "in", count=2)
    code = main(["animate", str(photos), "-o", f"{tmp_path / 'out'}/", "--model", str(dl_model), "--motion-code",
                 "3", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "--motion-code is not available with --method deeplandscape" in err
    assert len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------------------- web

def test_the_web_page_takes_a_deeplandscape_model_and_refuses_other_pipelines_in_one_line(dl_model, capsys):
    from dataclasses import dataclass

    from cinescape.cli import main
    from cinescape.methods.al import CinemagraphPipeline
    from cinescape.web import check_web_pipeline, page_kind

    assert page_kind(_tiny_pipeline()) == "deeplandscape" and page_kind(CinemagraphPipeline) == "al"
    check_web_pipeline(_tiny_pipeline())

    @dataclass
    class OtherSettings:
        seed: int = 0

    class OtherPipeline:
        settings_class = OtherSettings

    message = "the web page has no controls for OtherPipeline"
    with pytest.raises(CinescapeError, match=message):
        check_web_pipeline(OtherPipeline)
    # the folder's method must be the one asked for: said before any weights load
    assert main(["serve", "--method", "fgla", "--model", str(dl_model)]) == 2
    err = capsys.readouterr().err
    assert "is a model of method deeplandscape, not fgla" in err and len(err.strip().splitlines()) == 1
    pytest.importorskip("fastapi")
    from cinescape.web.service import RenderService

    with pytest.raises(CinescapeError, match=message):
        RenderService(OtherPipeline())


def test_lpips_min_size_is_the_smallest_side_its_backbone_takes():
    """LPIPS.MIN_SIZE is where SqueezeNet's last layer keeps a pixel: one less fails inside torch, so DeepLandscape
    fine-tunes a smaller (toy) generator on L1 alone instead of crashing."""
    import torch

    from cinescape.models.lpips import LPIPS

    model = LPIPS(pretrained=False)
    size = LPIPS.MIN_SIZE
    assert model.features(torch.rand(1, 3, size, size) * 255)[-1].shape[-1] >= 1
    with pytest.raises(RuntimeError):
        model.features(torch.rand(1, 3, size - 1, size - 1) * 255)
