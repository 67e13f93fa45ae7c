"""Where the time and the memory of a big photo go, stage by stage (issue 29's big-photo lines).

    python benchmarks/big_photo_stages.py --make /tmp/big.jpg --size 6000x4000     # the shared photo upscaled
    python benchmarks/big_photo_stages.py /tmp/big.jpg --frames 6

``--make`` writes the shared ``c3d_demo1.jpg`` upscaled with ``cv2.INTER_CUBIC`` to ``--size`` (JPEG quality 92)
and exits. Otherwise, in one process: the pipeline loaded, the photo read, ``plan`` (60 frames) with each of its
full-resolution stages timed and its peak resident set measured (``VmHWM``, reset before each stage through
``/proc/self/clear_refs``, Linux only), then ``--frames`` frames rendered (seconds per frame, peak). Prints one
line per stage: seconds, RSS before, peak, RSS after (MB); for the frames also CPU seconds a frame (all threads).
The machine is shared: print ``uptime`` beside it.
"""

from __future__ import annotations

import argparse
import functools
import time
from pathlib import Path

SHARED_PHOTO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "photos" / "c3d_demo1.jpg"


def memory() -> dict[str, int]:
    """VmRSS and VmHWM of this process in MB."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmHWM", "VmRSS")):
            values[line.split(":")[0]] = int(line.split()[1]) >> 10
    return values


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def measured(owner, name: str) -> None:
    """Replace ``owner.name`` by a wrapper printing its seconds and peak RSS (the peak reset before the call)."""
    function = getattr(owner, name)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        before = memory()["VmRSS"]
        reset_peak()
        started = time.perf_counter()
        result = function(*args, **kwargs)
        after = memory()
        print(f"{owner.__name__ + '.' + name:40s} {time.perf_counter() - started:7.2f} s  rss {before:5d} -> peak "
              f"{after['VmHWM']:5d} -> {after['VmRSS']:5d} MB", flush=True)
        return result

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", type=Path)
    parser.add_argument("--make", action="store_true", help="write the upscaled shared photo to PHOTO and exit")
    parser.add_argument("--size", default="6000x4000", help="WxH for --make")
    parser.add_argument("--frames", type=int, default=6, help="frames rendered after plan")
    args = parser.parse_args()
    import cv2

    if args.make:
        width, height = (int(v) for v in args.size.lower().split("x"))
        photo = cv2.resize(cv2.imread(str(SHARED_PHOTO)), (width, height), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(args.photo), photo, [cv2.IMWRITE_JPEG_QUALITY, 92])
        return
    import cinescape.methods.al.engine as engine
    import cinescape.ops.layers as layers
    import cinescape.segmentation as segmentation
    from cinescape.io.image import load_image
    from cinescape.methods.al.pipeline import CinemagraphPipeline

    for owner, name in ((segmentation, "sky_mask"), (segmentation, "fluid_mask"), (segmentation, "drop_specks"),
                        (layers, "refine_matte"), (engine.CinemagraphEngine, "photo_input"),
                        (engine.CinemagraphEngine, "fluid_matte"), (engine.PhotoLayers, "from_photo")):
        measured(owner, name)
    pipeline = CinemagraphPipeline.from_pretrained()
    print("loaded", memory(), flush=True)
    reset_peak()
    started = time.perf_counter()
    photo = load_image(args.photo)
    print(f"load_image {time.perf_counter() - started:.2f} s", memory(), flush=True)
    reset_peak()
    started = time.perf_counter()
    animation = pipeline.plan(photo, num_frames=60)
    print(f"plan {time.perf_counter() - started:.2f} s", memory(), flush=True)
    reset_peak()
    started, cpu = time.perf_counter(), time.process_time()
    for index in range(args.frames):
        animation.frame(index)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    # CPU seconds (all threads) compare across loads; wall seconds do not
    print(f"{args.frames} frames {seconds:.2f} s ({seconds / max(1, args.frames):.2f} s a frame, "
          f"{cpu / max(1, args.frames):.2f} s CPU a frame)", memory(),
          {k: round(v, 2) for k, v in animation.timings.items()}, flush=True)


if __name__ == "__main__":
    main()
