"""Stateless tensor ops: warping, flow accumulation and integration, masks, colour transfer, loops,
regularisers.

Every op states its tensor conventions in its docstring; flows are normalised backward flows
(see :mod:`cinescape.ops.warp`).
"""

from .color import color_transfer, identity_color_maps
from .flow_viz import flow_to_color
from .integrate import integrate_velocity
from .latent import kl_to_standard_normal, mmd_to_standard_normal, reparameterize
from .loop import crossfade_loop, crossfade_schedule, interpolate_cyclic, phased_schedule, symmetric_schedule
from .mask import erode_mask, feather_mask, resize_mask
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
    "erode_mask",
    "feather_mask",
    "flow_normalized_to_pixels",
    "flow_pixels_to_normalized",
    "flow_to_color",
    "identity_color_maps",
    "integrate_velocity",
    "interpolate_cyclic",
    "kl_to_standard_normal",
    "mmd_to_standard_normal",
    "reparameterize",
    "resize_flow",
    "resize_mask",
    "symmetric_schedule",
    "phased_schedule",
    "warp",
]
