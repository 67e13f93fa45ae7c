"""Region kinds on the page: the one adapter between the web layer and :mod:`cinescape.regions`.

The page shows a photo's moving regions tinted by kind (sky, waterfall, river, sea, lake, fountain, still) and lets
the user change a region's kind and drag its direction; a render request carries these as the ``kinds`` setting,
the strings ``cinescape animate --kind`` takes (``"KIND@X,Y[,DEG]"``: the region under photo pixel (x, y) is
KIND, flowing towards DEG degrees, 0 = right, 90 = down).

The regions are the plan's: :func:`photo_regions` runs :func:`cinescape.regions.plan_regions` on the same
working-size photo, motion mask and sky-matte evidence that :meth:`~cinescape.CinemagraphPipeline.plan` would
use. A web render passes the mask the page showed as a user mask (the automatic matte is not computed again), so
the plan itself would see no sky matte; :func:`plan_kinds` therefore hands the plan the page's regions as kind
masks (one per region, plus a point for each region with a direction), and the plan moves exactly what the page
showed. Whether a server offers kinds is a capability of its pipeline (:func:`offers_kinds`), never its name.
"""

from __future__ import annotations

import base64
import io

import cv2
import numpy as np
import torch.nn.functional as F
from PIL import Image

from ..errors import CinescapeError
from ..io.image import image_to_tensor
from ..methods.al.pipeline import AnimationSettings, working_shape
from ..regions import (KINDS, MAX_KIND_SPECS, KindMask, KindPoint, RegionMap, apply_user_kinds, parse_kind_point,
                       plan_regions)
from .errors import BadRequest, WebError

#: Kinds one request may set (each a region's kind and direction): a photo has a handful of regions.
MAX_WEB_KINDS = 64
MAX_LABELS = 255   # regions the page's 8-bit label map can name; more are merged into fewer masks (plan_kinds)
#: The kinds whose motion a direction steers (cinescape.regions.water_field: a river flows towards the end of its
#: channel nearer the direction, waves run along it, a lake drifts along it); a waterfall falls down its own
#: channel, a fountain rises, the sky keeps its learned motion and a still region stays.
DIRECTED_KINDS = ("river", "sea", "lake")
#: Regions whose motion is per pixel (the learned cloud motion, or none): merging them into one mask changes nothing.
PER_PIXEL_KINDS = ("sky", "still")


def offers_kinds(pipeline) -> bool:
    """Whether ``pipeline`` (instance or class) moves regions by kind (its ``motion_by_kind`` capability)."""
    return bool(getattr(pipeline, "motion_by_kind", False))


def parse_kind_field(value) -> list[KindPoint] | None:
    """The request's ``kinds``: null, or a list of at most :data:`MAX_WEB_KINDS` strings ``"KIND@X,Y[,DEG]"``
    (photo pixels; DEG finite). Syntax, kind names and numbers are checked here; whether a point lies on a region
    is checked against the photo's regions (:func:`apply_kinds`). A mask file (``KIND:MASK.png``) names a file on
    the server and is refused.

    Example:
        >>> parse_kind_field(["river@10,20,90"])
        [KindPoint(kind='river', x=10.0, y=20.0, direction=90.0)]
    """
    if value is None or value == []:
        return None
    if not isinstance(value, list):
        raise BadRequest(f'kinds must be a list of "KIND@X,Y" or "KIND@X,Y,DEGREES" texts, got '
                         f"{type(value).__name__}")
    if len(value) > MAX_WEB_KINDS:
        raise BadRequest(f"kinds: at most {MAX_WEB_KINDS} entries, got {len(value)}")
    points = []
    for item in value:
        if not isinstance(item, str) or len(item) > 100:
            raise BadRequest(f'kinds: each entry is a text "KIND@X,Y" or "KIND@X,Y,DEGREES", got {_short(item)}')
        try:
            points.append(parse_kind_point(item))
        except CinescapeError as exc:
            raise BadRequest(_web_words(exc)) from None
    return points


def photo_regions(pipeline, image: np.ndarray, matte: np.ndarray | None, sky: np.ndarray | None) -> RegionMap:
    """The moving regions the plan finds for ``image`` (H, W, 3) uint8 with the full-resolution motion ``matte``
    (H, W) float in [0, 1] (None: everything moves, no regions) and the sky matte's probability ``sky`` (any
    size; None: no sky matte ran, every region is "sky"): :func:`cinescape.regions.plan_regions` on the same
    working-size photo and mask as :meth:`~cinescape.CinemagraphPipeline.plan`."""
    height, width = image.shape[:2]
    full = image_to_tensor(image)
    small = F.interpolate(full, size=working_shape(height, width, pipeline.working_size), mode="bilinear",
                          align_corners=False, antialias=True)
    if matte is None:   # (motion_mask would compute the model's automatic matte in its place)
        return RegionMap(np.zeros(small.shape[-2:], np.int32), [], (height, width))
    mask = pipeline.motion_mask(image, AnimationSettings(), tuple(small.shape[-2:]), matte=matte)
    return plan_regions(small, mask, sky, None, (height, width))


def apply_kinds(regions: RegionMap, points: list[KindPoint] | None) -> RegionMap:
    """``regions`` with the request's kinds applied; a point outside the photo or on no region is a
    :class:`~cinescape.web.errors.BadRequest` (one line)."""
    if not points:
        return regions
    try:
        return apply_user_kinds(regions, points, (regions.labels > 0).astype(np.float32))
    except CinescapeError as exc:
        raise BadRequest(_web_words(exc)) from None


def interior_point(pixels: np.ndarray) -> tuple[int, int]:
    """(row, col) of the pixel of the (h, w) bool region ``pixels`` farthest from its border: a point that lies
    inside the region whatever its shape (a centroid may not).

    Example:
        >>> ring = np.ones((9, 9), bool); ring[2:7, 2:7] = False   # a ring: its centroid is outside it
        >>> interior_point(ring), bool(ring[interior_point(ring)])
        ((1, 1), True)
    """
    distance = cv2.distanceTransform(np.pad(pixels, 1).astype(np.uint8), cv2.DIST_L2, 3)[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return int(row), int(col)


def describe_regions(regions: RegionMap) -> dict:
    """The page's JSON for ``regions``: ``size`` [h, w] (working pixels), ``labels`` (an 8-bit greyscale PNG data
    URL at working size: 0 no region, k region k), and ``regions``, each ``id``, ``kind``, ``area`` (share of the
    photo), ``point`` [x, y] (a photo pixel inside it, where the page's ``kinds`` entries point), ``box`` [x0, y0,
    x1, y1] (photo pixels), ``direction`` (degrees or null), ``source`` and ``why``."""
    h, w = regions.size
    height, width = regions.photo_size or (h, w)
    sx, sy = width / w, height / h
    buffer = io.BytesIO()
    Image.fromarray(np.clip(regions.labels, 0, MAX_LABELS).astype(np.uint8), mode="L").save(buffer, format="PNG")
    out = []
    for region in regions.regions[:MAX_LABELS]:
        pixels = regions.labels == region.index
        row, col = interior_point(pixels)
        x0, y0, x1, y1 = region.box
        # the area from the labels: a region that user masks carved keeps its first area in Region.area
        out.append({"id": region.index, "kind": region.kind, "area": round(float(pixels.mean()), 5),
                    "point": [round((col + 0.5) * sx, 2), round((row + 0.5) * sy, 2)],
                    "box": [round(x0 * sx, 1), round(y0 * sy, 1), round(x1 * sx, 1), round(y1 * sy, 1)],
                    "direction": region.direction, "source": region.source, "why": region.why})
    return {"size": [h, w], "photo_size": [height, width], "kinds": list(KINDS), "regions": out,
            "labels": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()}


def plan_kinds(regions: RegionMap, image_size: tuple[int, int]) -> list[KindMask | KindPoint]:
    """``regions`` (the page's, with the user's kinds applied) as ``AnimationSettings.kinds`` for a plan of an
    image of ``image_size`` (H, W) (the photo, or a preview's smaller copy): one :class:`KindMask` per region
    (regions of :data:`PER_PIXEL_KINDS` share one mask per kind, so the list stays within the plan's bound) and a
    :class:`KindPoint` inside each region that has a direction. Too many water regions: a 422 in one line."""
    h, w = regions.size
    height, width = image_size
    items: list[KindMask | KindPoint] = []
    merged: dict[str, np.ndarray] = {}
    for region in regions.regions:
        pixels = regions.labels == region.index
        if region.kind in PER_PIXEL_KINDS and region.direction is None:
            merged[region.kind] = merged.get(region.kind, np.zeros_like(pixels)) | pixels
        else:
            items.append(KindMask(region.kind, pixels.astype(np.float32)))
    items = [KindMask(kind, pixels.astype(np.float32)) for kind, pixels in merged.items()] + items
    for region in regions.regions:
        if region.direction is not None:
            row, col = interior_point(regions.labels == region.index)
            items.append(KindPoint(region.kind, (col + 0.5) * width / w, (row + 0.5) * height / h,
                                   region.direction))
    if len(items) > MAX_KIND_SPECS:
        raise WebError(f"this photo has too many moving water regions ({len(regions.regions)}) to move by kind; "
                       "paint fewer", status=422)
    return items


def wants_regions(settings: AnimationSettings) -> bool:
    """Whether the plan moves ``settings``' regions by kind: the Eulerian mode without arrows (as the plan)."""
    return settings.motion_by_kind and settings.mode == "eulerian" and settings.arrows is None


def check_kinds(settings: AnimationSettings, pipeline) -> None:
    """Refuse, in one line, kinds this server or these settings cannot use (before any work)."""
    if not settings.kinds:
        return
    if not offers_kinds(pipeline):
        raise BadRequest("kinds: this server's method sets its own motion per region; region kinds are the "
                         "default method's (al)")
    if not wants_regions(settings):
        raise BadRequest("kinds: region kinds move the eulerian mode without arrows; clear the arrows or choose "
                         "the eulerian mode")


def _web_words(exc: Exception) -> str:
    """A regions error in the page's words: its field is ``kinds``, not ``--kind``."""
    return str(exc).replace("--kind-mask", "kinds").replace("--kind", "kinds")


def _short(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = ["DIRECTED_KINDS", "MAX_WEB_KINDS", "apply_kinds", "check_kinds", "describe_regions", "interior_point", "offers_kinds",
           "parse_kind_field", "photo_regions", "plan_kinds", "wants_regions"]
