"""Backward warping and flow accumulation.

Conventions (used by every flow in cinescape):

* Images are float tensors of shape (B, C, H, W). Their value range does not matter to these ops.
* A flow is a float tensor of shape (B, 2, H, W); channel 0 is the x (column) displacement and
  channel 1 the y (row) displacement.
* Flows are **backward** flows: ``warp(image, flow)`` returns ``out`` with
  ``out[p] = image[p + flow[p]]``, sampled bilinearly.
* Flows are stored in **normalised units**, the paper's convention: image positions run over
  [-1, 1] in x and y, with -1 and +1 at the *outer edges* of the border pixels (pixel centres are
  at ``(2 * i + 1) / size - 1``), which is PyTorch's ``align_corners=False``. One pixel is therefore
  ``2 / W`` in x and ``2 / H`` in y. Because the unit is relative to the image size, a flow can be
  resized to another resolution with plain interpolation, without rescaling its values; use
  :func:`flow_pixels_to_normalized` / :func:`flow_normalized_to_pixels` to convert.
* Samples that fall outside the image are reflected about the image border (``padding='reflection'``),
  as the paper does, so borders never fill with black.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "base_grid",
    "warp",
    "accumulate_flow",
    "resize_flow",
    "flow_pixels_to_normalized",
    "flow_normalized_to_pixels",
]


def base_grid(height: int, width: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """Normalised pixel-centre coordinates of an H×W image.

    Returns a (1, H, W, 2) tensor whose last axis is (x, y) in [-1, 1] with ``align_corners=False``
    (the centre of pixel column ``j`` is at ``(2 * j + 1) / W - 1``), the layout ``grid_sample`` takes.

    Example:
        >>> base_grid(1, 2)[0, 0, :, 0]
        tensor([-0.5000,  0.5000])
    """
    ys = (torch.arange(height, device=device, dtype=dtype) * 2 + 1) / height - 1
    xs = (torch.arange(width, device=device, dtype=dtype) * 2 + 1) / width - 1
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((grid_x, grid_y), dim=-1).unsqueeze(0)


def warp(
    image: torch.Tensor,
    flow: torch.Tensor,
    *,
    padding: str = "reflection",
    mode: str = "bilinear",
) -> torch.Tensor:
    """Backward-warp ``image`` with a normalised ``flow``: ``out[p] = image[p + flow[p]]``.

    Args:
        image: (B, C, H, W) float tensor.
        flow: (B, 2, H, W) backward flow in normalised units (see module docstring). It must have the
            same H and W as ``image``; resize it first with :func:`resize_flow` if needed.
        padding: ``grid_sample`` padding mode for samples outside the image: ``"reflection"``
            (default, as in the paper), ``"border"`` or ``"zeros"``.
        mode: ``"bilinear"`` (default), ``"bicubic"`` (Keys cubic, a = -0.75; sharper, may overshoot the
            input range slightly) or ``"nearest"``.

    Returns:
        (B, C, H, W) warped image, same dtype as ``image``.

    Example:
        >>> img = torch.arange(4.0).view(1, 1, 1, 4)
        >>> one_px_right = flow_pixels_to_normalized(torch.tensor([1.0, 0.0]).view(1, 2, 1, 1).expand(1, 2, 1, 4), 1, 4)
        >>> warp(img, one_px_right)  # each pixel takes its right neighbour; the last one reflects
        tensor([[[[1., 2., 3., 3.]]]])
    """
    if image.dim() != 4 or flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f"warp expects image (B,C,H,W) and flow (B,2,H,W), got {tuple(image.shape)} and {tuple(flow.shape)}")
    if image.shape[-2:] != flow.shape[-2:]:
        raise ValueError(f"image size {tuple(image.shape[-2:])} and flow size {tuple(flow.shape[-2:])} differ")
    height, width = image.shape[-2:]
    grid = base_grid(height, width, device=image.device, dtype=flow.dtype) + flow.permute(0, 2, 3, 1)
    return F.grid_sample(image, grid.to(image.dtype), mode=mode, padding_mode=padding, align_corners=False)


def accumulate_flow(accumulated: torch.Tensor, new_flow: torch.Tensor, *, padding: str = "reflection") -> torch.Tensor:
    """Compose backward flows so a later frame can be sampled from the first frame in one step.

    If frame ``t`` is ``I_1`` warped by ``accumulated`` and frame ``t+1`` is frame ``t`` warped by
    ``new_flow``, then frame ``t+1`` is ``I_1`` warped by the returned flow::

        A_{t+1}(p) = B_{t+1}(p) + A_t(p + B_{t+1}(p))

    i.e. the accumulated flow is warped by the next flow and added to it (AL Sec. 4.1). Sampling the
    original image once with the result avoids the blur of warping a warped image again.

    Args:
        accumulated: (B, 2, H, W) normalised backward flow from frame ``t`` to frame 1.
        new_flow: (B, 2, H, W) normalised backward flow from frame ``t+1`` to frame ``t``.
        padding: how ``accumulated`` is sampled outside the image (reflection, as the paper does).

    Returns:
        (B, 2, H, W) normalised backward flow from frame ``t+1`` to frame 1.

    Example:
        >>> a = torch.full((1, 2, 4, 4), 0.1); b = torch.full((1, 2, 4, 4), 0.2)
        >>> torch.allclose(accumulate_flow(a, b), torch.full((1, 2, 4, 4), 0.3))
        True
    """
    return new_flow + warp(accumulated, new_flow, padding=padding)


def resize_flow(flow: torch.Tensor, size: tuple[int, int], *, mode: str = "bilinear") -> torch.Tensor:
    """Resize a normalised flow (B, 2, H, W) to ``size`` = (H', W').

    Normalised units are relative to the image size, so values are unchanged; only the sampling grid
    changes (bilinear, ``align_corners=False``).
    """
    if tuple(flow.shape[-2:]) == tuple(size):
        return flow
    return F.interpolate(flow, size=size, mode=mode, align_corners=False)


def flow_pixels_to_normalized(flow: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Convert a (B, 2, H, W) flow from pixels to normalised units (x * 2 / W, y * 2 / H)."""
    flow = flow if flow.is_floating_point() else flow.float()
    scale = flow.new_tensor([2.0 / width, 2.0 / height]).view(1, 2, 1, 1)
    return flow * scale


def flow_normalized_to_pixels(flow: torch.Tensor, height: int | None = None, width: int | None = None) -> torch.Tensor:
    """Convert a (B, 2, H, W) flow from normalised units to pixels of an H×W image.

    ``height``/``width`` default to the flow's own size.
    """
    flow = flow if flow.is_floating_point() else flow.float()
    height = flow.shape[-2] if height is None else height
    width = flow.shape[-1] if width is None else width
    scale = flow.new_tensor([width / 2.0, height / 2.0]).view(1, 2, 1, 1)
    return flow * scale
