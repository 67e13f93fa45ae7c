"""``cinescape evaluate`` (clips or ``--photos``) and ``cinescape bench``."""

from __future__ import annotations

import argparse
import sys

from ..errors import CinescapeError
from .options import add_method_argument, _nonnegative_float, _positive_int

# Library errors name parameters (EvalSettings / PhotoEvalSettings fields, evaluate()'s and run_bench()'s
# arguments); the CLI says these flags instead (a parameter named like its flag, e.g. max_clips, needs no entry).
PARAMETER_FLAGS = {"methods": "--method"}
BENCH_PARAMETER_FLAGS = {"repeats": "--repeat"}


def add_parsers(commands) -> None:
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
                    "Models take settings: NAME:KEY=VALUE,... with their method's settings fields, e.g. "
                    "default:mode=eulerian,loop=symmetric, default:appearance=false or "
                    "deeplandscape:finetune_steps=50 (DeepLandscape rows add the inversion's PSNR and LPIPS).",
        epilog="examples:\n"
               "  cinescape evaluate --data ../shared/data/motion/skytimelapse128 --method static shift default\n"
               "  cinescape evaluate --data clip_folder/ --cut --frames 32 --size 256 --out eval/\n"
               "  cinescape evaluate --synthetic 8 --method static shift runs/motion/model\n"
               "  cinescape evaluate --data ../shared/data/motion/skytimelapse128 --validation-only --max-clips 2 "
               "--size 128 --samples 1 --method static default deeplandscape\n"
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
                          help="static, shift, real (the clip itself), default (shipped model), fgla, deeplandscape "
                               "(the shipped FGLA / DeepLandscape models), a model folder or fgla:DIR (an FGLA model "
                               "folder) (default: static shift default); models take settings NAME:KEY=VALUE,... of "
                               "their method (e.g. deeplandscape:finetune_steps=50); with --photos no real")
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
        description="Wall time per stage (load, motion, loop, appearance, encode; DeepLandscape: load, inversion, "
                    "render, encode) and peak memory of animating the procedural demo photo at each size and loop "
                    "mode; each run in a fresh process.")
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
    add_method_argument(bench, "the shipped model of this method (default al; with --model the folder must be of it); "
                              "deeplandscape: one row per size with stages load, inversion, render, encode")
    bench.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    bench.add_argument("--json", default="bench.json", metavar="PATH", help="write the rows here (default bench.json)")
    bench.add_argument("--same-process", action="store_true",
                       help="run every configuration in this process (faster; peak memory then accumulates)")
    bench.add_argument("-q", "--quiet", action="store_true", help="print only the table")


def run_evaluate(args: argparse.Namespace) -> None:
    import shlex

    from torch import set_num_threads as torch_threads

    from ..eval.evaluate import EvalSettings, evaluate, format_table, write_report

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

    from ..eval.photos import (PhotoEvalSettings, evaluate_photos, format_photo_table, prepare_out,
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
    from ..eval.bench import format_bench_table, parse_size, write_bench
    from ..eval.bench import run_bench as bench

    sizes = [parse_size(s) for s in args.sizes]
    appearance = {"on": (True,), "off": (False,), "both": (True, False)}[args.appearance]
    result = bench(sizes, frames=args.frames, loops=tuple(args.loop), appearance=appearance, model=args.model,
                       threads=args.threads, isolate=not args.same_process, progress=not args.quiet,
                       modes=tuple(args.mode), appearance_strides=tuple(args.appearance_stride),
                       repeats=args.repeat, method=args.method)
    print(format_bench_table(result))
    path = write_bench(result, args.json)
    if not args.quiet:
        print(f"wrote {path}", file=sys.stderr)

