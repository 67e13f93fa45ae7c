"""``cinescape`` command line: a thin shell over the Python API.

    cinescape animate photo.jpg -o loop.mp4
    cinescape animate photos/ -o loops/ --workers 2
    cinescape train motion --data ../shared/data/motion --out runs/motion
    cinescape codebook --model runs/appearance/model --appearance-data ../shared/data/appearance
    cinescape evaluate --data ../shared/data/motion/skytimelapse128 --method static shift default
    cinescape bench --sizes 512x288 1024x576
    cinescape serve --open                      # a local web page: paint what moves, draw arrows, render

User errors print one line (``cinescape: error: ...``) and exit with status 2; no traceback, and no
partial output file is left behind. Several photos (``cinescape animate photos/ -o loops/``, :mod:`cinescape.batch`)
print one line per photo that failed and exit with status 1 if any did.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from pathlib import Path

from . import __version__
from .errors import CinescapeError, OptionError
from .methods.al.pipeline import DEFAULT_LOOP_PERIOD

EXAMPLES = """examples:
  cinescape animate photo.jpg -o loop.mp4
  cinescape animate photo.jpg -o loop.gif --frames 48 --fps 12 --motion-code pc:0.8 --no-appearance
  cinescape animate photo.jpg -o frames/ --loop none --frames 32 --flow-video flow.mp4
  cinescape animate photo.jpg -o loop.mp4 --mode eulerian --loop symmetric --auto-mask sky
  cinescape animate photo.jpg -o loop.mp4 --arrows arrows.json --auto-mask sky
  cinescape animate photo.jpg -o loop.mp4 --time-of-day day,sunset,night
  cinescape animate photos/ -o loops/ --workers 2          # every photo in photos/ -> loops/NAME.mp4, resumable
  cinescape animate 'trip/*.jpg' -o 'loops/{stem}.webm' --backend ray
"""


def _int_at_least(minimum: int):
    """argparse type: an integer >= minimum."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected a positive integer, got {value}" if minimum == 1 else
                f"expected an integer >= {minimum}, got {value}")
        return value
    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


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
    animate.add_argument("input", nargs="+",
                         help="the photo (JPEG, PNG, WebP, TIFF, ...); several photos, a folder of photos or a glob "
                              "pattern animate each (see --workers)")
    animate.add_argument("-o", "--output", required=True,
                         help="output video file, or folder/ for PNG frames; several photos: a folder (DIR/ gets "
                              "DIR/{stem}.mp4 and DIR/manifest.jsonl) or a name pattern with {stem}, {name}, {parent} "
                              "(e.g. 'DIR/{stem}.gif', 'DIR/{stem}/' for PNG frames)")
    animate.add_argument("--frames", type=_positive_int, default=60, help="number of output frames (default 60)")
    animate.add_argument("--fps", type=_positive_float, default=20.0, help="frames per second (default 20)")
    animate.add_argument("--loop", choices=["phased", "crossfade", "symmetric", "none"], default="phased",
                         help="crossfade: seamless loop (AL Sec. 5); symmetric: the photo moved forward blended with "
                              "the photo moved backward, seamless, frame 0 is the photo (Holynski et al. 2021); "
                              "phased: two copies of the photo, each moved at most --loop-period/2 steps and faded "
                              "in turn, seamless, frame 0 is the photo; none: frame 0 is the photo, no loop "
                              "(default phased)")
    animate.add_argument("--loop-period", type=_float_at_least(2, inclusive=True), default=DEFAULT_LOOP_PERIOD,
                         metavar="FRAMES", help="phased loop: frames per cycle of each copy, rounded so whole cycles "
                                                f"fill the loop (default {DEFAULT_LOOP_PERIOD:g})")
    animate.add_argument("--appearance-locality", type=_float_at_least(0, inclusive=True), default=0.0,
                         metavar="X", help="0 (default): each frame's colour change is one grade per channel, the "
                                           "same for sky and land; 1: the appearance network's per-pixel maps (AL), "
                                           "applied along the photo's edges; in between, a mix (at most 1)")
    animate.add_argument("--mode", choices=["eulerian", "recurrent"], default="eulerian",
                         help="eulerian: the motion network runs once and its flow is integrated as a static velocity "
                              "field (Holynski et al. 2021; fast); recurrent: it runs on every frame (AL) "
                              "(default eulerian)")
    animate.add_argument("--mask", default=None, metavar="FILE",
                         help="motion mask image: white may move, black stays frozen, grey moves partly; resized to "
                              "the photo, edges feathered")
    animate.add_argument("--auto-mask", choices=["none", "sky", "sky+water", "fluid"], default=None,
                         help="sky: move only the sky found by the U²-Net-p sky matte (needs ncnn and the skyseg "
                              "weights, see CINESCAPE_WEIGHTS); sky+water (alias fluid): the sky matte or what the "
                              "ADE20K segmenter calls water or waterfall (also needs ai-edge-litert and the ade20k "
                              "weights); multiplies --mask. Default: the model's recommendation (the shipped "
                              "model: sky+water where its weights are found, else none with a warning)")
    animate.add_argument("--seed", type=int, default=0, help="seed for codes picked at random (default 0)")
    animate.add_argument("--motion-code", default=None, metavar="SEL",
                         help="motion code: codebook index (e.g. 3), pc:POS with POS in 0..1 along the first "
                              "principal component, random (default: random from --seed), or gaussian (drawn from "
                              "N(0, I) with --seed; models trained with --latent-prior vae|wae)")
    animate.add_argument("--appearance-code", default=None, metavar="SEL",
                         help="appearance code sequence: index, pc:POS, random or gaussian, as --motion-code")
    animate.add_argument("--motion-speed", type=_nonnegative_float, default=1.0,
                         help="speed relative to the model's default: 2 moves twice as fast, 0 freezes motion "
                              "(default 1; the shipped model's default is 0.6 of its training clips' speed)")
    animate.add_argument("--appearance-speed", type=_positive_int, default=1,
                         help="motion loops per appearance cycle (AL Sec. 5): the video holds one appearance "
                              "cycle and the motion loops this many times in it; --frames must be a multiple "
                              "(default 1)")
    animate.add_argument("--no-appearance", action="store_true", help="motion only: keep the photo's colours")
    animate.add_argument("--appearance-stride", type=_positive_int, default=1, metavar="K",
                         help="predict the colour maps every K-th frame and interpolate between (faster; K=2 "
                              "measured about 55 dB PSNR from K=1; default 1)")
    animate.add_argument("--model", default=None, metavar="DIR", help="model folder (default: the shipped model)")
    animate.add_argument("--method", choices=["al", "fgla"], default=None,
                         help="al: Animating Landscape, one motion code (default); fgla: FGLA per-region motion, "
                              "the shipped FGLA model. With --model DIR the folder's pipeline.json says the method "
                              "(--method, if given, must agree)")
    animate.add_argument("--reference", action="append", default=[], metavar="GROUP=CLIP",
                         help="fgla: move GROUP (sky, tree, grass, water, waterfall, others) like it moves in CLIP (a "
                              "video or frame folder, CLIP:STRIDE allowed); repeatable. Groups without a reference keep "
                              "still; with no reference at all, every group takes a codebook latent from --seed")
    animate.add_argument("--region-speed", action="append", default=[], metavar="GROUP=X",
                         help="fgla: scale GROUP's motion by X (0 freezes it); repeatable")
    animate.add_argument("--reference-region", action="append", default=[], metavar="GROUP=REGION",
                         help="fgla: encode GROUP's reference under the clip's REGION (another group, or 'all' for "
                              "the whole frame) instead of its own GROUP, e.g. water=sky to let a cloud clip drive "
                              "the water; repeatable")
    animate.add_argument("--flow-video", default=None, metavar="PATH",
                         help="also write the colour-coded frame-to-frame flow as a video (same formats)")
    animate.add_argument("--working-size", type=_positive_int, default=None, metavar="PX",
                         help="short side the networks run at (default: the model's, 144)")
    control = animate.add_argument_group("control (AL Sec. 6.4)")
    control.add_argument("--arrows", default=None, metavar="FILE.json",
                         help='arrow annotations: a JSON list of {"from": [x, y], "to": [x, y]} in pixels of the '
                              "photo; the content at each arrow moves along it, its length the speed in pixels per "
                              "frame (--motion-speed still scales it)")
    control.add_argument("--arrows-mode", choices=["latent", "direct"], default="latent",
                         help="latent: optimise the motion code so the network's flow follows the arrows (AL Eq. 12; "
                              "natural motion, but only directions the model can produce); direct: a smooth field "
                              "interpolated from the arrows is the motion (any direction, a rigid drift; confine it "
                              "with --mask or --auto-mask) (default latent)")
    control.add_argument("--appearance-patches", default=None, metavar="FILE",
                         help='target colours: a JSON list of {"box": [x0, y0, x1, y1], "color": [r, g, b]} (photo '
                              "pixels, 0-255), or a PNG painted with the colours on transparency (alpha > 0 = "
                              "constrained); the colours go from the photo's to the best match and back (AL Eq. 13)")
    control.add_argument("--time-of-day", default=None, metavar="LIST",
                         help="colours go through these times of day, comma-separated: day, sunset, twilight "
                              "(dusk, dawn), night, e.g. day,sunset,night; codebook codes are labelled by their "
                              "brightness and warmth")
    control.add_argument("--appearance-sequence", choices=["codebook", "lstm"], default="codebook",
                         help="codebook: keyframes from a codebook sequence (--appearance-code); lstm: a sequence the "
                              "appearance LSTM generates from the photo's own code (AL App. B; the shipped model "
                              "has one, train your model's with `cinescape codebook --model DIR --train-lstm`) "
                              "(default codebook)")
    control.add_argument("--control-steps", type=int, default=100, metavar="N",
                         help="Adam steps of the arrow and patch optimisations (default 100)")
    batch = animate.add_argument_group(
        "several photos (cinescape.batch)",
        "Rerunning the same command skips the photos already done with the same settings and retries failed "
        "ones; a photo that fails is reported on one line and the others go on; the exit status is 1 if any "
        "failed. Every photo gets the same --seed, so its loop equals a one-photo `cinescape animate`.")
    batch.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                       help="animate in N worker processes, each loading the models once and using cores/N "
                            "threads (--backend ray: N actors of 1 CPU and 1 thread) (default 1: this process)")
    batch.add_argument("--backend", choices=["local", "ray"], default="local",
                       help="local: worker processes on this machine (default); ray: Ray actors on a local Ray or "
                            "the cluster at --ray-address (pip install \"cinescape[distributed]\"; on a cluster the "
                            "photos and -o must be on shared storage)")
    batch.add_argument("--ray-address", default=None, metavar="ADDR",
                       help="an existing Ray cluster (e.g. auto, ray://head:10001) for --backend ray")
    animate.add_argument("--overwrite", action="store_true", help="replace an existing PNG frame folder")
    animate.add_argument("-q", "--quiet", action="store_true", help="no progress bars")

    train = commands.add_parser("train", help="train the motion or appearance model (AL Algorithms 2, 3), FGLA, or "
                                              "the Eulerian mode's velocity predictor",
                                description="Train on time-lapse clips: folders of frames or video files. "
                                            "Resumable with --resume.")
    train.add_argument("kind", choices=["motion", "appearance", "fgla", "velocity"],
                       help="velocity: distil the Eulerian mode's one-call velocity predictor from a model's recurrent "
                            "motion (--init-from MODEL_DIR, default the shipped model; see cinescape.methods.al.velocity)")
    train.add_argument("--data", action="append", default=[], metavar="PATH[:STRIDE]",
                       help="a clip or a folder of clips, optionally with a frame stride; repeatable")
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

    evaluate = commands.add_parser(
        "evaluate", help="measure baselines and models with the papers' metrics",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Animate frame 0 of each test clip with each method and compare with the clip: masked "
                    "PSNR/SSIM (FGLA), LPIPS, RMSE (AL Fig. 10), motion ratio, DeepLandscape static consistency, "
                    "loop seam, flow EPE (synthetic clips), FID-SqueezeNet, and FID/FVD when their networks' "
                    "weights are given. Writes metrics.json, metrics.md, metrics.csv and plots/ into --out. "
                    "With --photos DIR instead: animate each photo at its own resolution as `cinescape animate` "
                    "does and measure the loops against the photo (patch coherence, colour-normalised coherence, "
                    "fluid/static motion in DIR/masks/NAME.png hand masks, sharpness, loop seam, seconds); "
                    "writes metrics.json, metrics.md, metrics.csv and sheets/ (contact sheets) into --out. "
                    "Photo methods take settings: NAME:KEY=VALUE,... with AnimationSettings fields, e.g. "
                    "default:mode=eulerian,loop=symmetric or default:appearance=false.",
        epilog="examples:\n"
               "  cinescape evaluate --data ../shared/data/motion/skytimelapse128 --method static shift default\n"
               "  cinescape evaluate --data clip_folder/ --cut --frames 32 --size 256 --out eval/\n"
               "  cinescape evaluate --synthetic 8 --method static shift runs/motion/model\n"
               "  cinescape evaluate --photos ../shared/data/photos --only-masked --method static shift default "
               "default:mode=eulerian,loop=symmetric --out eval_photos/\n")
    evaluate.add_argument("--data", default=None, metavar="DIR",
                          help="a clip (frame folder or video) or a folder of clips; frame 0 is the input")
    evaluate.add_argument("--photos", default=None, metavar="DIR",
                          help="a folder of photos (hand masks in DIR/masks/NAME.png, white = fluid), animated at "
                               "their own resolution; instead of --data/--synthetic")
    evaluate.add_argument("--synthetic", type=int, default=0, metavar="N",
                          help="also evaluate N procedural clips (exact flow: adds the EPE metric)")
    evaluate.add_argument("--method", nargs="+", default=["static", "shift", "default"], metavar="NAME",
                          help="static, shift, real (the clip itself), default (shipped model), a model folder or "
                               "fgla:DIR (an FGLA model folder) (default: static shift default); with --photos "
                               "also fgla (the shipped FGLA model) and settings NAME:KEY=VALUE,... (no real)")
    evaluate.add_argument("--frames", type=_positive_int, default=None,
                          help="frames per clip, input included (default 32), or per photo loop (default 60)")
    evaluate.add_argument("--size", type=_positive_int, default=256,
                          help="comparison size: square centre crop resized to SIZE (default 256)")
    evaluate.add_argument("--keep-aspect", action="store_true", help="resize the short side to --size, no crop")
    evaluate.add_argument("--samples", type=_positive_int, default=5,
                          help="latent codes (seeds) per clip for stochastic methods (default 5)")
    evaluate.add_argument("--stride", type=_positive_int, default=1, help="keep every STRIDE-th frame of each clip")
    evaluate.add_argument("--cut", action="store_true", help="cut long clips into consecutive --frames-frame clips")
    evaluate.add_argument("--validation-only", action="store_true",
                          help="keep only the project's held-out validation clips (cinescape.data.splits)")
    evaluate.add_argument("--max-clips", type=_positive_int, default=None, metavar="N",
                          help="evaluate only the first N clips of --data (name order)")
    evaluate.add_argument("--loop", choices=["none", "phased", "crossfade", "symmetric"], default="none",
                          help="models: none (frame 0 = input, the papers' protocol; default), phased, crossfade or "
                               "symmetric")
    evaluate.add_argument("--mode", choices=["eulerian", "recurrent"], default=None,
                          help="models: eulerian (one network call, integrated) or recurrent motion (AL) (default: "
                               "the model's default, as cinescape animate)")
    evaluate.add_argument("--auto-mask", choices=["none", "sky", "sky+water", "fluid"], default=None,
                          help="models: motion mask as in animate (default: the model's recommendation)")
    evaluate.add_argument("--appearance", action="store_true", help="models: also animate colours (default: motion only)")
    evaluate.add_argument("--shift-speed", type=_nonnegative_float, default=None,
                          help="shift baseline speed in pixels per frame at --size (default 1), or at the photo's "
                               "resolution with --photos (default 0.5)")
    evaluate.add_argument("--seed", type=int, default=0, help="first seed; samples use SEED, SEED+1, ...")
    evaluate.add_argument("--masks", default=None, metavar="DIR",
                          help="sky/water masks for the DeepLandscape metrics: DIR/<clip name>.png, white = sky/water "
                               "(default: the sky matte from the weights directory, if present)")
    evaluate.add_argument("--no-sky-matte", action="store_true", help="do not use the sky matte")
    evaluate.add_argument("--inception", default=None, metavar="FILE",
                          help="FID Inception-v3 weights (pt_inception-2015-12-05-6726825d.pth); else FID is unavailable "
                               "unless CINESCAPE_ALLOW_DOWNLOAD=1")
    evaluate.add_argument("--i3d", default=None, metavar="FILE", help="FVD I3D weights (rgb_imagenet.pt); else unavailable")
    evaluate.add_argument("--max-photos", type=_positive_int, default=None, metavar="N",
                          help="--photos: evaluate only the first N photos (name order)")
    evaluate.add_argument("--only-masked", action="store_true", help="--photos: only the photos with a hand mask")
    evaluate.add_argument("--shift-angle", type=float, default=None, metavar="DEG",
                          help="--photos: direction of the shift baseline in degrees (0 = right, 90 = down; "
                               "default 270, up)")
    evaluate.add_argument("--patch-stride", type=_positive_int, default=None, metavar="S",
                          help="--photos: coherence query patches on every S-th row and column (default 2; 1 = all)")
    evaluate.add_argument("--exact-search", action="store_true",
                          help="--photos: exhaustive nearest-patch search (slow; default: PCA + IVF candidates "
                               "re-ranked exactly)")
    evaluate.add_argument("--no-sheets", action="store_true", help="--photos: write no contact sheets")
    evaluate.add_argument("--out", default="evaluation", metavar="DIR", help="output folder (default ./evaluation)")
    evaluate.add_argument("--threads", type=int, default=0,
                          help="torch threads (0 = default; 1 is faster while other jobs load every core)")
    evaluate.add_argument("-q", "--quiet", action="store_true", help="no progress bars")

    bench = commands.add_parser(
        "bench", help="time each stage of animate and measure peak memory",
        description="Wall time per stage (load, motion, loop, appearance, encode) and peak memory of animating "
                    "the procedural demo photo at each size and loop mode; each run in a fresh process.")
    bench.add_argument("--sizes", nargs="+", default=["512x288", "1024x576", "1920x1080", "3840x2160"], metavar="WxH")
    bench.add_argument("--frames", type=_positive_int, default=60, help="frames per video (default 60)")
    bench.add_argument("--loop", nargs="+", choices=["phased", "crossfade", "symmetric", "none"], default=["phased", "none"],
                       help="loop modes to time (default phased none)")
    bench.add_argument("--mode", nargs="+", choices=["eulerian", "recurrent"], default=["eulerian"],
                       help="motion modes to time (default eulerian)")
    bench.add_argument("--appearance", choices=["on", "off", "both"], default="on",
                       help="with the appearance model, without it, or both (default on)")
    bench.add_argument("--appearance-stride", nargs="+", type=_positive_int, default=[1], metavar="K",
                       help="colour maps predicted every K-th frame (as animate; default 1); several K: one row each")
    bench.add_argument("--repeat", type=_positive_int, default=1, metavar="N",
                       help="run each configuration N times and report the medians (default 1)")
    bench.add_argument("--model", default=None, metavar="DIR", help="model folder (default: the shipped model)")
    bench.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    bench.add_argument("--json", default="bench.json", metavar="PATH", help="write the rows here (default bench.json)")
    bench.add_argument("--same-process", action="store_true",
                       help="run every configuration in this process (faster; peak memory then accumulates)")
    bench.add_argument("-q", "--quiet", action="store_true", help="print only the table")

    serve = commands.add_parser(
        "serve", help="a local web page: upload a photo, paint what moves, draw arrows, preview, render",
        description="Serve a web page to animate photos with the mouse (needs the web extra: "
                    "pip install -e \".[web]\"). Prints the page's address; Ctrl+C stops the server and deletes "
                    "every uploaded photo and rendered video.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 exposes the page "
                            "to the network)")
    serve.add_argument("--port", type=_non_negative_int, default=0, help="port (default 0: a free one)")
    serve.add_argument("--open", action="store_true", help="open the page in the default browser")
    serve.add_argument("--model", default=None, metavar="DIR", help="model folder (default: the shipped model)")
    serve.add_argument("-q", "--quiet", action="store_true", help="print only the address")
    return parser


def _animate_settings(args: argparse.Namespace):
    from .methods.al.pipeline import AnimationSettings

    settings = AnimationSettings(num_frames=args.frames, loop=args.loop, loop_period=args.loop_period,
                                 appearance_locality=args.appearance_locality, seed=args.seed, motion_code=args.motion_code,
                                 appearance_code=args.appearance_code, motion_speed=args.motion_speed,
                                 appearance_speed=args.appearance_speed, appearance=not args.no_appearance,
                                 working_size=args.working_size, mode=args.mode, auto_mask=args.auto_mask,
                                 arrows_mode=args.arrows_mode, control_steps=args.control_steps,
                                 time_of_day=args.time_of_day, appearance_sequence=args.appearance_sequence,
                                 appearance_stride=args.appearance_stride)
    settings.validate()
    return settings


def run_animate(args: argparse.Namespace) -> int:
    from .batch import is_batch_request, write_animation
    from .io.image import load_image
    from .methods.al.control import load_arrows, load_patches
    from .segmentation import load_mask

    if is_batch_request(args.input, args.output):
        return _run_animate_batch(args)
    if args.workers != 1 or args.backend != "local" or args.ray_address:
        raise CinescapeError("--workers, --backend and --ray-address are for several photos: give a folder, a glob "
                             "or several files, and -o DIR/")
    args.input = args.input[0]
    settings = _animate_settings(args)
    image = load_image(args.input)
    if args.mask:
        settings.mask = load_mask(args.mask)  # read before the model, so a bad mask fails early
    if args.arrows:  # likewise the control files (schema errors)
        settings.arrows = load_arrows(args.arrows, image.shape[:2])
    if args.appearance_patches:
        settings.appearance_patches = load_patches(args.appearance_patches, image.shape[:2])
        settings.validate()
    pipeline, plan_options = _animate_pipeline(args)
    size = (image.shape[1], image.shape[0])
    if args.flow_video and Path(args.flow_video).resolve() == Path(args.output).resolve():
        raise CinescapeError("--flow-video must differ from the output path")
    animation = write_animation(pipeline, image, settings, args.output, fps=args.fps, plan_options=plan_options,
                                overwrite=args.overwrite, flow_video=args.flow_video, progress=not args.quiet)
    if not args.quiet:
        print(f"wrote {args.output} ({animation.num_frames} frames, {size[0]}x{size[1]}, {args.fps:g} fps)"
              + (f" and {args.flow_video}" if args.flow_video else ""), file=sys.stderr)
    return 0


def _run_animate_batch(args: argparse.Namespace) -> int:
    """Several photos (:func:`cinescape.batch.animate_many`): one line per failed photo, a summary, and exit
    status 1 if any photo failed."""
    from .batch import animate_many

    per_photo = [flag for flag, given in (("--mask", args.mask), ("--arrows", args.arrows),
                                          ("--appearance-patches", args.appearance_patches),
                                          ("--flow-video", args.flow_video)) if given]
    if per_photo:
        raise CinescapeError(f"{per_photo[0]} is for one photo; animate such photos one at a time")
    result = animate_many(args.input, args.output, _animate_settings(args), fps=args.fps, method=args.method,
                          model=args.model, references=args.reference, region_speeds=args.region_speed,
                          reference_regions=args.reference_region, workers=args.workers, backend=args.backend,
                          ray_address=args.ray_address, progress=not args.quiet)
    for item in result.failed:
        reason = item.error if item.input in (item.error or "") else f"{item.input}: {item.error}"
        print(f"cinescape: failed: {reason}", file=sys.stderr)
    print(f"cinescape: {len(result.done)} animated, {len(result.skipped)} already done, {len(result.failed)} failed "
          f"(manifest: {result.manifest})", file=sys.stderr)
    return 1 if result.failed else 0


def _animate_pipeline(args: argparse.Namespace):
    """The pipeline of ``--model`` (its pipeline.json names the class) or of the shipped model of ``--method``, and
    the extra arguments of its ``plan``."""
    from .methods import SHIPPED_MODELS, load_pipeline, method_of

    region_given = bool(args.reference or args.region_speed or args.reference_region)
    if region_given and args.method == "al":
        raise CinescapeError("--reference, --reference-region and --region-speed need --method fgla")
    # the region options are checked before the model loads
    references, speeds, regions = parse_region_options(args.reference, args.region_speed, args.reference_region)
    pipeline = load_pipeline(args.model if args.model is not None else SHIPPED_MODELS[args.method or "al"])
    method = method_of(pipeline)
    if args.method is not None and method != args.method:
        raise CinescapeError(f"--method {args.method}: {args.model} is a {method} model folder")
    if method != "fgla":
        if region_given:
            raise CinescapeError("--reference, --reference-region and --region-speed need --method fgla")
        return pipeline, {}
    if args.motion_code is not None:
        raise CinescapeError("--motion-code is for --method al; FGLA takes --reference GROUP=CLIP (or --seed)")
    return pipeline, {"references": references, "speeds": speeds, "reference_regions": regions}


def parse_region_options(references: list[str] = (), speeds: list[str] = (),
                         regions: list[str] = ()) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """``--reference GROUP=CLIP``, ``--region-speed GROUP=X`` and ``--reference-region GROUP=REGION`` lists ->
    the ``references``, ``speeds`` and ``reference_regions`` dicts :meth:`~cinescape.methods.fgla.FGLAPipeline.plan` takes."""
    from .methods.fgla import parse_group
    from .segmentation import GROUP_NAMES

    def split(text: str, flag: str) -> tuple[str, str]:
        group, sep, value = text.partition("=")
        if not sep or not value:
            raise OptionError(f"{flag} takes GROUP=VALUE (e.g. sky=clouds.mp4), got {text!r}")
        return GROUP_NAMES[parse_group(group)], value

    def collect(texts: list[str], flag: str) -> dict[str, str]:
        values: dict[str, str] = {}
        for text in texts:
            group, value = split(text, flag)
            if group in values:
                raise OptionError(f"{flag} {group}= is given twice")
            values[group] = value
        return values

    refs = collect(references, "--reference")
    rates: dict[str, float] = {}
    for text in speeds:
        group, value = split(text, "--region-speed")
        try:
            rates[group] = float(value)
        except ValueError:
            raise OptionError(f"--region-speed {group}= takes a number, got {value!r}") from None
    return refs, rates, collect(regions, "--reference-region")



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

    from .methods.al.train import TrainConfig
    from .methods.al.velocity import VelocityTrainConfig
    from .methods.fgla.train import FGLATrainConfig

    cls = {"fgla": FGLATrainConfig, "velocity": VelocityTrainConfig}.get(args.kind, TrainConfig)
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
        from .methods.fgla.train import train_fgla as train
    elif args.kind == "velocity":
        from .methods.al.velocity import train_velocity as train
    else:
        from .methods.al.train import train
    trained = train(config, resume=args.resume, export=args.export)
    what = "velocity predictor" if args.kind == "velocity" else f"{args.kind} model"
    print(f"trained {what} in {trained}" + (f" (exported to {args.export})" if args.export else ""), file=sys.stderr)


def run_codebook(args: argparse.Namespace) -> None:
    from .methods.al.train import rebuild_codebook

    if not args.motion_checkpoint and not args.appearance_data and not args.train_lstm:
        raise CinescapeError("nothing to do: give --motion-checkpoint, --appearance-data and/or --train-lstm")
    if args.motion_checkpoint or args.appearance_data:
        codebook = rebuild_codebook(Path(args.model), motion_checkpoint=args.motion_checkpoint,
                                    appearance_data=args.appearance_data, short_side=args.short_side)
        print(f"codebook of {args.model}: {codebook.motion.shape[0]} motion codes, "
              f"{len(codebook.appearance)} appearance sequences", file=sys.stderr)
    if args.train_lstm:
        from .methods.al.appearance_lstm import FOLDER
        from .methods.al.codebook import Codebook
        from .methods.al.train_lstm import appearance_lstm_loss, train_appearance_lstm

        if not Path(args.model).is_dir():
            raise CinescapeError(f"model folder {args.model} does not exist")
        codebook = Codebook.load(args.model)
        lstm, losses = train_appearance_lstm(codebook, steps=args.lstm_steps)
        path = lstm.save_pretrained(Path(args.model) / FOLDER)
        print(f"trained the appearance LSTM on {sum(s.shape[0] for s in codebook.appearance)} codes in "
              f"{len(codebook.appearance)} sequences ({args.lstm_steps} steps, next-code loss "
              f"{appearance_lstm_loss(lstm, codebook):.4f}); saved {path}", file=sys.stderr)


def run_evaluate(args: argparse.Namespace) -> None:
    import shlex

    from torch import set_num_threads as torch_threads

    from .eval.evaluate import EvalSettings, evaluate, format_table, write_report

    if args.photos is not None:
        return _run_evaluate_photos(args)
    photo_only = [flag for flag, given in (("--max-photos", args.max_photos is not None),
                                           ("--only-masked", args.only_masked),
                                           ("--shift-angle", args.shift_angle is not None),
                                           ("--patch-stride", args.patch_stride is not None),
                                           ("--exact-search", args.exact_search), ("--no-sheets", args.no_sheets))
                  if given]
    if photo_only:
        raise CinescapeError(f"{photo_only[0]} is for --photos DIR")
    if not args.data and not args.synthetic:
        raise CinescapeError("nothing to evaluate: give --photos DIR, or --data DIR and/or --synthetic N")
    settings = EvalSettings(data=args.data, synthetic=args.synthetic, frames=args.frames or 32, size=args.size,
                            keep_aspect=args.keep_aspect, samples=args.samples, stride=args.stride, cut=args.cut,
                            validation_only=args.validation_only, max_clips=args.max_clips, loop=args.loop,
                            mode=args.mode, auto_mask=args.auto_mask, appearance=args.appearance,
                            shift_speed=1.0 if args.shift_speed is None else args.shift_speed, seed=args.seed,
                            masks=args.masks, sky_matte=not args.no_sky_matte, inception=args.inception, i3d=args.i3d)
    if args.threads > 0:
        torch_threads(args.threads)
    command = "cinescape " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if args.argv is None else args.argv))
    report = evaluate(settings, args.method, progress=not args.quiet, command=command)
    files = write_report(report, args.out)
    print(format_table(report))
    if not args.quiet:
        print(f"wrote {', '.join(str(f) for f in files[:3])} and {len(files) - 3} plots", file=sys.stderr)


def _run_evaluate_photos(args: argparse.Namespace) -> None:
    """``evaluate --photos DIR``: full-resolution loops of real photos (:mod:`cinescape.eval.photos`)."""
    import shlex

    from torch import set_num_threads as torch_threads

    from .eval.photos import (PhotoEvalSettings, evaluate_photos, format_photo_table, prepare_out,
                              set_search_threads, write_photo_report)

    clip_options = (("--data", args.data is not None), ("--synthetic", bool(args.synthetic)),
                    ("--size", args.size != 256), ("--keep-aspect", args.keep_aspect), ("--samples", args.samples != 5),
                    ("--stride", args.stride != 1), ("--cut", args.cut), ("--validation-only", args.validation_only),
                    ("--max-clips", args.max_clips is not None), ("--loop", args.loop != "none"),
                    ("--mode", args.mode is not None), ("--auto-mask", args.auto_mask is not None),
                    ("--appearance", args.appearance), ("--masks", args.masks is not None),
                    ("--no-sky-matte", args.no_sky_matte), ("--inception", args.inception is not None),
                    ("--i3d", args.i3d is not None))
    clip_only = [flag for flag, given in clip_options if given]
    if clip_only:
        hint = (" (give model settings in the method: default:loop=symmetric,mode=eulerian)"
                if clip_only[0] in ("--loop", "--mode", "--auto-mask", "--appearance") else "")
        raise CinescapeError(f"--photos and {clip_only[0]} do not go together{hint}")
    settings = PhotoEvalSettings(photos=args.photos, frames=args.frames or 60, seed=args.seed,
                                 max_photos=args.max_photos, only_masked=args.only_masked,
                                 shift_speed=0.5 if args.shift_speed is None else args.shift_speed,
                                 shift_angle=270.0 if args.shift_angle is None else args.shift_angle,
                                 patch_stride=args.patch_stride or 2, exact_search=args.exact_search,
                                 sheets=not args.no_sheets)
    if args.threads > 0:
        torch_threads(args.threads)
        set_search_threads(args.threads)
    prepare_out(args.out)  # an unwritable --out fails before the work
    command = "cinescape " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if args.argv is None else args.argv))
    report = evaluate_photos(settings, args.method, out=args.out, progress=not args.quiet, command=command)
    files = write_photo_report(report, args.out)
    print(format_photo_table(report))
    if not args.quiet:
        print(f"wrote {', '.join(str(f) for f in files)} and {len(report['sheets'])} contact sheets",
              file=sys.stderr)


def run_bench(args: argparse.Namespace) -> None:
    from .eval.bench import format_bench_table, parse_size, write_bench
    from .eval.bench import run_bench as bench

    sizes = [parse_size(s) for s in args.sizes]
    appearance = {"on": (True,), "off": (False,), "both": (True, False)}[args.appearance]
    result = bench(sizes, frames=args.frames, loops=tuple(args.loop), appearance=appearance, model=args.model,
                       threads=args.threads, isolate=not args.same_process, progress=not args.quiet,
                       modes=tuple(args.mode), appearance_strides=tuple(args.appearance_stride),
                       repeats=args.repeat)
    print(format_bench_table(result))
    path = write_bench(result, args.json)
    if not args.quiet:
        print(f"wrote {path}", file=sys.stderr)


def run_serve(args: argparse.Namespace) -> None:
    from .web import INSTALL_HINT, missing_web_packages

    missing = missing_web_packages()
    if missing:
        raise CinescapeError(f"cinescape serve needs {' and '.join(missing)}: {INSTALL_HINT}")
    from .web.server import serve

    serve(args.host, args.port, open_browser=args.open, model=args.model, quiet=args.quiet)


# Library errors name parameters (AnimationSettings and training-config fields); the CLI says its flags instead.
_ANIMATE_FLAGS = {"num_frames": "--frames", "appearance=False": "--no-appearance",
                  "appearance_sequence='lstm'": "--appearance-sequence lstm", "arrows_mode='latent'": "--arrows-mode latent",
                  "arrows_mode='direct'": "--arrows-mode direct", "reference_regions": "--reference-region",
                  "references": "--reference", "speeds": "--region-speed"}
_TRAIN_FLAGS = {"num_res_blocks": "--res-blocks", "init_from": "--init-from", "teacher": "--init-from",
                "alpha": "--fgla-alpha", "bf16": "--no-bf16", "loss_floor": "--velocity-loss", "out": "--out"}


def _flag_words(message: str, command: str) -> str:
    """``message`` with the parameter names it starts with or quotes (``num_frames must ...``, ``pool: ...``,
    ``appearance=False``) replaced by this command's flags (``--frames``, ``--pool``, ``--no-appearance``)."""
    special = _ANIMATE_FLAGS if command == "animate" else _TRAIN_FLAGS if command == "train" else {}
    for name, flag in special.items():
        message = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", flag, message)
    # a parameter name is a snake_case word followed by what a message says of it
    return re.sub(r"(?<![\w/.-])([a-z][a-z0-9]*(?:_[a-z0-9]+)*)(?=( must| \(|=|: | both| and [^ ]+( [a-z]+)? both| sets the))",
                  lambda m: f"--{m.group(1).replace('_', '-')}" if _is_flag(m.group(1), command) else m.group(1),
                  message)


def _is_flag(name: str, command: str) -> bool:
    parser = build_parser()
    sub = next(a for a in parser._subparsers._group_actions if hasattr(a, "choices")).choices.get(command)
    return sub is not None and any(f"--{name.replace('_', '-')}" in action.option_strings for action in sub._actions)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed on one line
        return int(exc.code or 0)
    args.argv = argv  # evaluate records its command line
    # Library warnings (e.g. a model's default mask unavailable) as one plain line on stderr, like the errors.
    # showwarning (not formatwarning) so that the line is printed even where a caller records warnings.
    previous_showwarning = warnings.showwarning
    warnings.showwarning = lambda message, *rest, **kw: print(f"cinescape: warning: {message}", file=sys.stderr)
    handlers = {"animate": run_animate, "train": run_train, "codebook": run_codebook, "evaluate": run_evaluate,
                "bench": run_bench, "serve": run_serve}
    try:
        status = handlers[args.command](args) or 0
    except CinescapeError as exc:
        print(f"cinescape: error: {_flag_words(str(exc), args.command)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cinescape: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # disk full, permission changed mid-run, ...
        print(f"cinescape: error: {exc}", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = previous_showwarning
    return status


if __name__ == "__main__":
    sys.exit(main())
