"""Giving freed memory back to the operating system.

glibc's allocator keeps freed blocks smaller than its mmap threshold (which grows up to 32 MB as large blocks are
freed) in its heaps, so after a stage that made and dropped many band-sized temporaries (planning a big photo: the
segmenters, the matte, the fill) the process stays that much larger although nothing uses the memory. What comes
next (the renderer and the video encoder, which allocates its own frame buffers) then adds to it, and the peak
resident set is higher than what is ever in use at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

__all__ = ["give_back_freed_memory"]


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim``, or None (another C library, or none found)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


def give_back_freed_memory() -> bool:
    """Return the free memory of the C heaps to the operating system (``malloc_trim(0)``; the memory in use is
    untouched). Takes a few milliseconds. Returns whether anything could be given back (False where the C library
    has no ``malloc_trim``, e.g. macOS or musl).

    Example:
        >>> animation = pipeline.plan(photo)          # doctest: +SKIP
        >>> give_back_freed_memory()                  # doctest: +SKIP
        True
    """
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
