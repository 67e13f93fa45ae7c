"""Time and size of the H.264 presets at the MP4 writer's CRF 18 (why ``cinescape.io.video`` uses "veryfast").

Method: the procedural 1024x576 photo (seed 3) animated with the default model (Eulerian, symmetric loop,
101 frames, appearance stride 2) is rendered once into memory; the frames are then encoded with each preset
through PyAV exactly as the writer does (libx264, CRF 18, yuv420p), timing the encoding alone.

Command:

    CINESCAPE_WEIGHTS=../shared/weights python experiments/measure_h264_presets.py --presets fast veryfast superfast
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import av

from cinescape.data.synthetic import generate_landscape_photo
from cinescape.methods.al.pipeline import CinemagraphPipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["fast", "veryfast"])
    parser.add_argument("--repeat", type=int, default=3, help="encodings per preset; the median time is shown")
    args = parser.parse_args()
    photo = generate_landscape_photo(576, 1024, seed=3)
    frames = list(CinemagraphPipeline.from_pretrained().plan(photo, num_frames=101, mode="eulerian", loop="symmetric",
                                                            appearance_stride=2).frames())
    print("| preset | seconds (median) | size (KiB) |")
    print("|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "video.mp4")
        for preset in args.presets:
            seconds = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                with av.open(path, "w") as container:
                    stream = container.add_stream("libx264", rate=20, options={"crf": "18", "preset": preset})
                    stream.width, stream.height, stream.pix_fmt = 1024, 576, "yuv420p"
                    for frame in frames:
                        container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
                    container.mux(stream.encode(None))
                seconds.append(time.perf_counter() - started)
            print(f"| {preset} | {sorted(seconds)[len(seconds) // 2]:.2f} | {os.path.getsize(path) // 1024} |")


if __name__ == "__main__":
    main()
