"""Classical optical flow (OpenCV DIS): the motion metric's estimator and training's pseudo ground truth.

Conventions: frames are uint8 (T, H, W, 3) RGB arrays; flows are float32 (N, 2, H, W) **in pixels**
(channel 0 = x, channel 1 = y), unlike the normalised flows of :mod:`cinescape.ops.warp`.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import torch

__all__ = ["optical_flow_dis", "backward_flow_dis"]

_PRESETS = ("ultrafast", "fast", "medium")


def _dis(preset: str):
    if preset not in _PRESETS:
        raise ValueError(f"unknown DIS preset {preset!r}: use one of {', '.join(_PRESETS)}")
    code = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[preset]
    return cv2, cv2.DISOpticalFlow_create(code)


def _consecutive_flows(frames: np.ndarray, preset: str, backward: bool) -> torch.Tensor:
    cv2, dis = _dis(preset)
    grey = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
    flows = [dis.calc(b, a, None) if backward else dis.calc(a, b, None) for a, b in itertools.pairwise(grey)]
    if not flows:
        return torch.zeros(0, 2, *frames.shape[1:3])
    return torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2).contiguous()


def optical_flow_dis(frames: np.ndarray, preset: str = "medium") -> torch.Tensor:
    """Forward optical flow between consecutive uint8 (T, H, W, 3) frames with OpenCV's DIS.

    Returns (T - 1, 2, H, W) float32 flows in pixels: ``flow[t]`` maps frame t to frame t + 1
    (``frame[t][p] ≈ frame[t + 1][p + flow[t][p]]``). DIS runs on the grey-level frames.
    """
    return _consecutive_flows(frames, preset, backward=False)


def backward_flow_dis(frames: np.ndarray, preset: str = "medium") -> torch.Tensor:
    """Backward optical flow of consecutive uint8 (T, H, W, 3) frames, cinescape's flow direction.

    Returns (T - 1, 2, H, W) float32 flows in pixels with ``frame[t + 1][p] ≈ frame[t][p + flow[t][p]]``:
    divide by (W / 2, H / 2) for the normalised flow that ``warp(frame[t], flow)`` takes.

    Example:
        >>> frames = np.zeros((2, 32, 32, 3), np.uint8)
        >>> backward_flow_dis(frames).shape
        torch.Size([1, 2, 32, 32])
    """
    return _consecutive_flows(frames, preset, backward=True)
