"""DeepLandscape's training frames: square crops of time-lapse frames, with the clip each came from.

    python -m cinescape.methods.deeplandscape.data --out runs/deeplandscape/frames.npz [--size 128] [--include-validation]

A :class:`FrameArchive` holds ``frames`` (N, R, R, 3) uint8, ``clip`` (N,) int64 (frames of one time-lapse view share
a clip id; the pairwise discriminator pairs frames of one clip only) and ``clip_names`` (one name per clip id: the
source path, with ``#k`` for the k-th square crop across its width). Saved as an ``.npz`` with those three arrays.

Every source is a time-lapse (frame folder or video): ``keep`` frames evenly spaced over it are resized so the short
side is R and cut into ``crops`` squares spread across the width; each crop position is its own clip (a time-lapse
of one view). :data:`SOURCES` is the recipe of the shipped model's archive (under ``../shared/data``);
``cinescape train deeplandscape --data`` takes any clips, folders of clips or archives (:func:`load_training_frames`).
The project's validation clips (:mod:`cinescape.data.splits`) are left out unless asked for, and the photos in
``../shared/data/photos`` are never used: they are the inversion test set.
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...data.clips import discover_clips, parse_source
from ...data.splits import is_validation_clip
from ...errors import CinescapeError, OptionError

__all__ = ["SOURCES", "FrameArchive", "square_crops", "archive_from_frames", "build_archive", "synthetic_archive",
           "load_training_frames"]

# (path under ../shared/data, frames kept per clip, square crops across the width): the shipped model's data
SOURCES = [
    *[(f"motion/skytimelapse128/clip_r{r}_c{c}", 8, 1) for r in range(6) for c in range(8)],
    ("motion/karlsruhe_2024-06-22", 24, 3),
    ("motion/karlsruhe_2024-06-01", 20, 3),
    ("motion/karlsruhe_2024-06-19", 16, 2),
    ("motion/karlsruhe_2024-06-20s", 16, 3),
    ("motion/karlsruhe_2024-06-20m", 12, 2),
    ("motion/al_sample", 8, 2),
    ("motion/videos/clouds_stock.mp4", 24, 2),
    ("motion/videos/boats.mp4", 12, 1),
    ("motion/videos/fountain.mp4", 12, 1),
    *[(f"appearance/tilde_webcam/{name}", 20, 2)
      for name in ("chamonix", "courbevoie", "frankfurt", "mexico", "panorama", "stlouis")],
    ("appearance/sunset_to_night", 30, 1),
    ("appearance/desert_city_webcam", 60, 1),
    ("appearance/al_sample", 8, 2),
]


def _is_validation_name(name: str) -> bool:
    return is_validation_clip(name.split("#")[0])


@dataclass
class FrameArchive:
    frames: np.ndarray          # (N, R, R, 3) uint8
    clip: np.ndarray            # (N,) int64, an index into clip_names
    clip_names: list[str]       # empty for archives written before names were recorded

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def resolution(self) -> int:
        return self.frames.shape[1]

    def save(self, path: str | Path) -> Path:
        """Write the ``.npz`` under a temporary name, then rename it: never a half-written archive."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as file:
            np.savez(file, frames=self.frames, clip=self.clip, clip_names=np.asarray(self.clip_names, dtype=str))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "FrameArchive":
        try:
            with np.load(path) as archive:
                frames, clip = archive["frames"], archive["clip"].astype(np.int64)
                names = [str(n) for n in archive["clip_names"]] if "clip_names" in archive.files else []
        except (OSError, ValueError, KeyError) as exc:
            raise OptionError(f"data {path} is not a frame archive (frames, clip): {exc}") from None
        if frames.ndim != 4 or frames.shape[1] != frames.shape[2] or frames.shape[3] != 3 or frames.dtype != np.uint8:
            raise OptionError(f"data {path}: frames must be uint8 (N, R, R, 3), got {frames.dtype} {frames.shape}")
        if clip.shape != (len(frames),) or (names and (clip.min() < 0 or clip.max() >= len(names))):
            raise OptionError(f"data {path}: clip must hold one id per frame (and index clip_names)")
        return cls(frames, clip, names)

    def select_clips(self, keep: np.ndarray) -> "FrameArchive":
        """Only the clips whose id is in ``keep`` (ids renumbered in order)."""
        new_id = np.full(len(self.clip_names), -1, np.int64)
        new_id[keep] = np.arange(len(keep))
        rows = new_id[self.clip] >= 0
        return FrameArchive(self.frames[rows], new_id[self.clip[rows]], [self.clip_names[i] for i in keep])

    @staticmethod
    def concatenate(parts: list["FrameArchive"]) -> "FrameArchive":
        offsets = np.cumsum([0] + [len(p.clip_names) for p in parts])
        return FrameArchive(np.concatenate([p.frames for p in parts]),
                            np.concatenate([p.clip + o for p, o in zip(parts, offsets)]),
                            [n for p in parts for n in p.clip_names])


def square_crops(frame: np.ndarray, size: int, crops: int | None = None) -> list[np.ndarray]:
    """``crops`` squares of side ``size`` spread across the width of ``frame`` resized to short side ``size``
    (vertically centred). None: as many as the aspect ratio asks (``ceil(w / h - 0.25)``: 1 up to 5:4, 2 up
    to 9:4, ...)."""
    h, w = frame.shape[:2]
    if crops is None:
        crops = max(1, math.ceil(w / h - 0.25))
    scale = size / min(h, w)
    resized = cv2.resize(frame, (max(size, round(w * scale)), max(size, round(h * scale))), interpolation=cv2.INTER_AREA)
    h, w = resized.shape[:2]
    y = (h - size) // 2
    xs = np.linspace(0, w - size, crops).round().astype(int) if crops > 1 else [(w - size) // 2]
    return [resized[y:y + size, x:x + size] for x in xs]


def archive_from_frames(name: str, video: list[np.ndarray], size: int, keep: int, crops: int | None = None
                        ) -> FrameArchive:
    """``keep`` frames evenly spaced over ``video`` (uint8 (H, W, 3) each), cut into square crops: one clip
    per crop position, named ``name#k``."""
    index = np.linspace(0, len(video) - 1, min(keep, len(video))).round().astype(int)
    per_frame = [square_crops(np.asarray(video[i]), size, crops) for i in index]
    count = len(per_frame[0])
    frames = np.stack([crop for frame in per_frame for crop in frame]).astype(np.uint8)
    clip = np.tile(np.arange(count), len(index)).astype(np.int64)
    return FrameArchive(frames, clip, [f"{name}#{k}" for k in range(count)])


def build_archive(sources: list[tuple[str | Path, int, int | None]], size: int, *, root: str | Path = ".",
                  include_validation: bool = False, log=print) -> FrameArchive:
    """Decode ``sources`` ((path under ``root``, frames kept, crops or None), e.g. :data:`SOURCES`); clips are
    named by their path as given. Missing sources are skipped with a note, validation clips unless
    ``include_validation``."""
    from ...io import read_clip

    parts = []
    for rel, keep, crops in sources:
        path = Path(root) / rel
        if not include_validation and is_validation_clip(path):
            log(f"skip {rel}: validation clip")
            continue
        if not path.exists():
            log(f"skip {rel}: not found")
            continue
        parts.append(archive_from_frames(str(rel), read_clip(path), size, keep, crops))
        log(f"{rel}: {len(parts[-1])} crops in {len(parts[-1].clip_names)} clips")
    if not parts:
        raise OptionError("no training frames: none of the sources was found")
    return FrameArchive.concatenate(parts)


def synthetic_archive(count: int, size: int, keep: int) -> FrameArchive:
    """``count`` procedural time-lapses (:func:`cinescape.data.synthetic.generate_timelapse`, seeds 10000, 10001,
    ...; ``keep`` frames each, 3:2, day cycle), named ``synthetic/NNN``: each is cut into 2 square clips."""
    from ...data.synthetic import generate_timelapse

    parts = []
    for i in range(count):
        clip = generate_timelapse(num_frames=keep, height=size, width=size * 3 // 2, seed=10_000 + i)
        video = ((clip.frames.permute(0, 2, 3, 1) + 1) * 127.5).round().clamp(0, 255).byte().numpy()
        parts.append(archive_from_frames(f"synthetic/{i:03d}", list(video), size, keep))
    return FrameArchive.concatenate(parts)


def load_training_frames(data: list[str], *, synthetic: int, resolution: int, frames_per_clip: int,
                         include_validation: bool) -> FrameArchive:
    """The training frames of ``cinescape train deeplandscape``: every ``data`` entry is an archive (``.npz``), a
    clip (frame folder or video) or a folder of clips (``PATH[:STRIDE]``: every STRIDE-th frame), plus
    ``synthetic`` procedural clips. Validation clips are left out unless ``include_validation``; an archive that
    does not name its clips is then refused (it cannot be checked)."""
    from ...io import read_clip

    parts = []
    for spec in data:
        if spec.endswith(".npz"):
            archive = FrameArchive.load(spec)
            if archive.resolution != resolution:
                raise OptionError(f"data {spec} holds {archive.resolution}-px frames; resolution is {resolution}")
            if not include_validation:
                if not archive.clip_names:
                    raise OptionError(f"data {spec} does not name its clips, so its validation clips cannot be left "
                                      f"out: rebuild it (python -m cinescape.methods.deeplandscape.data) or set "
                                      f"include_validation")
                keep = np.array([i for i, n in enumerate(archive.clip_names) if not _is_validation_name(n)], np.int64)
                archive = archive.select_clips(keep)
            if not archive.clip_names:   # an older archive, used as it is: name its clips by their ids
                ids = np.unique(archive.clip)
                archive = FrameArchive(archive.frames, np.searchsorted(ids, archive.clip),
                                       [f"{spec}:clip{i}" for i in ids])
            parts.append(archive)
            continue
        root, stride = parse_source(spec)
        if not root.exists():
            raise OptionError(f"training data {root} does not exist")
        found = discover_clips(root)
        if not found:
            raise OptionError(f"no clips (frame folders or videos) found under {root}")
        for path in found:
            if include_validation or not is_validation_clip(path):
                try:
                    video = read_clip(path, stride=stride)
                except CinescapeError as exc:
                    print(f"skipping {path}: {exc}")
                    continue
                if len(video) >= 2:
                    parts.append(archive_from_frames(str(path), video, resolution, frames_per_clip))
    if synthetic:
        parts.append(synthetic_archive(synthetic, resolution, frames_per_clip))
    if not parts or not sum(len(p) for p in parts):
        raise OptionError("no training frames: give data (clips, folders of clips or .npz archives) and/or synthetic")
    return FrameArchive.concatenate(parts)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--out", default="runs/deeplandscape/frames.npz")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--include-validation", action="store_true",
                        help="also use the project's validation clips (cinescape.data.splits)")
    args = parser.parse_args(argv)
    archive = build_archive(SOURCES, args.size, root=args.data, include_validation=args.include_validation)
    out = archive.save(args.out)
    print(f"{len(archive)} frames in {len(archive.clip_names)} clips -> {out} ({out.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
