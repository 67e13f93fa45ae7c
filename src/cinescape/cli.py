"""``cinescape`` command line: a thin shell over the Python API.

    cinescape animate photo.jpg -o loop.mp4
    cinescape train motion --data ../shared/data/motion --out runs/motion
    cinescape codebook --model runs/appearance/model --appearance-data ../shared/data/appearance

User errors print one line (``cinescape: error: ...``) and exit with status 2; no traceback, and no
partial output file is left behind.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from . import __version__
from .errors import CinescapeError

EXAMPLES = """examples:
  cinescape animate photo.jpg -o loop.mp4
  cinescape animate photo.jpg -o loop.gif --frames 48 --fps 12 --motion-code pc:0.8 --no-appearance
  cinescape animate photo.jpg -o frames/ --loop none --frames 32 --flow-video flow.mp4
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _float_at_least(minimum: float, *, inclusive: bool):
    """argparse type: a finite float >= minimum (or > minimum)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        ok = value >= minimum if inclusive else value > minimum
        if not (ok and value < float("inf")):
            raise argparse.ArgumentTypeError(f"expected a number {'>=' if inclusive else '>'} {minimum:g}, got {text}")
        return value
    return parse


_positive_float = _float_at_least(0.0, inclusive=False)
_nonnegative_float = _float_at_least(0.0, inclusive=True)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors, like every other cinescape error."""

    def error(self, message: str):
        self.exit(2, f"cinescape: error: {self.prog.split()[-1]}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cinescape", description="Turn a landscape photo into a looping time-lapse.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"cinescape {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    animate = commands.add_parser(
        "animate", help="animate a photo into a looping video", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Animate a photo (AL Algorithm 1). OUTPUT's extension picks the format: .mp4 (H.264), .webm "
                    "(VP9), .gif, .webp (animated), or a path ending in / for numbered PNG frames.")
    animate.add_argument("input", help="the photo (JPEG, PNG, WebP, TIFF, ...)")
    animate.add_argument("-o", "--output", required=True, help="output video file, or folder/ for PNG frames")
    animate.add_argument("--frames", type=_positive_int, default=60, help="number of output frames (default 60)")
    animate.add_argument("--fps", type=_positive_float, default=20.0, help="frames per second (default 20)")
    animate.add_argument("--loop", choices=["crossfade", "none"], default="crossfade",
                         help="crossfade: seamless loop (AL Sec. 5); none: frame 0 is the photo (default crossfade)")
    animate.add_argument("--seed", type=int, default=0, help="seed for codes picked at random (default 0)")
    animate.add_argument("--motion-code", default=None, metavar="SEL",
                         help="motion code: codebook index (e.g. 3), pc:POS with POS in 0..1 along the first "
                              "principal component, or random (default: random from --seed)")
    animate.add_argument("--appearance-code", default=None, metavar="SEL",
                         help="appearance code sequence: index, pc:POS or random, as --motion-code")
    animate.add_argument("--motion-speed", type=_nonnegative_float, default=1.0,
                         help="flow scale: 2 moves twice as fast, 0 freezes motion (default 1)")
    animate.add_argument("--appearance-speed", type=_positive_int, default=1,
                         help="motion loops per appearance cycle (AL Sec. 5): the video holds one appearance "
                              "cycle and the motion loops this many times in it; --frames must be a multiple "
                              "(default 1)")
    animate.add_argument("--no-appearance", action="store_true", help="motion only: keep the photo's colours")
    animate.add_argument("--model", default=None, metavar="DIR", help="model folder (default: the shipped model)")
    animate.add_argument("--flow-video", default=None, metavar="PATH",
                         help="also write the colour-coded frame-to-frame flow as a video (same formats)")
    animate.add_argument("--working-size", type=_positive_int, default=None, metavar="PX",
                         help="short side the networks run at (default: the model's, 144)")
    animate.add_argument("--overwrite", action="store_true", help="replace an existing PNG frame folder")
    animate.add_argument("-q", "--quiet", action="store_true", help="no progress bars")

    train = commands.add_parser("train", help="train the motion or appearance model (AL Algorithms 2, 3)",
                                description="Train on time-lapse clips: folders of frames or video files. "
                                            "Resumable with --resume.")
    train.add_argument("kind", choices=["motion", "appearance"])
    train.add_argument("--data", action="append", default=[], metavar="PATH[:STRIDE]",
                       help="a clip or a folder of clips, optionally with a frame stride; repeatable")
    train.add_argument("--synthetic", type=int, default=0, metavar="N", help="add N procedural clips")
    train.add_argument("--out", required=True, help="run folder (checkpoint.pt, log.csv, model/)")
    train.add_argument("--steps", type=_positive_int, default=2000)
    train.add_argument("--batch-size", type=_positive_int, default=8)
    train.add_argument("--crop", type=_positive_int, default=128, help="training crop side, multiple of 8")
    train.add_argument("--short-side", type=_positive_int, default=160, help="clips are decoded at this short side")
    train.add_argument("--lr", type=_positive_float, default=1e-4)
    train.add_argument("--width", type=_positive_float, default=0.25, help="predictor channel multiplier (paper: 1)")
    train.add_argument("--res-blocks", type=_positive_int, default=5)
    train.add_argument("--beta", type=_positive_float, default=16.0, help="motion flow range 1/beta (motion only)")
    train.add_argument("--motion-tv", type=_nonnegative_float, default=None, help="lambda_tv of the motion loss")
    train.add_argument("--min-pair-difference", type=_nonnegative_float, default=0.02)
    train.add_argument("--include-validation", action="store_true",
                       help="also train on the fixed validation clips (see cinescape.data.splits)")
    train.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--no-bf16", action="store_true", help="train in float32 (bf16 autocast is the default)")
    train.add_argument("--checkpoint-every", type=_positive_int, default=250)
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    train.add_argument("--export", default=None, metavar="DIR", help="also write the trained part into a model folder")

    codebook = commands.add_parser("codebook", help="(re)build a model's codebook from training data",
                                   description="Motion codes come from a motion run's checkpoint (the common motion "
                                               "field of each clip); appearance codes encode every frame of each clip.")
    codebook.add_argument("--model", required=True, metavar="DIR", help="model folder to update")
    codebook.add_argument("--motion-checkpoint", default=None, metavar="FILE", help="checkpoint.pt of a motion run")
    codebook.add_argument("--appearance-data", action="append", default=[], metavar="PATH[:STRIDE]")
    codebook.add_argument("--short-side", type=_positive_int, default=160)
    return parser


def run_animate(args: argparse.Namespace) -> None:
    from .io.image import load_image
    from .io.video import VideoWriter
    from .pipeline import AnimationSettings, CinemagraphPipeline

    settings = AnimationSettings(num_frames=args.frames, loop=args.loop, seed=args.seed, motion_code=args.motion_code,
                                 appearance_code=args.appearance_code, motion_speed=args.motion_speed,
                                 appearance_speed=args.appearance_speed, appearance=not args.no_appearance,
                                 working_size=args.working_size)
    settings.validate()
    image = load_image(args.input)
    pipeline = CinemagraphPipeline.from_pretrained(args.model)
    size = (image.shape[1], image.shape[0])
    if args.flow_video and Path(args.flow_video).resolve() == Path(args.output).resolve():
        raise CinescapeError("--flow-video must differ from the output path")
    # Open the writers first, so a bad output path fails before any work; on any error both discard their files.
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(VideoWriter(args.output, fps=args.fps, size=size, overwrite=args.overwrite))
        flow_writer = None
        if args.flow_video:
            flow_writer = stack.enter_context(VideoWriter(args.flow_video, fps=args.fps, size=size,
                                                          overwrite=args.overwrite))
        animation = pipeline.plan(image, settings, progress=not args.quiet)
        for frame in animation.frames():
            writer.write(frame)
        if flow_writer is not None:
            for frame in animation.flow_frames():
                flow_writer.write(frame)
    if not args.quiet:
        print(f"wrote {args.output} ({animation.num_frames} frames, {size[0]}x{size[1]}, {args.fps:g} fps)"
              + (f" and {args.flow_video}" if args.flow_video else ""), file=sys.stderr)


def run_train(args: argparse.Namespace) -> None:
    from .motion import MotionLossWeights
    from .train import TrainConfig, train

    if args.crop % 8:
        raise CinescapeError(f"--crop must be a multiple of 8, got {args.crop}")
    if not args.data and not args.synthetic:
        raise CinescapeError("give training data with --data PATH (repeatable) and/or --synthetic N")
    config = TrainConfig(kind=args.kind, out=args.out, data=args.data, synthetic=args.synthetic, steps=args.steps,
                         batch_size=args.batch_size, crop=args.crop, short_side=args.short_side, lr=args.lr,
                         width=args.width, num_res_blocks=args.res_blocks, beta=args.beta,
                         motion_tv=MotionLossWeights.tv if args.motion_tv is None else args.motion_tv,
                         min_pair_difference=args.min_pair_difference, include_validation=args.include_validation,
                         bf16=not args.no_bf16, threads=args.threads, seed=args.seed,
                         checkpoint_every=args.checkpoint_every)
    model_dir = train(config, resume=args.resume, export=args.export)
    print(f"trained {args.kind} model in {model_dir}" + (f" (exported to {args.export})" if args.export else ""),
          file=sys.stderr)


def run_codebook(args: argparse.Namespace) -> None:
    from .train import rebuild_codebook

    if not args.motion_checkpoint and not args.appearance_data:
        raise CinescapeError("nothing to do: give --motion-checkpoint and/or --appearance-data")
    codebook = rebuild_codebook(Path(args.model), motion_checkpoint=args.motion_checkpoint,
                                appearance_data=args.appearance_data, short_side=args.short_side)
    print(f"codebook of {args.model}: {codebook.motion.shape[0]} motion codes, "
          f"{len(codebook.appearance)} appearance sequences", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed on one line
        return int(exc.code or 0)
    handlers = {"animate": run_animate, "train": run_train, "codebook": run_codebook}
    try:
        handlers[args.command](args)
    except CinescapeError as exc:
        print(f"cinescape: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cinescape: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # disk full, permission changed mid-run, ...
        print(f"cinescape: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
