"""Third-party weights: where they are found, and how they are checked.

cinescape never downloads anything unless asked. The two segmentation networks the default model's mask
needs (the U²-Net-p sky matte ``skyseg/*`` and the ADE20K segmenter ``ade20k/*``, :data:`BUNDLED`) ship inside
the package, in ``cinescape/segmentation_models/`` (licences in its ``NOTICE``). A file is looked up:

1. in ``$CINESCAPE_WEIGHTS`` if that is set and holds the file (an override; tests and CI point it at
   ``../shared/weights``);
2. for a bundled file, in the package's own copy;
3. for any other file (the LPIPS / SqueezeNet evaluation weights), in ``~/.cache/cinescape/weights`` when
   ``$CINESCAPE_WEIGHTS`` is not set.

Every file's sha256 is checked before use; a wrong one is a one-line
:class:`~cinescape.errors.ModelLoadError`, as is a missing file (naming the file, the directory and its source).
With ``CINESCAPE_ALLOW_DOWNLOAD=1`` (or ``allow_download=True``) a missing file is fetched from its listed
source into the weights directory and its sha256 checked before use.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelLoadError


@dataclass(frozen=True)
class WeightFile:
    sha256: str
    url: str
    licence: str
    what: str


REGISTRY: dict[str, WeightFile] = {
    "lpips/squeezenet1_1_features.pth": WeightFile(
        sha256="435cedb387e95bc8291893f61a3a64f0345b8c23a05139aceef43947efb3d52d",
        url="https://github.com/delldu/LPIPS/raw/77473a15/project/image_likeness/models/squeeze.backbone.pth",
        licence="BSD-3 (torchvision ImageNet SqueezeNet-1.1)",
        what="ImageNet SqueezeNet-1.1 .features state_dict",
    ),
    "lpips/squeeze_lin_v0.1.pth": WeightFile(
        sha256="4a5350f23600cb79923ce65bb07cbf57dca461329894153e05a1346bd531cf76",
        url="https://github.com/richzhang/PerceptualSimilarity/raw/082bb24f/lpips/weights/v0.1/squeeze.pth",
        licence="BSD-2",
        what="LPIPS v0.1 linear heads for SqueezeNet-1.1",
    ),
    "skyseg/skysegsmall_sim-opt-fp16.param": WeightFile(
        sha256="7af3523130445db42d94503558c08ce991932f843b92e4e921c99d732768895e",
        url="https://github.com/xiongzhu666/Sky-Segmentation-and-Post-processing/raw/1f7811b3/skysegsmall_sim-opt-fp16.param",
        licence="MIT",
        what="U²-Net-p sky matte, ncnn graph (used by --auto-mask and by `cinescape evaluate`)",
    ),
    "skyseg/skysegsmall_sim-opt-fp16.bin": WeightFile(
        sha256="ff1e18f71dc0a0cf8a56b634c59f68d296deffd015cbed27a6d5e302f991faf2",
        url="https://github.com/xiongzhu666/Sky-Segmentation-and-Post-processing/raw/1f7811b3/skysegsmall_sim-opt-fp16.bin",
        licence="MIT",
        what="U²-Net-p sky matte, ncnn fp16 weights",
    ),
    "ade20k/deeplabv3_mnv2_ade20k_uint8.tflite": WeightFile(
        sha256="2d58c681d81b5e181816b81cc815b82edf3daad905b4d7d35afade80aee93b5f",
        url="https://github.com/mlcommons/mobile_models/raw/1f996331/v0_7/tflite/deeplabv3_mnv2_ade20k_uint8.tflite",
        licence="Apache-2.0",
        what="DeepLabV3 MobileNetV2 ADE20K segmentation, uint8 TFLite (used by --auto-mask sky+water)",
    ),
}


#: The package's own copies of the segmentation networks (same relative paths as in the weights directory).
BUNDLED_DIR = Path(__file__).resolve().parent / "segmentation_models"
#: The registered files that ship in :data:`BUNDLED_DIR`.
BUNDLED = frozenset({"skyseg/skysegsmall_sim-opt-fp16.param", "skyseg/skysegsmall_sim-opt-fp16.bin",
                     "ade20k/deeplabv3_mnv2_ade20k_uint8.tflite"})


def weights_dir() -> Path:
    """The directory third-party weights are read from (``$CINESCAPE_WEIGHTS`` or the user cache)."""
    env = os.environ.get("CINESCAPE_WEIGHTS")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cinescape" / "weights"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weight_path(name: str, *, allow_download: bool | None = None, verify: bool = True) -> Path:
    """Path of the registered weights file ``name`` (e.g. ``"lpips/squeezenet1_1_features.pth"``).

    Looked up in ``$CINESCAPE_WEIGHTS`` (when set and holding the file), else in the package's copy for the
    :data:`BUNDLED` files, else in the weights directory (see the module docstring).

    Raises:
        ModelLoadError: the file is missing (and downloading is off) or its sha256 differs.
    """
    if name not in REGISTRY:
        raise KeyError(f"unknown weights file {name!r}; known: {sorted(REGISTRY)}")
    entry = REGISTRY[name]
    override = os.environ.get("CINESCAPE_WEIGHTS")
    path = weights_dir() / name
    if name in BUNDLED and not (override and path.is_file()):
        bundled = BUNDLED_DIR / name
        if bundled.is_file():
            return _checked(bundled, entry, verify, "the copy shipped with cinescape is damaged; reinstall cinescape")
        # a broken install (package data left out): the weights directory may still hold it, or fetch it
    if allow_download is None:
        allow_download = os.environ.get("CINESCAPE_ALLOW_DOWNLOAD") == "1"
    if not path.is_file():
        if not allow_download:
            shipped = (f"the copy that ships with cinescape ({BUNDLED_DIR / name}) is missing too, reinstall "
                       f"cinescape or " if name in BUNDLED else "")
            raise ModelLoadError(
                f"missing weights file {path} ({entry.what}); {shipped}set CINESCAPE_WEIGHTS to a folder holding "
                f"{name}, or set CINESCAPE_ALLOW_DOWNLOAD=1 to fetch it from {entry.url}"
            )
        _download(entry, path)
    return _checked(path, entry, verify, "replace it")


def _checked(path: Path, entry: WeightFile, verify: bool, remedy: str) -> Path:
    if verify and sha256_of(path) != entry.sha256:
        raise ModelLoadError(f"weights file {path} has the wrong sha256 (expected {entry.sha256[:12]}…); {remedy}")
    return path


def _download(entry: WeightFile, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        with urllib.request.urlopen(entry.url, timeout=60) as response, open(tmp, "wb") as out:
            out.write(response.read())
        if sha256_of(tmp) != entry.sha256:
            raise ModelLoadError(f"download of {entry.url} has the wrong sha256; not using it")
        os.replace(tmp, path)
    except OSError as exc:
        raise ModelLoadError(f"could not download {entry.url}: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
