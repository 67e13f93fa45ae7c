"""The standard feature networks of FID (Inception-v3) and FVD (I3D), and where their weights come from.

Their weights cannot be obtained offline here, so both networks are only used when the user supplies a
weights file (or, for Inception-v3, allows a download that is checked against its published hash); the
harness reports "unavailable" otherwise and never substitutes another network under these names.

* :class:`InceptionV3FID`: the Inception-v3 variant of the TF FID graph (Heusel et al. 2017) as ported
  to PyTorch (``pt_inception-2015-12-05-6726825d.pth``: torchvision parameter names, 1008-way ``fc``, no
  auxiliary head). Features: the 2048-d pool3 activations of 299×299 inputs.
* :class:`I3D`: Inception-v1 inflated to 3-D (Carreira & Zisserman 2017), the network of FVD
  (Unterthiner et al. 2018), with the parameter names of the widely used PyTorch conversion of
  DeepMind's ImageNet+Kinetics-400 RGB checkpoint (``rgb_imagenet.pt``). Features: the 400 logits,
  averaged over time, of 224×224 clips.

Inputs (both networks): pixel-scale batches as in :mod:`cinescape.eval.metrics` — images (B, 3, H, W),
videos (B, T, 3, H, W), values 0–255 — resized and mapped to [-1, 1] inside.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ModelLoadError
from ..weights import sha256_of, weights_dir

__all__ = ["InceptionV3FID", "I3D", "load_inception", "load_i3d", "INCEPTION_FILE", "INCEPTION_URL"]

#: pytorch-fid's port of the TF FID Inception graph; the name carries the first 8 hex digits of its sha256.
INCEPTION_FILE = "fid/pt_inception-2015-12-05-6726825d.pth"
INCEPTION_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
INCEPTION_SHA256_PREFIX = "6726825d"


# ------------------------------------------------------------------------------------- Inception-v3


class _Conv(nn.Module):
    """Conv (no bias) + BatchNorm (eps 1e-3) + ReLU; names ``conv`` / ``bn`` as torchvision's BasicConv2d."""

    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    # The TF graph's 3×3 average pools ignore the zero padding (count_include_pad=False).
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class _InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = _Conv(cin, 64, 1)
        self.branch5x5_1 = _Conv(cin, 48, 1)
        self.branch5x5_2 = _Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _Conv(cin, 64, 1)
        self.branch3x3dbl_2 = _Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _Conv(96, 96, 3, padding=1)
        self.branch_pool = _Conv(cin, pool_features, 1)

    def forward(self, x):
        return torch.cat((self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(_avg_pool(x))), 1)


class _InceptionB(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = _Conv(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = _Conv(cin, 64, 1)
        self.branch3x3dbl_2 = _Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _Conv(96, 96, 3, stride=2)

    def forward(self, x):
        return torch.cat((self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, 3, stride=2)), 1)


class _InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = _Conv(cin, 192, 1)
        self.branch7x7_1 = _Conv(cin, c7, 1)
        self.branch7x7_2 = _Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = _Conv(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = _Conv(cin, c7, 1)
        self.branch7x7dbl_2 = _Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = _Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = _Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = _Conv(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = _Conv(cin, 192, 1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat((self.branch1x1(x), b7, d, self.branch_pool(_avg_pool(x))), 1)


class _InceptionD(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = _Conv(cin, 192, 1)
        self.branch3x3_2 = _Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _Conv(cin, 192, 1)
        self.branch7x7x3_2 = _Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _Conv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _Conv(192, 192, 3, stride=2)

    def forward(self, x):
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat((self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, stride=2)), 1)


class _InceptionE(nn.Module):
    def __init__(self, cin: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool  # the TF graph's last block pools with max, not average
        self.branch1x1 = _Conv(cin, 320, 1)
        self.branch3x3_1 = _Conv(cin, 384, 1)
        self.branch3x3_2a = _Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = _Conv(cin, 448, 1)
        self.branch3x3dbl_2 = _Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _Conv(cin, 192, 1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat((self.branch1x1(x), self.branch3x3_2a(b3), self.branch3x3_2b(b3),
                          self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d), self.branch_pool(pooled)), 1)


class InceptionV3FID(nn.Module):
    """Inception-v3 of the FID reference graph; ``forward`` returns the (B, 2048) pool3 features.

    ``resize_to`` is 299 for real FID; tests use less (>= 75) to stay fast.
    """

    feature_dim = 2048

    def __init__(self, resize_to: int = 299):
        super().__init__()
        self.resize_to = resize_to
        self.Conv2d_1a_3x3 = _Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = _Conv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = _Conv(80, 192, 3)
        self.Mixed_5b = _InceptionA(192, 32)
        self.Mixed_5c = _InceptionA(256, 64)
        self.Mixed_5d = _InceptionA(288, 64)
        self.Mixed_6a = _InceptionB(288)
        self.Mixed_6b = _InceptionC(768, 128)
        self.Mixed_6c = _InceptionC(768, 160)
        self.Mixed_6d = _InceptionC(768, 160)
        self.Mixed_6e = _InceptionC(768, 192)
        self.Mixed_7a = _InceptionD(768)
        self.Mixed_7b = _InceptionE(1280, max_pool=False)
        self.Mixed_7c = _InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)  # unused for FID; kept so the reference state_dict loads strictly
        self.requires_grad_(False)
        self.eval()

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images.float(), size=(self.resize_to, self.resize_to), mode="bilinear", align_corners=False)
        x = x / 127.5 - 1.0
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return x.mean((2, 3))


# ---------------------------------------------------------------------------------------------- I3D


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME" padding (before, after) of one axis: the extra pixel of an odd total goes after."""
    total = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    pads = [_same_padding(s, k, st) for s, k, st in zip(x.shape[2:], kernel, stride)]
    # F.pad takes the last axis first: (W before, W after, H ..., T ...).
    return F.pad(x, [p for pair in reversed(pads) for p in pair])


class _Unit3D(nn.Module):
    """Conv3d with TF "SAME" padding (+ BatchNorm eps 1e-3 + ReLU); names ``conv3d`` / ``bn``."""

    def __init__(self, cin: int, cout: int, kernel=(1, 1, 1), stride=(1, 1, 1), *, logits: bool = False):
        super().__init__()
        self.kernel, self.stride, self.logits = tuple(kernel), tuple(stride), logits
        self.conv3d = nn.Conv3d(cin, cout, self.kernel, stride=self.stride, bias=logits)
        if not logits:
            self.bn = nn.BatchNorm3d(cout, eps=0.001, momentum=0.01)

    def forward(self, x):
        x = self.conv3d(_pad_same(x, self.kernel, self.stride))
        return x if self.logits else torch.relu(self.bn(x))


def _max_pool_same(x: torch.Tensor, kernel, stride) -> torch.Tensor:
    # Zero padding before max pooling, as the converted TF graph does (inputs are >= 0 after ReLU).
    return F.max_pool3d(_pad_same(x, kernel, stride), kernel, stride)


class _Mixed(nn.Module):
    """Inception module: 1×1 | 1×1→3×3×3 | 1×1→3×3×3 | maxpool→1×1; channels ``c`` = (b0, b1a, b1b, b2a, b2b, b3b)."""

    def __init__(self, cin: int, c: tuple[int, ...]):
        super().__init__()
        self.b0 = _Unit3D(cin, c[0])
        self.b1a = _Unit3D(cin, c[1])
        self.b1b = _Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a = _Unit3D(cin, c[3])
        self.b2b = _Unit3D(c[3], c[4], (3, 3, 3))
        self.b3b = _Unit3D(cin, c[5])

    def forward(self, x):
        pooled = _max_pool_same(x, (3, 3, 3), (1, 1, 1))
        return torch.cat((self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(pooled)), 1)


class I3D(nn.Module):
    """I3D (RGB stream) for FVD; ``forward(videos)`` returns (B, num_classes) time-averaged logits.

    ``size`` / ``num_frames``: the clip shape the videos are resampled to (224 and 16 for FVD; tests use
    less). The final 2×7×7 average pool of the reference is a global average here, identical for the
    reference input shape and defined for smaller test inputs.
    """

    def __init__(self, num_classes: int = 400, size: int = 224, num_frames: int = 16):
        super().__init__()
        self.size, self.num_frames = size, num_frames
        self.Conv3d_1a_7x7 = _Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.Conv3d_2b_1x1 = _Unit3D(64, 64)
        self.Conv3d_2c_3x3 = _Unit3D(64, 192, (3, 3, 3))
        self.Mixed_3b = _Mixed(192, (64, 96, 128, 16, 32, 32))
        self.Mixed_3c = _Mixed(256, (128, 128, 192, 32, 96, 64))
        self.Mixed_4b = _Mixed(480, (192, 96, 208, 16, 48, 64))
        self.Mixed_4c = _Mixed(512, (160, 112, 224, 24, 64, 64))
        self.Mixed_4d = _Mixed(512, (128, 128, 256, 24, 64, 64))
        self.Mixed_4e = _Mixed(512, (112, 144, 288, 32, 64, 64))
        self.Mixed_4f = _Mixed(528, (256, 160, 320, 32, 128, 128))
        self.Mixed_5b = _Mixed(832, (256, 160, 320, 32, 128, 128))
        self.Mixed_5c = _Mixed(832, (384, 192, 384, 48, 128, 128))
        self.logits = _Unit3D(1024, num_classes, logits=True)
        self.requires_grad_(False)
        self.eval()

    def resample(self, videos: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) pixel scale -> (B, 3, num_frames, size, size) in [-1, 1] (nearest frames in time)."""
        b, t = videos.shape[:2]
        index = torch.linspace(0, t - 1, self.num_frames).round().long()
        frames = videos[:, index].flatten(0, 1).float()
        frames = F.interpolate(frames, size=(self.size, self.size), mode="bilinear", align_corners=False,
                               antialias=True)
        return (frames / 127.5 - 1.0).view(b, self.num_frames, 3, self.size, self.size).transpose(1, 2)

    @torch.no_grad()
    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        x = self.Conv3d_1a_7x7(self.resample(videos))
        x = _max_pool_same(x, (1, 3, 3), (1, 2, 2))
        x = self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x))
        x = _max_pool_same(x, (1, 3, 3), (1, 2, 2))
        x = self.Mixed_3c(self.Mixed_3b(x))
        x = _max_pool_same(x, (3, 3, 3), (2, 2, 2))
        for block in (self.Mixed_4b, self.Mixed_4c, self.Mixed_4d, self.Mixed_4e, self.Mixed_4f):
            x = block(x)
        x = _max_pool_same(x, (2, 2, 2), (2, 2, 2))
        x = self.Mixed_5c(self.Mixed_5b(x))
        x = x.mean((2, 3, 4), keepdim=True)  # dropout is the identity at inference
        return self.logits(x).flatten(1)


# ------------------------------------------------------------------------------------------ loading


def _load_state(model: nn.Module, path: Path, what: str) -> nn.Module:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        model.load_state_dict(state, strict=True)
    except (RuntimeError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelLoadError(f"{path} is not a {what} weights file: {str(exc).splitlines()[0][:200]}") from None
    model.weights_file = str(path)  # reports name the exact file
    model.weights_sha256 = sha256_of(path)
    return model


def load_inception(path: str | Path | None = None, *, allow_download: bool | None = None,
                   resize_to: int = 299) -> InceptionV3FID:
    """The FID Inception-v3 with its weights.

    ``path``: a user-supplied ``pt_inception-2015-12-05-6726825d.pth``. Without it the file is looked up as
    ``fid/pt_inception-2015-12-05-6726825d.pth`` in the weights directory (see :mod:`cinescape.weights`) and,
    with ``CINESCAPE_ALLOW_DOWNLOAD=1`` (or ``allow_download=True``), downloaded there and checked against
    the sha256 prefix its publisher put in the file name (torch.hub's convention).

    Raises:
        ModelLoadError: no file, a failed download, or a file of another network.
    """
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise ModelLoadError(f"Inception weights file {path} does not exist")
    else:
        path = weights_dir() / INCEPTION_FILE
        if allow_download is None:
            allow_download = os.environ.get("CINESCAPE_ALLOW_DOWNLOAD") == "1"
        if not path.is_file():
            if not allow_download:
                raise ModelLoadError(f"no FID Inception-v3 weights ({path} is missing): pass the file, or set "
                                     f"CINESCAPE_ALLOW_DOWNLOAD=1 to fetch it from {INCEPTION_URL}")
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                torch.hub.download_url_to_file(INCEPTION_URL, str(path), hash_prefix=INCEPTION_SHA256_PREFIX,
                                               progress=False)
            except (OSError, RuntimeError) as exc:
                raise ModelLoadError(f"could not download {INCEPTION_URL}: {str(exc).splitlines()[0]}") from None
    return _load_state(InceptionV3FID(resize_to=resize_to), path, "FID Inception-v3")


def load_i3d(path: str | Path | None = None, *, size: int = 224, num_frames: int = 16) -> I3D:
    """The FVD I3D with weights from a user-supplied file (``rgb_imagenet.pt`` layout; 400 classes).

    No download: there is no published checksum to verify one against. The file's sha256 is recorded in
    the evaluation report instead.

    Raises:
        ModelLoadError: no file given, or a file of another network.
    """
    if path is None:
        raise ModelLoadError("no I3D weights for FVD: i3d (an rgb_imagenet.pt-style file) is not given")
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelLoadError(f"I3D weights file {path} does not exist")
    return _load_state(I3D(size=size, num_frames=num_frames), path, "I3D (400-class RGB)")
