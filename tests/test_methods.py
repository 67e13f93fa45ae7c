"""The method contract: load_pipeline dispatches on pipeline.json, pipelines are safe from two threads, one
checkpoint format (old checkpoints load), configs name the parameter in their errors."""

import json
import threading

import numpy as np
import pytest
import torch

from cinescape.errors import ModelLoadError, OptionError
from cinescape.methods import SHIPPED_MODELS, load_pipeline, method_of, pipeline_class
from cinescape.methods.al import AnimationSettings, CinemagraphPipeline
from cinescape.methods.fgla import FGLAPipeline
from cinescape.training import load_checkpoint, save_checkpoint


def test_load_pipeline_dispatches_on_the_pipeline_class(tiny_pipeline, tmp_path):
    assert type(load_pipeline()) is CinemagraphPipeline
    assert type(load_pipeline("fgla")) is FGLAPipeline
    assert method_of(load_pipeline("fgla")) == "fgla" and method_of(CinemagraphPipeline) == "al"
    folder = tiny_pipeline.save_pretrained(tmp_path / "al")
    assert json.loads((folder / "pipeline.json").read_text())["pipeline_class"] == "al.CinemagraphPipeline"
    assert pipeline_class(folder) is CinemagraphPipeline and type(load_pipeline(folder)) is CinemagraphPipeline
    # a folder written before pipeline_class existed still loads with the class its components say
    settings = json.loads((folder / "pipeline.json").read_text())
    del settings["pipeline_class"]
    (folder / "pipeline.json").write_text(json.dumps(settings))
    assert type(load_pipeline(folder)) is CinemagraphPipeline


@pytest.mark.parametrize("name", ["al.NoSuchPipeline", "nosuchmethod.Pipeline", "al", "al.AnimationSettings"])
def test_an_unknown_pipeline_class_is_a_one_line_error_naming_folder_and_class(tiny_pipeline, tmp_path, name):
    folder = tiny_pipeline.save_pretrained(tmp_path / "model")
    settings = json.loads((folder / "pipeline.json").read_text())
    (folder / "pipeline.json").write_text(json.dumps({**settings, "pipeline_class": name}))
    with pytest.raises(ModelLoadError) as exc:
        load_pipeline(folder)
    message = str(exc.value)
    assert str(folder) in message and repr(name) in message and "\n" not in message


def test_shipped_model_names():
    assert pipeline_class(SHIPPED_MODELS["default"]) is CinemagraphPipeline
    assert pipeline_class(SHIPPED_MODELS["fgla"]) is FGLAPipeline


def _run_in_threads(calls):
    """Run the callables at once (a barrier releases them together); their results in order."""
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def worker(i):
        try:
            barrier.wait()
            results[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_one_fgla_pipeline_animates_two_photos_from_two_threads_as_it_does_one_after_the_other():
    torch.set_num_threads(1)
    pipeline = load_pipeline("fgla")
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(2)]
    groups = [np.zeros((48, 64), np.int64), np.where(np.arange(48)[:, None] < 24, 0, 3).repeat(64, 1)]
    requests = [dict(groups=groups[0]), dict(groups=groups[1], speeds={"water": 0.0})]
    settings = AnimationSettings(num_frames=4, appearance=False, auto_mask="none", loop="none", mode="recurrent")

    def call(i):
        return lambda: pipeline(photos[i], settings, seed=i, **requests[i])

    alone = [call(0)(), call(1)()]
    together = _run_in_threads([call(0), call(1)])
    for a, b in zip(alone, together):
        assert len(a) == len(b) == 4
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(alone[0][1:], alone[1][1:]))  # the calls differ
    assert not hasattr(pipeline, "_request") and not hasattr(pipeline, "motion")   # nothing per call on self (the
    # motion model is bound to each call's group map: FGLAPipeline.motion_model)


def test_one_al_pipeline_from_two_threads(tiny_pipeline, photo):
    settings = [AnimationSettings(num_frames=4, seed=1, auto_mask="none"),
                AnimationSettings(num_frames=4, seed=2, auto_mask="none", loop="none", mode="recurrent")]
    alone = [tiny_pipeline(photo, s) for s in settings]
    together = _run_in_threads([lambda s=s: tiny_pipeline(photo, s) for s in settings])
    for a, b in zip(alone, together):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_old_checkpoints_load_in_the_current_format(tmp_path):
    weights = {"w": torch.ones(2)}
    # velocity runs wrote "student" and "optimiser"; AL runs had their kind only in the config
    torch.save({"student": weights, "optimiser": {"state": {}}, "step": 3, "config": {}}, tmp_path / "velocity.pt")
    torch.save({"model": weights, "optimizer": {}, "step": 5, "config": {"kind": "motion"}, "common_fields": 0},
               tmp_path / "motion.pt")
    velocity = load_checkpoint(tmp_path / "velocity.pt", "velocity")
    assert velocity["kind"] == "velocity" and torch.equal(velocity["model"]["w"], weights["w"])
    assert velocity["optimizer"] == {"state": {}} and velocity["step"] == 3
    assert load_checkpoint(tmp_path / "motion.pt", ("motion", "appearance"))["kind"] == "motion"
    save_checkpoint(tmp_path / "new.pt", {"kind": "fgla", "model": weights, "step": 1})
    assert load_checkpoint(tmp_path / "new.pt")["format"] == 2
    with pytest.raises(OptionError, match="is a motion checkpoint, expected fgla"):
        load_checkpoint(tmp_path / "motion.pt", "fgla")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(OptionError, match="junk.pt is not a readable checkpoint") as exc:
        load_checkpoint(tmp_path / "junk.pt")
    assert "\n" not in str(exc.value)


def test_configs_validate_themselves_and_name_the_parameter():
    from cinescape.methods.al.train import TrainConfig
    from cinescape.methods.al.velocity import VelocityTrainConfig
    from cinescape.methods.fgla.train import FGLATrainConfig

    with pytest.raises(OptionError, match=r"^crop must be a positive multiple of 8, got 12$"):
        TrainConfig(kind="motion", out="x", synthetic=1, crop=12).validate()
    with pytest.raises(OptionError, match=r"^kind must be one of motion, appearance"):
        TrainConfig(kind="colour", out="x", synthetic=1).validate()
    with pytest.raises(OptionError, match=r"^crop must be a multiple of 8"):
        FGLATrainConfig(out="x", synthetic=1, crop=12).validate()
    with pytest.raises(OptionError, match=r"^rollout must be >= 2, got 1$"):
        VelocityTrainConfig(out="x", data=["clips"], rollout=1).validate()
    with pytest.raises(OptionError, match=r"^num_frames must be between 2 and 10000, got 1$"):
        AnimationSettings(num_frames=1).validate()


def test_inference_imports_no_training_code():
    import subprocess
    import sys

    code = ("import sys, cinescape, cinescape.cli, cinescape.eval.evaluate, cinescape.eval.bench; "
            "from cinescape import load_pipeline; load_pipeline('fgla'); "
            "print(' '.join(m for m in sys.modules if m.startswith('cinescape')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    training = {"cinescape.training", "cinescape.methods.al.train", "cinescape.methods.al.velocity",
                "cinescape.methods.al.train_lstm", "cinescape.methods.fgla.train"}
    assert "cinescape.methods.fgla.pipeline" in loaded and not training & set(loaded)


def test_train_options_of_the_cli_are_config_fields():
    """Every `cinescape train` option sets a field of a training config (the CLI writes no default of its own
    for them: argparse's default is None, the dataclass' default applies)."""
    import dataclasses

    from cinescape.cli import TRAIN_OPTION_FIELDS, build_parser
    from cinescape.methods.al.train import TrainConfig
    from cinescape.methods.al.velocity import VelocityTrainConfig
    from cinescape.methods.deeplandscape.train import DeepLandscapeTrainConfig
    from cinescape.methods.fgla.train import FGLATrainConfig

    fields = set().union(*({f.name for f in dataclasses.fields(c)}
                           for c in (TrainConfig, VelocityTrainConfig, FGLATrainConfig, DeepLandscapeTrainConfig)))
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    for action in train._actions:
        if action.dest in ("help", "kind", "resume", "export"):
            continue
        field = TRAIN_OPTION_FIELDS.get(action.dest, action.dest)
        assert field in fields, action.option_strings
        assert action.default in (None, False, []), (action.option_strings, action.default)
