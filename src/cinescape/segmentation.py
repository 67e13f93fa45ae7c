"""Where a photo may move: user motion masks, the automatic sky matte and semantic groups.

A *mask array* is a float32 ``numpy.ndarray`` of shape (H, W) with values in [0, 1]: 1 (white) may move,
0 (black) stays frozen, grey moves partly. :func:`load_mask` reads one from an image file,
:func:`as_mask_tensor` accepts every form the Python API takes, and :class:`SkyMatte` / :func:`sky_mask`
find the sky automatically with a U²-Net-p matte (run by ncnn; its files ``skyseg/*`` ship in the package,
``cinescape/segmentation_models/``, and ``$CINESCAPE_WEIGHTS`` may override them, see :mod:`cinescape.weights`).
``cinescape evaluate`` uses the same matte for its DeepLandscape metrics.

Semantic groups. FGLA (Xue et al. 2021) takes its masks from an ADE20K-pretrained segmenter (Sec. 3) and
"aggregate[s] the categories of the data into six groups: sky, tree, grass, water, waterfall and others"
(Sec. 4.2). A :class:`Segmenter` labels every pixel with one of these groups; :class:`ADE20KSegmenter` is
one, and :func:`fluid_mask` (``--auto-mask sky+water``) moves the sky and the water. The 150 ADE20K
(SceneParse150) classes, :data:`ADE20K_CLASSES`, map to the groups by name (:data:`GROUP_CLASSES`; every
class not listed is *others*):

=============  =========================================  ==================================================
group (id)     ADE20K classes                             why
=============  =========================================  ==================================================
sky (0)        sky                                        clouds drift
tree (1)       tree, palm, plant                          foliage that sways as a whole; outdoors, ADE20K's
                                                          "plant" is mostly bushes and shrubs
grass (2)      grass, field, flower                       low vegetation rippling in the wind; "field" is
                                                          crop land (FGLA's data lists hayfields as moving)
water (3)      water, sea, river, lake, swimming pool     open water surfaces: ripples, waves, currents
waterfall (4)  waterfall                                  falling water, FGLA's own group
others (5)     the other 137 classes                      static: buildings, mountain, hill, rock, earth,
                                                          sand, people, objects. "fountain" too: the ADE20K
                                                          label covers the basin and statue, mostly stone
=============  =========================================  ==================================================

The weights ``ade20k/deeplabv3_mnv2_ade20k_uint8.tflite`` (MLPerf Mobile v0.7 DeepLabV3 MobileNetV2, run by
LiteRT, shipped in the package like the sky matte) are NOT
a 150-class model: checked on this file, its logits have 32 channels and its output is the argmax over them,
label 0 = none of its classes and label k = 1..31 = ADE20K class k - 1 (0-based), i.e. ADE20K's 31 most
frequent classes, wall ... armchair (on the 16 photos of ``shared/data/photos`` label 3 lies on the sky,
22 on the water, 5 on the trees; label 0 never appears).
So with this model the groups can only come from sky; tree, plant; grass, field; water, sea: rivers, lakes
and waterfalls come out as "water" (or as rock or mountain), and the waterfall group stays empty.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .errors import InputImageError, ModelLoadError, OptionError

__all__ = ["SkyMatte", "SKY_MATTE_FILES", "load_mask", "as_mask_tensor", "sky_mask", "Segmenter", "ADE20KSegmenter",
           "ADE20K_CLASSES", "ADE20K_GROUPS", "ADE20K_WEIGHTS", "GROUP_NAMES", "GROUP_CLASSES", "GROUP_SKY",
           "GROUP_TREE", "GROUP_GRASS", "GROUP_WATER", "GROUP_WATERFALL", "GROUP_OTHERS", "FLUID_GROUPS",
           "ade20k_group", "fluid_mask", "MIN_FLUID_AREA", "drop_specks", "automatic_matte"]

#: The sky matte's files (ncnn graph and fp16 weights), relative to the weights directory / the package's copy.
SKY_MATTE_FILES = ("skyseg/skysegsmall_sim-opt-fp16.param", "skyseg/skysegsmall_sim-opt-fp16.bin")
#: Sky probabilities at or below the first value become 0 (frozen), at or above the second 1 (moving),
#: linear in between, so land the matte is only slightly unsure about stays exactly still.
SKY_RAMP = (0.25, 0.75)


class SkyMatte:
    """U²-Net-p sky matte (ncnn, 384×384; files ``skyseg/*``, shipped in the package).

    ``matte(image)`` takes a uint8 (H, W, 3) RGB image and returns the (H, W) float32 sky probability in
    [0, 1] (``size=(h, w)``: at that size instead). Runs with the ``ncnn`` package (a dependency of
    cinescape); where it cannot be imported, or a weights file is missing or damaged,
    :class:`~cinescape.errors.ModelLoadError` says so in one line.
    """

    source = "U²-Net-p sky matte (sky only)"

    def __init__(self):
        from .weights import weight_path

        ncnn = _import_runtime("ncnn", "ncnn", "the U²-Net-p sky matte")
        param = weight_path(SKY_MATTE_FILES[0])
        weights = weight_path(SKY_MATTE_FILES[1])
        self._ncnn = ncnn
        self._lock = threading.Lock()
        self.net = ncnn.Net()
        self.net.opt.use_vulkan_compute = False
        # ncnn's own pools keep every buffer of a run (about 600 MB at 384×384) for as long as the net lives; with
        # pools of our own, emptied after each run, a pipeline that keeps the matte loaded does not hold them.
        self._blob_pool, self._workspace_pool = ncnn.PoolAllocator(), ncnn.PoolAllocator()
        self.net.opt.blob_allocator, self.net.opt.workspace_allocator = self._blob_pool, self._workspace_pool
        self.net.opt.num_threads = max(1, torch.get_num_threads())
        self._onnx = None   # the ONNX Runtime session of the same network (None: not built yet, False: failed)
        if self.net.load_param(str(param)) or self.net.load_model(str(weights)):
            raise ModelLoadError(f"cannot load the sky matte from {param} / {weights}")

    def __call__(self, image: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        ncnn = self._ncnn
        height, width = image.shape[:2]
        blob = ncnn.Mat.from_pixels_resize(np.ascontiguousarray(image), ncnn.Mat.PixelType.PIXEL_RGB, width, height,
                                           384, 384)
        # The network expects /255 then ImageNet mean/std, i.e. (v - 255 mean) / (255 std).
        blob.substract_mean_normalize([0.485 * 255, 0.456 * 255, 0.406 * 255],
                                      [1 / (0.229 * 255), 1 / (0.224 * 255), 1 / (0.225 * 255)])
        with self._lock:   # one run at a time: the pools are emptied after each
            prob = self._run_onnxruntime(blob)
            if prob is None:
                try:
                    extractor = self.net.create_extractor()
                    extractor.input("input.1", blob)
                    _, out = extractor.extract("1959")
                    prob = torch.from_numpy(np.array(out, dtype=np.float32).reshape(1, 1, 384, 384))
                    del extractor, out
                finally:
                    self._blob_pool.clear()
                    self._workspace_pool.clear()
        size = (height, width) if size is None else tuple(size)
        return F.interpolate(prob, size=size, mode="bilinear", align_corners=False)[0, 0].clamp_(0, 1).numpy()

    def _run_onnxruntime(self, blob) -> torch.Tensor | None:
        """The matte of the normalised 384×384 ``blob`` on ONNX Runtime (the same network rewritten from the ncnn
        files, :func:`~cinescape.io.ncnn_graph.ncnn_to_onnx`; the same probabilities within ~1e-6), or None
        where ncnn must run it: onnxruntime missing or switched off (``CINESCAPE_RUNTIME=torch``), or failing
        (logged once). Why: on the busy 2-core machine the matte took 2.2-2.5 s of CPU on ncnn's two threads and
        1.0 s on ONNX Runtime's (docs/results.md, "s5-ort")."""
        from .io.onnx_graph import cpu_session, onnxruntime_enabled

        if self._onnx is False or not onnxruntime_enabled():
            return None
        try:
            if self._onnx is None:
                from .io.ncnn_graph import ncnn_to_onnx
                from .weights import weight_path

                model = ncnn_to_onnx(*(weight_path(name) for name in SKY_MATTE_FILES), (1, 3, 384, 384), "1959")
                self._onnx = cpu_session(model, self.net.opt.num_threads, keep_buffers=False)
            out = self._onnx.run(None, {"input": np.array(blob, dtype=np.float32)[None]})[0]
            return torch.from_numpy(out.reshape(1, 1, 384, 384))
        except Exception as error:  # noqa: BLE001 - ncnn runs it instead
            self._onnx = False
            logging.getLogger(__name__).warning("the sky matte on ONNX Runtime failed, running ncnn: %s", error)
            return None


def _import_runtime(module: str, package: str, network: str):
    """Import a segmentation runtime, or raise a one-line :class:`ModelLoadError` that names the package that
    cannot load, why, and what that costs (the network cannot run)."""
    import importlib

    try:
        return importlib.import_module(module)
    except (ImportError, OSError) as exc:  # not installed, no wheel for this platform, or a missing shared library
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelLoadError(f"{network} cannot run: its runtime, the {package} package, does not load on this "
                             f"platform ({reason}); pip install {package} (a dependency of cinescape) to fix it"
                             ) from None


def sky_mask(image: np.ndarray, size: tuple[int, int] | None = None, matte: SkyMatte | None = None) -> np.ndarray:
    """Motion mask of the sky of a uint8 (H, W, 3) RGB photo: (H, W) (or ``size``) float32 in [0, 1].

    The :class:`SkyMatte` probability mapped through :data:`SKY_RAMP` (below 0.25 frozen, above 0.75 moving,
    linear between). ``matte``: a loaded :class:`SkyMatte` to reuse.
    """
    prob = np.asarray((matte or SkyMatte())(image, size), np.float32)
    low, high = SKY_RAMP
    if not prob.flags.writeable:
        prob = prob.copy()
    # in place: a full-resolution matte is 96 MB at 24 MP, each temporary as much
    np.subtract(prob, np.float32(low), out=prob)
    np.divide(prob, np.float32(high - low), out=prob)
    return np.clip(prob, 0.0, 1.0, out=prob)


def load_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a motion mask image (any format Pillow reads; colour images are averaged over R, G, B).

    Returns an (H, W) float32 array in [0, 1]: white (255) = 1 may move, black = 0 stays frozen.
    Raises :class:`~cinescape.errors.InputImageError` with a one-line message for a missing, empty,
    truncated or non-image file.
    """
    from .io.image import load_image

    try:
        image = load_image(path, min_side=1)
    except InputImageError as exc:
        raise InputImageError(f"--mask: {exc}") from None
    return (image.astype(np.float32).mean(-1) / 255.0).astype(np.float32)


def as_mask_tensor(mask: np.ndarray | torch.Tensor | str | Path) -> torch.Tensor:
    """Any mask the API accepts -> a (1, 1, H, W) float32 tensor in [0, 1].

    ``mask``: an image path (see :func:`load_mask`); a float (H, W) array or tensor in [0, 1] (a (1, 1, H, W)
    tensor also works); a bool (H, W) array (True moves); or a uint8 (H, W) array in [0, 255].
    Raises :class:`~cinescape.errors.OptionError` for other shapes or values outside [0, 1].
    """
    if isinstance(mask, (str, Path, os.PathLike)):
        mask = load_mask(mask)
    if isinstance(mask, np.ndarray):
        if mask.dtype == np.uint8:
            mask = mask.astype(np.float32) / 255.0
        mask = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))
    if not isinstance(mask, torch.Tensor):
        raise OptionError(f"mask must be an image path, an (H, W) array or a tensor, got {type(mask).__name__}")
    if mask.dim() == 4 and mask.shape[:2] == (1, 1):
        mask = mask[0, 0]
    if mask.dim() != 2 or min(mask.shape) < 1:
        raise OptionError(f"mask must have shape (H, W), got {tuple(mask.shape)}")
    mask = mask.detach().to("cpu", torch.float32)
    if not torch.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
        raise OptionError("mask values must lie in [0, 1] (1 = may move, 0 = frozen)")
    return mask[None, None].contiguous()


# ----------------------------------------------------------------------------------------- semantic groups

#: The 150 ADE20K (SceneParse150) classes in the dataset's order, 0-based (the first of each class's names).
ADE20K_CLASSES: tuple[str, ...] = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass",  # 0-9
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair",  # 10-19
    "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field",  # 20-29
    "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion",  # 30-39
    "base", "box", "column", "signboard", "chest of drawers", "counter", "sand", "sink", "skyscraper",  # 40-48
    "fireplace", "refrigerator", "grandstand", "path", "stairs", "runway", "case", "pool table", "pillow",  # 49-57
    "screen door", "stairway", "river", "bridge", "bookcase", "blind", "coffee table", "toilet", "flower",  # 58-66
    "book", "hill", "bench", "countertop", "stove", "palm", "kitchen island", "computer", "swivel chair",  # 67-75
    "boat", "bar", "arcade machine", "hovel", "bus", "towel", "light", "truck", "tower", "chandelier",  # 76-85
    "awning", "streetlight", "booth", "television receiver", "airplane", "dirt track", "apparel", "pole",  # 86-93
    "land", "bannister", "escalator", "ottoman", "bottle", "buffet", "poster", "stage", "van", "ship",  # 94-103
    "fountain", "conveyer belt", "canopy", "washer", "plaything", "swimming pool", "stool", "barrel",  # 104-111
    "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank",  # 112-122
    "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen", "blanket",  # 123-131
    "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen",  # 132-141
    "plate", "monitor", "bulletin board", "shower", "radiator", "glass", "clock", "flag",  # 142-149
)

#: FGLA's six groups, in the paper's order; the ids are the positions.
GROUP_NAMES = ("sky", "tree", "grass", "water", "waterfall", "others")
GROUP_SKY, GROUP_TREE, GROUP_GRASS, GROUP_WATER, GROUP_WATERFALL, GROUP_OTHERS = range(6)
#: The ADE20K classes of each group but *others* (see the table in the module docstring).
GROUP_CLASSES: dict[int, tuple[str, ...]] = {
    GROUP_SKY: ("sky",),
    GROUP_TREE: ("tree", "palm", "plant"),
    GROUP_GRASS: ("grass", "field", "flower"),
    GROUP_WATER: ("water", "sea", "river", "lake", "swimming pool"),
    GROUP_WATERFALL: ("waterfall",),
}
#: The groups that flow rather than sway: what ``--auto-mask sky+water`` moves besides the sky.
FLUID_GROUPS = (GROUP_WATER, GROUP_WATERFALL)


def _group_table() -> np.ndarray:
    table = np.full(len(ADE20K_CLASSES), GROUP_OTHERS, np.int64)
    for group, names in GROUP_CLASSES.items():
        for name in names:
            table[ADE20K_CLASSES.index(name)] = group
    table.setflags(write=False)
    return table


#: (150,) int64: the group id of every ADE20K class, ``ADE20K_GROUPS[ADE20K_CLASSES.index("sea")] == GROUP_WATER``.
ADE20K_GROUPS = _group_table()


def ade20k_group(name: str) -> int:
    """The group id of an ADE20K class name (``"river"`` -> :data:`GROUP_WATER`); KeyError for unknown names."""
    if name not in ADE20K_CLASSES:
        raise KeyError(f"{name!r} is not an ADE20K class")
    return int(ADE20K_GROUPS[ADE20K_CLASSES.index(name)])


@runtime_checkable
class Segmenter(Protocol):
    """Labels a photo's pixels with FGLA's six groups.

    ``classes(image)`` takes a uint8 (H, W, 3) RGB image and returns an (H, W) int64 map of group ids
    (:data:`GROUP_SKY` ... :data:`GROUP_OTHERS`); ``size=(h, w)``: at that size instead (nearest).
    """

    source: str

    def classes(self, image: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray: ...


#: The ADE20K segmenter's file in the weights directory.
ADE20K_WEIGHTS = "ade20k/deeplabv3_mnv2_ade20k_uint8.tflite"


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for a moment: LiteRT's C++ side prints an INFO line to it when
    it creates its XNNPACK delegate, which would break the CLI's quiet stderr."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class ADE20KSegmenter:
    """DeepLabV3 MobileNetV2 trained on ADE20K (uint8 TFLite, MLPerf Mobile v0.7), grouped as FGLA does.

    The photo is letterboxed as the model was trained: scaled (bilinear) so its long side is 512, put at the
    top left of a 512×512 canvas padded with grey 128 (the model's input zero point, DeepLab's mean-pixel
    padding); the 512×512 label map is cropped to the photo and resized back with nearest neighbours. The
    model predicts only ADE20K's first 31 classes (see the module docstring). Runs with the ``ai-edge-litert``
    package (LiteRT, a dependency of cinescape) on the file ``ade20k/*`` shipped in the package; where LiteRT
    cannot be imported, or the file is missing or damaged, :class:`~cinescape.errors.ModelLoadError` says so in
    one line. ``num_threads``: interpreter threads (default: torch's).
    """

    source = "DeepLabV3-MobileNetV2 ADE20K segmenter (MLPerf Mobile v0.7 uint8 TFLite)"
    input_size = 512
    pad_value = 128
    #: model label k (1..31) is ADE20K class k - 1; label 0 is none of its classes
    num_labels = 32

    def __init__(self, num_threads: int | None = None):
        self._lock = threading.Lock()
        from .weights import weight_path

        Interpreter = _import_runtime("ai_edge_litert.interpreter", "ai-edge-litert",
                                      "the ADE20K segmenter").Interpreter
        path = weight_path(ADE20K_WEIGHTS)
        threads = max(1, torch.get_num_threads()) if num_threads is None else max(1, int(num_threads))
        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
            with _native_stderr_silenced():
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            message = " ".join(str(exc).split()) or type(exc).__name__
            raise ModelLoadError(f"cannot load the ADE20K segmenter from {path}: {message}") from None
        source, target = self.interpreter.get_input_details()[0], self.interpreter.get_output_details()[0]
        size = self.input_size
        if (tuple(source["shape"]) != (1, size, size, 3) or source["dtype"] != np.uint8
                or tuple(target["shape"]) != (1, size, size)):
            raise ModelLoadError(f"{path} is not the expected ADE20K segmenter (input uint8 1×{size}×{size}×3, "
                                 f"output 1×{size}×{size} labels)")
        self._input, self._output = source["index"], target["index"]
        # model label -> group id: 0 (none of its classes) is "others", k is ADE20K class k - 1
        self._label_groups = np.concatenate(([GROUP_OTHERS], ADE20K_GROUPS[:self.num_labels - 1]))

    def predict(self, image: np.ndarray) -> np.ndarray:
        """The model's labels over the letterboxed photo: (h, w) int64, long side 512, aspect kept.

        Label 0 is none of the model's classes, label k >= 1 is ADE20K class k - 1 (:data:`ADE20K_CLASSES`).
        """
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
            raise OptionError(f"the segmenter takes a uint8 (H, W, 3) RGB image, got {image.dtype} {image.shape}")
        height, width = image.shape[:2]
        scale = self.input_size / max(height, width)
        h, w = max(1, round(height * scale)), max(1, round(width * scale))
        canvas = np.full((1, self.input_size, self.input_size, 3), self.pad_value, np.uint8)
        canvas[0, :h, :w] = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((w, h), Image.BILINEAR))
        with self._lock:   # one interpreter, one input tensor: calls from two threads take turns
            self.interpreter.set_tensor(self._input, canvas)
            self.interpreter.invoke()
            labels = self.interpreter.get_tensor(self._output)[0, :h, :w].astype(np.int64)
        return labels.clip(0, self.num_labels - 1)

    def labels(self, image: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """(H, W) (or ``size``) int64 ADE20K class indices (0-based), -1 where the model saw none of its classes."""
        return _resize_nearest(self.predict(image) - 1, image.shape[:2] if size is None else size)

    def classes(self, image: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """(H, W) (or ``size``) int64 group ids (:data:`GROUP_SKY` ... :data:`GROUP_OTHERS`)."""
        groups = self._label_groups[self.predict(image)]
        return _resize_nearest(groups, image.shape[:2] if size is None else size)


def _resize_nearest(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an (h, w) label map to ``size`` (pixel centres, like ``nearest-exact``)."""
    (height, width), (h, w) = tuple(size), labels.shape
    rows = np.minimum(((np.arange(height) + 0.5) * (h / height)).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * (w / width)).astype(np.int64), w - 1)
    return labels[rows[:, None], cols[None, :]]


def fluid_mask(image: np.ndarray, size: tuple[int, int] | None = None, matte: SkyMatte | None = None,
               segmenter: Segmenter | None = None, *, sky: str = "matte") -> np.ndarray:
    """Motion mask of the fluid parts of a uint8 (H, W, 3) RGB photo (sky, water, waterfall): (H, W) (or
    ``size``) float32 in [0, 1].

    The pixel-wise maximum (union) of the sky and the segmenter's :data:`FLUID_GROUPS`. ``sky="matte"``
    (``--auto-mask sky+water``): the sky is :func:`sky_mask` (the U²-Net-p matte); ``sky="segmenter"``: the
    segmenter's sky group. The groups are looked up at up to 4× ``size`` (at most the photo's size) and
    area-averaged down, so their edges are soft. ``matte``, ``segmenter``: loaded models to reuse (default:
    :class:`SkyMatte` and :class:`ADE20KSegmenter`).
    """
    if sky not in ("matte", "segmenter"):
        raise OptionError(f"sky must be 'matte' or 'segmenter', got {sky!r}")
    height, width = image.shape[:2]
    size = (height, width) if size is None else (int(size[0]), int(size[1]))
    sky_part = sky_mask(image, size, matte) if sky == "matte" else None
    segmenter = segmenter if segmenter is not None else ADE20KSegmenter()
    groups = FLUID_GROUPS + ((GROUP_SKY,) if sky == "segmenter" else ())
    fine = (min(height, 4 * size[0]), min(width, 4 * size[1]))
    hit = np.isin(segmenter.classes(image, fine), groups)
    if fine == size:    # the area average to the same size is the map itself (no full-size temporaries)
        mask = hit.astype(np.float32)
    else:
        mask = F.interpolate(torch.from_numpy(hit.astype(np.float32))[None, None], size=size, mode="area")[0, 0].numpy()
    del hit
    if sky_part is not None:
        np.maximum(mask, sky_part, out=mask)
    return np.clip(mask, 0.0, 1.0, out=mask)


#: Connected parts of an automatic matte smaller than this share of the photo are dropped before refinement: the
#: segmenters' specks (a patch of grass or of a dark rock called water) would otherwise move while all around stays.
MIN_FLUID_AREA = 0.01


def drop_specks(mask: np.ndarray, min_area: float) -> np.ndarray:
    """``mask`` (H, W) float32 in [0, 1] with every connected part of ``mask > 0.5`` (8-connected) smaller than
    ``min_area`` × H × W set to 0, and the soft values within 2 px of it (that belong to no larger part)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats((mask > 0.5).astype(np.uint8), connectivity=8)
    small = np.concatenate(([False], stats[1:, cv2.CC_STAT_AREA] < min_area * mask.size))
    if not small.any():
        return mask
    speck_zone = cv2.dilate(small[labels].astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    large = (labels > 0) & ~small[labels]
    return np.where(speck_zone & ~large, 0.0, mask).astype(np.float32)


def automatic_matte(image: np.ndarray, kind: str = "sky+water", matte: SkyMatte | None = None,
                    segmenter: Segmenter | None = None) -> np.ndarray:
    """The automatic fluid matte of a uint8 (H, W, 3) RGB photo at its full resolution: (H, W) float32 in [0, 1],
    1 = moves. Every method takes its automatic mask from here (AL and FGLA's ``--auto-mask``, DeepLandscape's
    segmentation variant), so one photo moves the same region whichever method animates it.

    ``kind``: ``"sky"`` (:func:`sky_mask`) or ``"sky+water"`` / ``"fluid"`` (:func:`fluid_mask`). The coarse
    mask, computed at the photo's size, loses its specks (:func:`drop_specks`, parts under
    :data:`MIN_FLUID_AREA`) and is refined against the photo's own edges
    (:func:`~cinescape.ops.layers.refine_matte`, a guided filter), so thin still structures inside the sky
    (branches, wires, tree tops) and ridges fall in the still layer. ``matte``, ``segmenter``: loaded models to
    reuse (default: load them, which takes about a second).
    """
    from .ops.layers import refine_matte

    height, width = image.shape[:2]
    if kind == "sky":
        coarse = sky_mask(image, (height, width), matte)
    elif kind in ("sky+water", "fluid"):
        coarse = fluid_mask(image, (height, width), matte, segmenter)
    else:
        raise OptionError(f"the automatic matte is 'sky', 'sky+water' or 'fluid', got {kind!r}")
    return refine_matte(image, drop_specks(coarse, MIN_FLUID_AREA))


class SkyMatteSegmenter:
    """A :class:`Segmenter` whose sky is the U²-Net-p sky matte's: FGLA's groups from
    ``segmenter`` (default :class:`ADE20KSegmenter`), then every pixel with a sky
    probability >= 0.5 becomes sky and every other pixel the segmenter called sky becomes others.

    Why: the shipped ADE20K model (31 classes, MobileNetV2) calls deep-blue sky *water*; on the first frames of
    the 24 Sky Time-lapse training clips at 160 px it put >= 2 % water in 20 of them and up to 64 % (a clear sky
    with clouds), which would teach the water latent the clouds' motion. The matte finds that sky as sky.
    """

    source = "ADE20K groups with the U²-Net-p sky matte's sky"

    def __init__(self, segmenter: Segmenter | None = None, matte=None):
        self.segmenter = segmenter if segmenter is not None else ADE20KSegmenter()
        self.matte = matte if matte is not None else SkyMatte()

    def classes(self, image: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        groups = np.array(self.segmenter.classes(image, size), dtype=np.int64)
        sky = self.matte(image, groups.shape) >= 0.5
        groups[(groups == GROUP_SKY) & ~sky] = GROUP_OTHERS
        groups[sky] = GROUP_SKY
        return groups
