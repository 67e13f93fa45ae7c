"""Where the web page's preview and render spend their time, in-process, through the server's own calls.

    python benchmarks/web_stages.py                                  # the bundled example at 1024x576, 3 repeats
    python benchmarks/web_stages.py --photo ../shared/data/photos/c3d_demo0.png --repeat 5
    python benchmarks/web_stages.py --preview-short-side 288 --preview-fps 8     # a smaller, shorter preview
    python benchmarks/web_stages.py --compare-stride 4 --photo ../shared/data/photos/c3d_demo0.png

For a preview and a full render with the page's defaults (:class:`cinescape.web.service.RenderService`, the shipped
model): the plan and the frames (CPU seconds of the rendering thread, which a loaded machine inflates less than the
wall clock; the pipeline's own loop and appearance seconds), then the same frames encoded as a render (libx264
veryfast) and as a draft (``VideoWriter(draft=True)``, the page's previews): encoder CPU, file size, PSNR of the
decoded video to the frames. ``--compare-stride N``: the full render's frames with colour maps every N-th frame
against the page's, PSNR per frame (min and median). Prints medians over the repeats and the load average.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from cinescape.io.video import VideoWriter, read_video_frames
from cinescape.methods.select import load_method_pipeline
from cinescape.web.service import Render, RenderService

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "synthetic_landscape.png"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 10 * np.log10(255 ** 2 / max(error, 1e-12))


def planned_frames(service: RenderService, photo, settings: dict) -> tuple[list[np.ndarray], dict]:
    """The frames of a render of ``settings`` and its seconds: plan and frames (CPU), the frames' loop and
    appearance stages (wall clock, as the pipeline times them)."""
    request = service.parse_request({"settings": settings, "mask": None}, photo)
    render = Render(id="bench", photo=photo, request=request, created=0.0)
    started = time.thread_time()
    animation = service.controls.plan(service, render)
    planned = time.thread_time()
    frames = list(animation.frames())
    return frames, {"plan": planned - started, "frames": time.thread_time() - planned,
                    "loop wall": animation.timings["loop"], "appearance wall": animation.timings["appearance"]}


def encoded(frames: list[np.ndarray], fps: float, folder: str, draft: bool) -> dict:
    path = Path(folder) / f"{'draft' if draft else 'render'}.mp4"
    started = time.process_time()
    with VideoWriter(path, fps=fps, draft=draft) as writer:
        for frame in frames:
            writer.write(frame)
    cpu = time.process_time() - started
    decoded = read_video_frames(path)
    return {"cpu": cpu, "kb": path.stat().st_size / 1024,
            "psnr": statistics.median(psnr(a, b) for a, b in zip(frames, decoded))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", type=Path, default=EXAMPLE, help="resized to 1024 px wide (default: the example)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--preview-short-side", type=int, default=None, help="default: the server's, 384")
    parser.add_argument("--preview-fps", type=float, default=None, help="default: the server's, 10")
    parser.add_argument("--compare-stride", type=int, default=None, help="the render's colours every N-th frame")
    args = parser.parse_args()
    image = np.asarray(Image.open(args.photo).convert("RGB"))
    height = 2 * round(1024 * image.shape[0] / image.shape[1] / 2)
    image = cv2.resize(image, (1024, height), interpolation=cv2.INTER_AREA)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    service = RenderService(load_method_pipeline("al", None))
    changes = {name: value for name, value in (("preview_short_side", args.preview_short_side),
                                               ("preview_fps", args.preview_fps)) if value is not None}
    service.render_limits = replace(service.render_limits, **changes)
    rows: dict[str, list[float]] = {}
    try:
        photo = service.add_photo(buffer.getvalue(), args.photo.name)
        service.mask_png(photo, "default")
        with tempfile.TemporaryDirectory() as folder:
            for _ in range(args.repeat):
                for preview in (True, False):
                    what = "preview" if preview else "render"
                    frames, cpu = planned_frames(service, photo, {"preview": preview})
                    for stage, seconds in cpu.items():
                        rows.setdefault(f"{what} {stage} s", []).append(seconds)
                    fps = min(20.0, service.render_limits.preview_fps) if preview else 20.0   # the page's 20 fps
                    for draft in (False, True):
                        for key, value in encoded(frames, fps, folder, draft).items():
                            rows.setdefault(f"{what} encode{' draft' if draft else ''} {key}", []).append(value)
            if args.compare_stride:
                reference, _ = planned_frames(service, photo, {})
                other, _ = planned_frames(service, photo, {"appearance_stride": args.compare_stride})
                values = [psnr(a, b) for a, b in zip(reference, other)]
                print(f"render colours every {args.compare_stride} frames against the page's: PSNR min "
                      f"{min(values):.2f} dB, median {statistics.median(values):.2f} dB")
    finally:
        service.close()
    print(f"{args.photo.name} at 1024x{height}, medians of {args.repeat}:")
    for key, values in rows.items():
        print(f"  {key:32s} {statistics.median(values):9.3f}")
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
