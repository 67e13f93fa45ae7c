"""``cinescape animate``: one photo, or several (:mod:`cinescape.batch`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CinescapeError
from ..methods.defaults import DEFAULT_LOOP_PERIOD
from .options import (_float_at_least, _non_negative_int, _nonnegative_float, _positive_float, _positive_int,
                      add_method_argument)

EXAMPLES = """examples:
  cinescape animate photo.jpg -o loop.mp4
  cinescape animate photo.jpg -o loop.gif --frames 48 --fps 12 --motion-code pc:0.8 --no-appearance
  cinescape animate photo.jpg -o frames/ --loop none --frames 32 --flow-video flow.mp4
  cinescape animate photo.jpg -o loop.mp4 --mode eulerian --loop symmetric --auto-mask sky
  cinescape animate photo.jpg -o loop.mp4 --arrows arrows.json --auto-mask sky
  cinescape animate photo.jpg -o loop.mp4 --time-of-day day,sunset,night
  cinescape animate falls.jpg -o loop.mp4 --kind waterfall@640,300 --kind lake@200,650 --kind-speed waterfall=2
  cinescape animate photos/ -o loops/ --workers 2          # every photo in photos/ -> loops/NAME.mp4, resumable
  cinescape animate 'trip/*.jpg' -o 'loops/{stem}.webm' --backend ray
"""


# Library errors name parameters (AnimationSettings fields, plan() arguments); the CLI says these flags instead
# (a parameter named like its flag, e.g. loop_period -> --loop-period, needs no entry).
PARAMETER_FLAGS = {"num_frames": "--frames", "appearance=False": "--no-appearance",
                  "appearance_sequence='lstm'": "--appearance-sequence lstm", "arrows_mode='latent'": "--arrows-mode latent",
                  "arrows_mode='direct'": "--arrows-mode direct", "reference_regions": "--reference-region",
                  "references": "--reference", "speeds": "--region-speed",
                   "region_speeds": "--region-speed", "motion_code": "--motion-code", "method='fgla'": "--method fgla",
                   "method='al'": "--method al"}


def add_parser(commands) -> None:
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
                              "in turn, each pixel at its own phase, keeping contrast and the photo's sharpness, "
                              "seamless; none: frame 0 is the photo, no loop (default phased)")
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
    add_method_argument(animate, "al: Animating Landscape, one motion code (default); fgla: FGLA per-region motion, "
                                 "the shipped FGLA model; deeplandscape: invert the photo into the shipped "
                                 "DeepLandscape GAN and move its dynamic noise (29 s for 60 frames at 1024x576 "
                                 "on a 2-core CPU). With --model DIR the folder's pipeline.json says the method (--method, if "
                                 "given, must agree)")
    animate.add_argument("--latent-steps", type=_non_negative_int, default=None, metavar="N",
                         help="deeplandscape: latent-optimisation steps of the inversion (default 15)")
    animate.add_argument("--finetune-steps", type=_non_negative_int, default=None, metavar="N",
                         help="deeplandscape: generator fine-tuning steps of the inversion (default 150; fewer is "
                              "faster and blurrier)")
    animate.add_argument("--lighting", type=_float_at_least(0, inclusive=True), default=None, metavar="X",
                         help="deeplandscape: strength of the lighting change over the loop, 0 (default: none) to 1")
    animate.add_argument("--direction", type=float, default=None, metavar="DEG",
                         help="deeplandscape: direction of the sky's motion on screen in degrees (0 right, 90 down, "
                              "270 up; default: a clock position drawn from --seed)")
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
    kinds = animate.add_argument_group(
        "motion by region kind (eulerian mode; each moving region moves as sky, waterfall, river, sea, lake, "
        "fountain or still, found automatically; cinescape.regions)")
    kinds.add_argument("--kind", action="append", default=[], metavar="KIND@X,Y[,DEG]",
                       help="the region under photo pixel X,Y is KIND (sky, waterfall, river, sea, lake, fountain, "
                            "still = do not move); DEG: its flow direction (0 = right, 90 = down); repeatable")
    kinds.add_argument("--kind-mask", action="append", default=[], metavar="KIND:FILE",
                       help="the white pixels of the image FILE (any size) are a region of KIND; repeatable")
    kinds.add_argument("--kind-speed", action="append", default=[], metavar="KIND=X",
                       help="speed of a kind: px per frame at 512 px wide (sky: a factor on the learned clouds "
                            "at a median 1.3 px per frame); defaults sky=1 waterfall=1 river=0.8 sea=1.5 lake=0.12 fountain=1.2")
    kinds.add_argument("--no-kinds", action="store_true",
                       help="one learned drift everywhere instead (the motion before region kinds)")
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
    animate.set_defaults(option_default=animate.get_default)   # which method options were given (_method_options)


# cinescape animate's own options; every other option is a method's (its offers.cli_options), refused by others.
SHELL_OPTIONS = frozenset({"command", "argv", "input", "output", "fps", "model", "method", "overwrite", "quiet",
                           "workers", "backend", "ray_address", "flow_video", "option_default"})


def _method_options(args: argparse.Namespace, cls: type) -> dict:
    """The method options of ``args`` (by argparse name), after refusing in one line any option given (not at its
    default) that the method ``cls`` does not take (:class:`~cinescape.methods.base.Offers`)."""
    from ..methods import SHIPPED_MODELS, method_of, pipeline_class
    from ..methods.base import refuse_options
    from ..methods.select import method_label

    options = {name: value for name, value in vars(args).items() if name not in SHELL_OPTIONS}
    refused = [name for name, value in options.items()
               if name not in cls.offers.cli_options and value != args.option_default(name)]
    if refused:   # which shipped methods take them (their folders' pipeline.json only: no weights load)
        shipped = {pipeline_class(folder) for folder in set(SHIPPED_MODELS.values())}
        refuse_options(refused, method_label(cls), {name: [method_of(other) for other in shipped
                                                           if name in other.offers.cli_options] for name in refused})
    if args.flow_video and not cls.offers.flow_video:
        refuse_options(["flow_video"], method_label(cls))
    return options


def _animate_settings(args: argparse.Namespace, photo_size: tuple[int, int] | None = None):
    """``(pipeline class, settings, plan options)`` of the method ``--method`` / ``--model`` name: the class is read
    from the folder's pipeline.json (no weights loaded), and maps the options it takes to its settings
    (:meth:`~cinescape.methods.base.MethodPipeline.settings_from_cli`); the others are refused in one line."""
    from ..errors import ModelLoadError
    from ..methods import pipeline_class
    from ..methods.select import model_folder

    folder = model_folder(args.method, args.model)
    try:
        cls = pipeline_class(folder)
    except ModelLoadError:   # said when the model loads, after the options are checked as --method's (default al)
        cls = pipeline_class(model_folder(args.method))
    options = _method_options(args, cls)
    return cls.settings_from_cli(options, folder, photo_size), cls.plan_options_from_cli(options)


def run_animate(args: argparse.Namespace) -> int:
    from ..batch import is_batch_request, write_animation
    from ..io.image import load_image
    from ..methods.select import load_method_pipeline

    if is_batch_request(args.input, args.output):
        return _run_animate_batch(args)
    if args.workers != 1 or args.backend != "local" or args.ray_address:
        raise CinescapeError("--workers, --backend and --ray-address are for several photos: give a folder, a glob "
                             "or several files, and -o DIR/")
    args.input = args.input[0]
    _animate_settings(args)   # the options checked before the photo is read
    image = load_image(args.input)
    settings, plan_options = _animate_settings(args, image.shape[:2])   # with the photo's mask and control files
    pipeline = load_method_pipeline(args.method, args.model)
    size = (image.shape[1], image.shape[0])
    if args.flow_video and Path(args.flow_video).resolve() == Path(args.output).resolve():
        raise CinescapeError("--flow-video must differ from the output path")
    animation = write_animation(pipeline, image, settings, args.output, fps=args.fps, plan_options=plan_options,
                                overwrite=args.overwrite, flow_video=args.flow_video, progress=not args.quiet)
    if not args.quiet:
        from ..io.video import video_size   # the video's own size: an MP4 above H.264's largest frame is smaller
        size = video_size(args.output, size)
        print(f"wrote {args.output} ({animation.num_frames} frames, {size[0]}x{size[1]}, {args.fps:g} fps)"
              + (f" and {args.flow_video}" if args.flow_video else ""), file=sys.stderr)
    return 0


def _run_animate_batch(args: argparse.Namespace) -> int:
    """Several photos (:func:`cinescape.batch.animate_many`): one line per failed photo, a summary, and exit
    status 1 if any photo failed."""
    from ..batch import animate_many

    per_photo = [flag for flag, given in (("--mask", args.mask), ("--arrows", args.arrows), ("--kind", args.kind),
                                          ("--kind-mask", args.kind_mask),
                                          ("--appearance-patches", args.appearance_patches),
                                          ("--flow-video", args.flow_video)) if given]
    if per_photo:
        raise CinescapeError(f"{per_photo[0]} is for one photo; animate such photos one at a time")
    settings, plan_options = _animate_settings(args)
    result = animate_many(args.input, args.output, settings, fps=args.fps, method=args.method, model=args.model,
                          plan_options=plan_options, workers=args.workers, backend=args.backend,
                          ray_address=args.ray_address, progress=not args.quiet)
    for item in result.failed:
        reason = item.error if item.input in (item.error or "") else f"{item.input}: {item.error}"
        print(f"cinescape: failed: {reason}", file=sys.stderr)
    print(f"cinescape: {len(result.done)} animated, {len(result.skipped)} already done, {len(result.failed)} failed "
          f"(manifest: {result.manifest})", file=sys.stderr)
    return 1 if result.failed else 0
