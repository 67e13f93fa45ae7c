"""Stateless tensor ops: warping and flow accumulation, colour transfer, loops, regularisers.

Every op states its tensor conventions in its docstring; flows are normalised backward flows
(see :mod:`cinescape.ops.warp`).
"""

from .color import color_transfer, identity_color_maps
from .flow_viz import flow_to_color
from .loop import crossfade_loop, crossfade_schedule, interpolate_cyclic
from .regularizers import edge_aware_tv
from .warp import (
    accumulate_flow,
    base_grid,
    flow_normalized_to_pixels,
    flow_pixels_to_normalized,
    resize_flow,
    warp,
)

__all__ = [
    "accumulate_flow",
    "base_grid",
    "color_transfer",
    "crossfade_loop",
    "crossfade_schedule",
    "edge_aware_tv",
    "flow_normalized_to_pixels",
    "flow_pixels_to_normalized",
    "flow_to_color",
    "identity_color_maps",
    "interpolate_cyclic",
    "resize_flow",
    "warp",
]
