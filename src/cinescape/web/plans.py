"""The page's planned animations, kept for the next render of the same photo and settings.

A plan (the motion states, the loop, the colour codes, the layers: everything before the first frame) depends only
on the photo, the render's size and length and its settings; the output format and the flow video do not change
it. :class:`PlanCache` keeps the last few plans, so that a second preview or render with the same settings (another
format, the flow video added, the same button pressed again) renders at once, from the same animation, into the
same frames. It is bounded twice: at most ``max_plans`` plans, and at most ``max_pixels`` photo pixels over all of
them (a plan holds its photo and layers at full resolution); the least recently used plan goes first, and a plan
of a photo over the pixel budget is not kept at all.

Example:
    >>> cache = PlanCache(max_plans=2, max_pixels=100)
    >>> cache.get_or_plan(("photo", 1), lambda: "animation 1", pixels=40)
    ('animation 1', False)
    >>> cache.get_or_plan(("photo", 1), lambda: "never called", pixels=40)
    ('animation 1', True)
    >>> cache.planned, cache.reused, len(cache)
    (1, 1, 1)
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import threading
from typing import Any, Callable, Hashable

import numpy as np

__all__ = ["PlanCache", "settings_digest"]


def settings_digest(value: Any) -> str:
    """A SHA-1 hex digest of ``value`` by content: dataclasses field by field, arrays (NumPy, or anything with
    ``numpy()``) by dtype, shape and bytes, mappings, lists and tuples item by item, anything else by ``repr``.
    Equal settings (a painted mask decoded twice included) give equal digests.

    Example:
        >>> settings_digest({"mask": np.zeros((2, 2))}) == settings_digest({"mask": np.zeros((2, 2))})
        True
        >>> settings_digest({"mask": np.zeros((2, 2))}) == settings_digest({"mask": np.ones((2, 2))})
        False
    """
    digest = hashlib.sha1()

    def feed(item: Any) -> None:
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            digest.update(f"<{type(item).__qualname__}>".encode())
            for field in dataclasses.fields(item):
                digest.update(field.name.encode())
                feed(getattr(item, field.name))
        elif isinstance(item, np.ndarray) or hasattr(item, "numpy") and hasattr(item, "shape"):
            array = np.ascontiguousarray(item if isinstance(item, np.ndarray) else item.numpy())
            digest.update(f"<array {array.dtype} {array.shape}>".encode())
            digest.update(array.tobytes())
        elif isinstance(item, dict):
            digest.update(b"<dict>")
            for key in sorted(item, key=repr):
                feed(key)
                feed(item[key])
        elif isinstance(item, (list, tuple)):
            digest.update(f"<{type(item).__name__} {len(item)}>".encode())
            for element in item:
                feed(element)
        else:
            digest.update(repr(item).encode())
        digest.update(b";")

    feed(value)
    return digest.hexdigest()


class PlanCache:
    """A bounded least-recently-used store of plans by key (see the module docstring); thread-safe.

    ``max_plans``: plans kept at most (0 keeps none); ``max_pixels``: photo pixels over all kept plans. Counters:
    ``planned`` (plans made) and ``reused`` (plans served from the store).
    """

    def __init__(self, max_plans: int = 4, max_pixels: int = 4_000_000):
        self.max_plans = max_plans
        self.max_pixels = max_pixels
        self.planned = 0
        self.reused = 0
        self._plans: collections.OrderedDict[Hashable, tuple[Any, int]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._plans)

    @property
    def pixels(self) -> int:
        """Photo pixels of the kept plans."""
        with self._lock:
            return sum(pixels for _, pixels in self._plans.values())

    def get_or_plan(self, key: Hashable, plan: Callable[[], Any], pixels: int) -> tuple[Any, bool]:
        """``(value, reused)``: the kept plan of ``key``, or ``plan()`` (called without the lock held: planning
        takes seconds), kept when its ``pixels`` fit the budget. An exception from ``plan`` keeps nothing."""
        with self._lock:
            if key in self._plans:
                self._plans.move_to_end(key)
                self.reused += 1
                return self._plans[key][0], True
        value = plan()
        with self._lock:
            self.planned += 1
            if 0 < self.max_plans and pixels <= self.max_pixels:
                self._plans[key] = (value, pixels)
                self._plans.move_to_end(key)
                while len(self._plans) > self.max_plans or sum(p for _, p in self._plans.values()) > self.max_pixels:
                    self._plans.popitem(last=False)
        return value, False

    def forget(self, matches: Callable[[Hashable], bool]) -> int:
        """Drop the plans whose key ``matches`` (e.g. those of a deleted photo); how many went."""
        with self._lock:
            gone = [key for key in self._plans if matches(key)]
            for key in gone:
                del self._plans[key]
        return len(gone)
