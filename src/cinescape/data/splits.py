"""The fixed validation split of the real data in ``../shared/data`` (kept out of training).

8 of the 32 ``skytimelapse128`` clips (every 4th in name order: column 3 and 7 of each row), one
Karlsruhe sequence (``karlsruhe_2024-06-20s``) and one TILDE webcam (``stlouis``). Clips are matched
by their path relative to the data root, so the split holds wherever ``shared/data`` lives.
"""

from __future__ import annotations

from pathlib import Path

VALIDATION_CLIPS = frozenset(
    [f"motion/skytimelapse128/clip_r{r}_c{c}" for r in range(4) for c in (3, 7)]
    + ["motion/karlsruhe_2024-06-20s", "appearance/tilde_webcam/stlouis"]
)


def is_validation_clip(path: str | Path) -> bool:
    """True if ``path`` (anywhere on disk) ends with one of the validation clips' data-relative paths."""
    parts = Path(path).resolve().parts
    return any(tuple(Path(clip).parts) == parts[-len(Path(clip).parts):] for clip in VALIDATION_CLIPS)
