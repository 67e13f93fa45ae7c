"""``cinescape train`` and ``cinescape codebook``: options map onto the training configs' fields."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CinescapeError
from .options import _non_negative_int, _nonnegative_float, _positive_float, _positive_int

# Library errors name training-config fields; the CLI says these flags instead.
PARAMETER_FLAGS = {"num_res_blocks": "--res-blocks", "init_from": "--init-from", "teacher": "--init-from",
                "alpha": "--fgla-alpha", "bf16": "--no-bf16", "loss_floor": "--velocity-loss", "out": "--out"}



def add_parsers(commands) -> None:
    train = commands.add_parser("train", help="train the motion or appearance model (AL Algorithms 2, 3), FGLA, "
                                              "the Eulerian mode's velocity predictor, or DeepLandscape",
                                description="Train on time-lapse clips: folders of frames or video files. "
                                            "Resumable with --resume. motion, appearance and deeplandscape train "
                                            "data-parallel under torchrun (--batch-size per process).")
    train.add_argument("kind", choices=["motion", "appearance", "fgla", "velocity", "deeplandscape"],
                       help="velocity: distil the Eulerian mode's one-call velocity predictor from a model's recurrent "
                            "motion (--init-from MODEL_DIR, default the shipped model; see cinescape.methods.al.velocity); "
                            "deeplandscape: the GAN, its encoder and lighting approximator "
                            "(cinescape.methods.deeplandscape.train)")
    train.add_argument("--data", action="append", default=[], metavar="PATH[:STRIDE]",
                       help="a clip or a folder of clips, optionally with a frame stride; repeatable "
                            "(deeplandscape: also a frame archive .npz)")
    train.add_argument("--synthetic", type=int, default=None, metavar="N", help="add N procedural clips")
    train.add_argument("--out", required=True, help="run folder (checkpoint.pt, log.csv, model/)")
    train.add_argument("--steps", type=_positive_int, default=None)
    train.add_argument("--batch-size", type=_positive_int, default=None)
    train.add_argument("--crop", type=_positive_int, default=None, help="training crop side, multiple of 8")
    train.add_argument("--short-side", type=_positive_int, default=None, help="clips are decoded at this short side")
    train.add_argument("--lr", type=_positive_float, default=None,
                       help="Adam learning rate (default 1e-4; velocity 3e-5: it fine-tunes a predictor that is "
                            "already close)")
    train.add_argument("--width", type=_positive_float, default=None, help="predictor channel multiplier (paper: 1)")
    train.add_argument("--res-blocks", type=_positive_int, default=None)
    train.add_argument("--beta", type=_positive_float, default=None, help="motion flow range 1/beta (motion only)")
    train.add_argument("--motion-tv", type=_nonnegative_float, default=None, help="lambda_tv of the motion loss")
    train.add_argument("--motion-norm", choices=["l2", "charbonnier"], default=None,
                       help="photometric error of the motion loss: l2 (AL Eq. 1) or charbonnier (robust L1)")
    train.add_argument("--min-pair-difference", type=_nonnegative_float, default=None)
    train.add_argument("--min-pair-motion", type=_nonnegative_float, default=None, metavar="PX",
                       help="motion: skip frame pairs whose 90th-percentile pseudo-GT flow is below PX pixels")
    train.add_argument("--flow-loss", type=_nonnegative_float, default=None, metavar="WEIGHT",
                       help="motion: weight of an L1 loss to OpenCV DIS pseudo-ground-truth flow (FGLA's L_flow; "
                            "synthetic clips use their exact flow); 0 = AL's losses only")
    train.add_argument("--common-field", choices=["predicted", "flow", "pair"], default=None,
                       help="motion encoder input: predicted (AL Algorithm 2), flow (each clip's mean pseudo-GT flow) "
                            "or pair (each pair's own pseudo-GT flow; codebook: each clip's median-speed pair)")
    train.add_argument("--motion-gate", action="store_true",
                       help="motion: gated flow head (sigmoid gate per pixel) so still regions can stop exactly")
    train.add_argument("--latent-prior", choices=["none", "vae", "wae"], default=None,
                       help="motion/appearance: regularise the encoder's codes towards N(0, I) (AL Sec. 6.6) so "
                            "animate can draw them with --motion-code gaussian / --appearance-code gaussian; "
                            "none (default) keeps AL's codebook-only codes")
    train.add_argument("--latent-prior-weight", type=_nonnegative_float, default=None, metavar="W",
                       help="weight of the prior's KL (vae) or MMD (wae) term (default 1e-3)")
    train.add_argument("--init-from", default=None, metavar="PATH",
                       help="start from the weights of a run's checkpoint.pt or a model folder (fine-tuning)")
    train.add_argument("--snapshot-every", type=int, default=None, metavar="N",
                       help="also export the model to OUT/snapshots/step_N every N steps, for selection")
    train.add_argument("--include-validation", action="store_true",
                       help="also train on the fixed validation clips (see cinescape.data.splits)")
    train.add_argument("--threads", type=int, default=None, help="torch threads (0 = default)")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--no-bf16", action="store_true", help="train in float32 (bf16 autocast is the default)")
    train.add_argument("--checkpoint-every", type=_positive_int, default=None)
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    train.add_argument("--export", default=None, metavar="DIR", help="also write the trained part into a model folder")
    train.add_argument("--frame-stride", type=_positive_int, default=None, metavar="N",
                       help="fgla: frame stride of --data sources given without :STRIDE (FGLA: 4)")
    train.add_argument("--rollout", type=_positive_int, default=None, metavar="N",
                       help="velocity: frames of each recurrent rollout whose mean flow is a target (default 32)")
    train.add_argument("--targets", type=_non_negative_int, default=None, metavar="N",
                       help="velocity: (start crop, code) pairs the teacher rolls out (default 2048; 0: train on "
                            "--pool targets only)")
    train.add_argument("--pool", action="append", default=[], metavar="RUN",
                       help="velocity: also train on another run's targets (its folder or targets.pt), built by the "
                            "same teacher and settings with another --seed; repeatable")
    train.add_argument("--lr-schedule", choices=["constant", "cosine"], default=None,
                       help="velocity: constant learning rate (default) or cosine decay to 0 over --steps")
    train.add_argument("--velocity-loss", choices=["relative", "l1"], default=None,
                       help="velocity: L1 per sample over (its mean speed + 0.1 px) (default), or plain L1 in pixels")
    train.add_argument("--fgla-alpha", type=_nonnegative_float, default=None,
                       help="fgla: weight of L_flow on normalised flows (FGLA: 0.5)")
    train.add_argument("--fgla-beta", type=_nonnegative_float, default=None,
                       help="fgla: weight of the edge-aware TV on normalised flows (FGLA: 5)")
    train.add_argument("--log-every", type=_positive_int, default=None, metavar="N", help="a log.csv row every N steps")
    dl = train.add_argument_group("deeplandscape", "options of `cinescape train deeplandscape` (defaults: "
                                                   "cinescape.methods.deeplandscape.train.DeepLandscapeTrainConfig)")
    dl.add_argument("--resolution", type=_positive_int, default=None, metavar="PX",
                    help="generator and training frame side, a power of two (default 128)")
    dl.add_argument("--channel-base", type=_positive_int, default=None, metavar="C",
                    help="G and D width: channels at resolution r are min(--channel-max, C / r) (default 4096)")
    dl.add_argument("--channel-max", type=_positive_int, default=None, metavar="C", help="(default 256)")
    dl.add_argument("--frames-per-clip", type=_positive_int, default=None, metavar="N",
                    help="frames kept, evenly spaced, of each --data clip and procedural clip (default 16)")
    dl.add_argument("--r1-weight", type=_nonnegative_float, default=None, metavar="GAMMA",
                    help="R1 penalty weight on real images (default 0.1)")
    dl.add_argument("--r1-every", type=_positive_int, default=None, metavar="N",
                    help="lazy R1: every N steps (default 16)")
    dl.add_argument("--mbstd-group", type=_positive_int, default=None, metavar="N",
                    help="minibatch-stddev group of the discriminators (default 4)")
    dl.add_argument("--pair-anneal-steps", type=_positive_int, default=None, metavar="N",
                    help="steps over which G's share of pairwise-D updates goes 0.5 -> 0.1 (default 3000)")
    dl.add_argument("--encoder-steps", type=_non_negative_int, default=None, metavar="N",
                    help="encoder steps after the GAN (default 1000)")
    dl.add_argument("--encoder-batch-size", type=_positive_int, default=None, metavar="N", help="(default 64)")
    dl.add_argument("--lighting-steps", type=_non_negative_int, default=None, metavar="N",
                    help="lighting approximator steps after the encoder (default 5000)")
    dl.add_argument("--lighting-batch-size", type=_positive_int, default=None, metavar="N", help="(default 256)")
    dl.add_argument("--time-budget", type=_nonnegative_float, default=None, metavar="SECONDS",
                    help="wall clock for all phases, ending each early (0: none, the default)")
    dl.add_argument("--encoder-seconds", type=_nonnegative_float, default=None, metavar="SECONDS",
                    help="of --time-budget, kept for the encoder (default 60)")
    dl.add_argument("--lighting-seconds", type=_nonnegative_float, default=None, metavar="SECONDS",
                    help="of --time-budget, kept for the lighting approximator (default 20)")
    dl.add_argument("--device", default=None, metavar="DEVICE", help="auto (default), cpu, cuda or cuda:N")

    codebook = commands.add_parser("codebook", help="(re)build a model's codebook from training data",
                                   description="Motion codes come from a motion run's checkpoint (the common motion "
                                               "field of each clip); appearance codes encode every frame of each clip.")
    codebook.add_argument("--model", required=True, metavar="DIR", help="model folder to update")
    codebook.add_argument("--motion-checkpoint", default=None, metavar="FILE", help="checkpoint.pt of a motion run")
    codebook.add_argument("--appearance-data", action="append", default=[], metavar="PATH[:STRIDE]")
    codebook.add_argument("--short-side", type=_positive_int, default=160)
    codebook.add_argument("--train-lstm", action="store_true",
                          help="train the appearance-code LSTM (AL App. B) on the codebook's appearance sequences and "
                               "save it as DIR/appearance_lstm/ (a few seconds; redo after rebuilding the appearance "
                               "codes); enables `cinescape animate --appearance-sequence lstm`")
    codebook.add_argument("--lstm-steps", type=_positive_int, default=500, help="LSTM training steps (default 500)")


# `cinescape train` options whose config field has another name (by kind where the name differs per config);
# every other option's dest is its field's name. Defaults live in the config dataclasses only.
TRAIN_OPTION_FIELDS = {"res_blocks": "num_res_blocks", "no_bf16": "bf16", "fgla_alpha": "alpha",
                       "fgla_beta": "beta", "velocity_loss": "loss_floor"}
_KIND_FIELDS = {"fgla": {"fgla_alpha": "alpha", "fgla_beta": "beta", "beta": None},
                "velocity": {"init_from": "teacher"}}


def train_config(args: argparse.Namespace):
    """The training config of ``args.kind`` from the options given (None: the dataclass default); an option the
    kind has no field for is a one-line error."""
    import dataclasses

    from ..methods.al.train import TrainConfig
    from ..methods.al.velocity import VelocityTrainConfig
    from ..methods.deeplandscape.train import DeepLandscapeTrainConfig
    from ..methods.fgla.train import FGLATrainConfig

    cls = {"fgla": FGLATrainConfig, "velocity": VelocityTrainConfig,
           "deeplandscape": DeepLandscapeTrainConfig}.get(args.kind, TrainConfig)
    names = {f.name for f in dataclasses.fields(cls)}
    renamed = {**{k: v for k, v in TRAIN_OPTION_FIELDS.items() if k not in ("fgla_alpha", "fgla_beta")},
               **_KIND_FIELDS.get(args.kind, {})}
    values = {"kind": args.kind} if "kind" in names else {}
    for dest, value in vars(args).items():
        if dest in ("command", "kind", "resume", "export", "argv") or value in (None, False, []):
            continue
        field = renamed.get(dest, dest)
        if field not in names:
            raise CinescapeError(f"--{dest.replace('_', '-')} is not an option of `cinescape train {args.kind}`")
        if dest == "no_bf16":
            value = False
        elif dest == "velocity_loss":
            value = None if value == "l1" else cls.loss_floor
        values[field] = value
    config = cls(**values)
    config.validate()
    return config


def run_train(args: argparse.Namespace) -> None:
    config = train_config(args)
    if args.kind == "fgla":
        from ..methods.fgla.train import train_fgla as train
    elif args.kind == "velocity":
        from ..methods.al.velocity import train_velocity as train
    elif args.kind == "deeplandscape":
        from ..methods.deeplandscape.train import train_deeplandscape as train
    else:
        from ..methods.al.train import train
    trained = train(config, resume=args.resume, export=args.export)
    what = {"velocity": "velocity predictor", "deeplandscape": "DeepLandscape model"}.get(args.kind, f"{args.kind} model")
    print(f"trained {what} in {trained}" + (f" (exported to {args.export})" if args.export else ""), file=sys.stderr)


def run_codebook(args: argparse.Namespace) -> None:
    from ..methods.al.train import rebuild_codebook

    if not args.motion_checkpoint and not args.appearance_data and not args.train_lstm:
        raise CinescapeError("nothing to do: give --motion-checkpoint, --appearance-data and/or --train-lstm")
    if args.motion_checkpoint or args.appearance_data:
        codebook = rebuild_codebook(Path(args.model), motion_checkpoint=args.motion_checkpoint,
                                    appearance_data=args.appearance_data, short_side=args.short_side)
        print(f"codebook of {args.model}: {codebook.motion.shape[0]} motion codes, "
              f"{len(codebook.appearance)} appearance sequences", file=sys.stderr)
    if args.train_lstm:
        from ..methods.al.appearance_lstm import FOLDER
        from ..methods.al.codebook import Codebook
        from ..methods.al.train_lstm import appearance_lstm_loss, train_appearance_lstm

        if not Path(args.model).is_dir():
            raise CinescapeError(f"model folder {args.model} does not exist")
        codebook = Codebook.load(args.model)
        lstm, losses = train_appearance_lstm(codebook, steps=args.lstm_steps)
        path = lstm.save_pretrained(Path(args.model) / FOLDER)
        print(f"trained the appearance LSTM on {sum(s.shape[0] for s in codebook.appearance)} codes in "
              f"{len(codebook.appearance)} sequences ({args.lstm_steps} steps, next-code loss "
              f"{appearance_lstm_loss(lstm, codebook):.4f}); saved {path}", file=sys.stderr)

