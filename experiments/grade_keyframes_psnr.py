"""The default grade from appearance-net statistics at keyframes (methods/al/grade_keyframes.py) against every frame's
own prediction: per photo resized to 1024 px wide, the default loop of 101 frames rendered both ways; the worst
frame's PSNR, the largest difference and the network calls, at the default keyframe stride (``auto``:
``keyframe_stride``, about 7 predictions between two bends of the appearance code) and at fixed strides; ``--frames``
another loop length (the CLI's default is 60).

    CINESCAPE_WEIGHTS=../shared/weights python experiments/grade_keyframes_psnr.py ../shared/data/photos/*.png ../shared/data/photos/*.jpg
    CINESCAPE_WEIGHTS=../shared/weights python experiments/grade_keyframes_psnr.py ../shared/data/photos/*.png ../shared/data/photos/*.jpg --frames 60 --strides 2
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+")
    parser.add_argument("--strides", nargs="+", default=["auto", "3"], help="auto or a number of frames")
    parser.add_argument("--frames", type=int, default=101)
    args = parser.parse_args()
    import cinescape
    from cinescape.io.image import load_image
    from cinescape.methods.al.grade_keyframes import KeyframedGrade

    pipeline = cinescape.load_pipeline()
    for path in args.photos:
        photo = load_image(path)
        height, width = photo.shape[:2]
        photo = cv2.resize(photo, (1024, round(height * 1024 / width)), interpolation=cv2.INTER_AREA)
        animation = pipeline.plan(photo, num_frames=args.frames, progress=False, grade_keyframes=False)
        every = np.array([animation.frame(i) for i in range(args.frames)]).astype(np.float64)
        line = f"{path.split('/')[-1]:28s}"
        for stride in args.strides:
            KeyframedGrade.__init__.__kwdefaults__["stride"] = None if stride == "auto" else int(stride)   # Animation's
            animation = pipeline.plan(photo, num_frames=args.frames, progress=False, grade_keyframes=True)
            keyframed = np.array([animation.frame(i) for i in range(args.frames)])
            mse = ((every - keyframed) ** 2).reshape(args.frames, -1).mean(1)
            psnr = 10 * np.log10(255 ** 2 / np.maximum(mse, 1e-12))
            line += (f" | stride {stride} ({animation.grade.stride}): worst {psnr.min():5.1f} dB (frame {psnr.argmin():3d}) max diff "
                     f"{np.abs(every - keyframed).max():3.0f} calls {animation.grade.predictions}")
        print(line, flush=True)


if __name__ == "__main__":
    main()
