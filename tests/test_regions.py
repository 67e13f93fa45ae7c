"""Motion by region kind: the field solvers against closed forms, kinds on tiny synthetic scenes, user kinds and
their one-line errors, and the pipeline's hook (what moves which way on screen)."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from cinescape.errors import CinescapeError, OptionError
from cinescape.ops import warp
from cinescape.ops.region_flow import potential_flow, principal_ends, ripple_field, shore_field, waves_field
from cinescape.regions import (SKY_SPEED, UPRIGHT_RUN, elongation, land_in_front, upright_bands, KindMask, KindPoint, Region, RegionMap, apply_user_kinds, classify_water,
                               find_regions, kind_velocity, parse_kind_mask, parse_kind_point, parse_kind_speeds,
                               water_field, wet_beach)

from conftest import run_cli


# ------------------------------------------------------------------------------------------ field solvers


def test_potential_flow_in_a_straight_channel_is_uniform_along_it():
    region = np.zeros((12, 40), bool)
    region[3:9] = True
    source, sink = np.zeros_like(region), np.zeros_like(region)
    source[:, 0], sink[:, -1] = True, True
    field = potential_flow(region, source, sink)
    assert np.allclose(field[3:9, :, 0], 1 / 39, atol=1e-9)     # phi = 1 - x / 39
    assert np.abs(field[..., 1]).max() < 1e-9                    # nothing crosses the banks
    assert not field[~region].any()


def l_channel():
    """A channel that runs right along the top, then turns down: source at its left end, sink at its bottom."""
    region = np.zeros((40, 40), bool)
    region[2:10, 2:38] = True      # horizontal arm
    region[2:38, 30:38] = True     # vertical arm
    source, sink = np.zeros_like(region), np.zeros_like(region)
    source[2:10, 2] = True
    sink[37, 30:38] = True
    return region, source, sink


def test_potential_flow_is_tangent_to_the_banks_of_a_bent_channel():
    region, source, sink = l_channel()
    field = potential_flow(region, source, sink)
    top_bank, left_bank = field[2, 5:22], field[15:34, 30]   # away from the corner and the ends
    assert (top_bank[:, 0] > 0).all() and (np.abs(top_bank[:, 1]) < 0.05 * top_bank[:, 0]).all()
    assert (left_bank[:, 1] > 0).all() and (np.abs(left_bank[:, 0]) < 0.05 * left_bank[:, 1]).all()


def test_potential_flow_goes_around_a_rock_and_keeps_its_flux():
    region = np.ones((21, 60), bool)
    region[8:13, 28:33] = False    # a rock in the stream
    source, sink = np.zeros_like(region), np.zeros_like(region)
    source[:, 0], sink[:, -1] = True, True
    field = potential_flow(region, source, sink)
    assert (field[region][:, 0] > 0).all()                        # everything flows downstream
    assert field[7, 30, 1] < 0 < field[13, 30, 1] or abs(field[7, 30, 1]) < 1e-6   # the rock's sides
    assert field[7, 26, 1] < 0 and field[13, 26, 1] > 0                # water parts before the rock
    beside = field[:, 30, 0][region[:, 30]].mean()
    upstream = field[:, 10, 0].mean()
    assert beside > upstream                                       # faster where the channel narrows


def test_potential_flow_leaves_parts_without_source_or_sink_still():
    region = np.zeros((10, 30), bool)
    region[1:4] = True
    region[6:9] = True             # a second, closed part
    source, sink = np.zeros_like(region), np.zeros_like(region)
    source[1:4, 0], sink[1:4, -1] = True, True
    field = potential_flow(region, source, sink)
    assert not field[6:9].any() and field[1:4, :, 0].min() > 0


def test_principal_ends_orient_downhill():
    region = np.zeros((30, 30), bool)
    for k in range(26):
        region[k:k + 4, k:k + 4] = True                            # a diagonal channel, top left to bottom right
    first, last, axis = principal_ends(region)
    assert axis[1] > 0 and np.nonzero(first)[0].mean() < np.nonzero(last)[0].mean()


def test_ripples_are_bounded_and_drift_by_the_given_drift():
    region = np.zeros((40, 60), bool)
    region[10:] = True
    field = ripple_field(region, 0.3, (0.04, 0.0), seed=3)
    speed = np.linalg.norm(field, axis=-1)
    assert speed.max() <= 0.3 + 0.04 + 1e-6 and speed.max() > 0.2
    assert field[region].mean(0) == pytest.approx([0.04, 0.0], abs=1e-5)
    assert not field[~region].any()


def test_shore_waves_grow_with_distance_below_the_horizon():
    region = np.zeros((30, 20), bool)
    region[10:] = True
    field = shore_field(region, horizon=9.0, speed=2.0)
    assert field[29, 5, 1] == pytest.approx(2.0) and not field[..., 0].any()
    assert field[19, 5, 1] == pytest.approx(2.0 * (10 / 20) ** 2)


def test_waves_meet_a_slanted_shore_head_on_and_foreshorten_with_depth():
    # sea from row 10 (its far edge) down to a shore that climbs to the right: row 40 - x / 2
    h, w = 48, 40
    rows, cols = np.mgrid[:h, :w]
    region = (rows >= 10) & (rows < 40 - cols // 2)
    field = waves_field(region, horizon=9.0, speed=1.0)
    assert field[region][:, 1].min() >= 0                                  # toward the viewer everywhere
    shore = region & ~np.roll(region, -1, 0)
    near = field[shore & (cols > 4) & (cols < w - 4)]
    direction = near / np.linalg.norm(near, axis=-1, keepdims=True)
    normal = np.array([1.0, 2.0]) / math.sqrt(5.0)                         # the shore line y = 40 - x / 2
    assert (direction @ normal).mean() > 0.9                                # head on at the shore
    assert np.linalg.norm(field[39, 0]) == pytest.approx(1.0, abs=0.03)    # the nearest row: the speed
    # a uniform direction straight down: speed as (distance below the horizon) squared, motion in depth
    down = waves_field(region, horizon=9.0, speed=1.0, direction=(0.0, 1.0))
    assert down[24, 2, 1] == pytest.approx(((24 - 9) / (39 - 9)) ** 2, rel=1e-5)
    across = waves_field(region, horizon=9.0, speed=1.0, direction=(1.0, 0.0))
    assert across[24, 2, 0] == pytest.approx((24 - 9) / (39 - 9), rel=1e-5)  # across the view: linear


def rect_region(kind, pixels, direction=None):
    ys, xs = np.nonzero(pixels)
    return Region(1, kind, float(pixels.mean()), (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1),
                  (xs.mean(), ys.mean()), direction=direction)


def test_a_waterfall_falls_and_speeds_up():
    pixels = np.zeros((60, 40), bool)
    pixels[5:60, 15:25] = True
    field = water_field(rect_region("waterfall", pixels), pixels, 1.0)
    mean = field[pixels].mean(0)
    assert math.degrees(math.atan2(abs(mean[0]), mean[1])) < 5          # straight down
    assert field[50:58, 15:25, 1].mean() > 1.3 * field[8:16, 15:25, 1].mean()


def test_each_fall_of_a_region_pours_from_its_own_lip():
    # a tall fall on the left, a short one on the right, one pool joining them; streaks in both falls
    pixels = np.zeros((60, 80), bool)
    pixels[5:, 10:22] = True
    pixels[28:, 55:65] = True
    pixels[45:] = True
    lum = np.zeros((60, 80), np.float32)
    lum[:45, (np.arange(80) // 2) % 2 == 1] = 1.0
    region = rect_region("waterfall", pixels)
    with_lips = water_field(region, pixels, 1.0, luminance=lum)[28:45, 55:65]
    top_only = water_field(region, pixels, 1.0)[28:45, 55:65]
    assert with_lips[..., 1].mean() > 0.3 and abs(with_lips[..., 0]).mean() < 0.2 * with_lips[..., 1].mean()
    assert top_only[..., 1].mean() < 0.2 * with_lips[..., 1].mean()      # from the top lip it was left still


def test_a_river_follows_its_channel_and_a_given_direction_reverses_it():
    region, _, _ = l_channel()
    down = water_field(rect_region("river", region), region, 1.0)
    assert down[5, 10, 0] > 0 and down[30, 34, 1] > 0      # from its upper end toward the camera
    up = water_field(rect_region("river", region, direction=-90.0), region, 1.0)
    assert up[5, 10, 0] < 0 and up[30, 34, 1] < 0


# ------------------------------------------------------------------------------------------ kinds


def scene(height=72, width=96):
    photo = np.full((height, width, 3), 0.3, np.float32)
    moving = np.zeros((height, width), np.float32)
    return photo, moving


def test_kinds_of_tiny_synthetic_scenes():
    rng = np.random.default_rng(0)
    photo, moving = scene()
    moving[:20] = 1
    moving[22:] = 1                                                         # water right under the sky
    sky = np.zeros_like(moving)
    sky[:20] = 1
    photo[22:] = 0.2 + 0.05 * rng.random((50, 96, 1))                     # dark calm water
    # calm water out to the horizon is sea; under a far shore of land (sky farther than 6 % above) a lake
    assert [r.kind for r in find_regions(photo, moving, sky).regions] == ["sky", "sea"]
    far_shore, below_land = sky.copy(), moving.copy()
    far_shore[14:20] = below_land[14:20] = 0
    assert [r.kind for r in find_regions(photo, below_land, far_shore).regions] == ["sky", "lake"]
    far_shore[14:20, :60] = below_land[14:20, :60] = 1                      # the horizon over 60 % of it
    assert [r.kind for r in find_regions(photo, below_land, far_shore).regions] == ["sky", "sea"]
    photo[26:72:5] = 0.95                                                   # white surf lines
    assert [r.kind for r in find_regions(photo, moving, sky).regions] == ["sky", "sea"]
    beach = photo.copy()
    beach[56:] = 0.5                                                        # flat wet sand below the last line
    regions = find_regions(beach, moving, sky)
    assert [r.kind for r in regions.regions] == ["sky", "still", "sea"]
    assert (regions.labels[60:] == 2).all() and (regions.labels[30] == 3).all()
    moving[20:40] = 0                                                       # a far bank between: rapids
    assert [r.kind for r in find_regions(photo, moving, sky).regions] == ["sky", "river"]


def test_the_wet_beach_follows_a_slanting_swash_line_column_by_column():
    # a shore seen at an angle: the foam's lowest edge runs from row 40 (left) up to row 20 (right); the sand under
    # it is beach in every column, not only under the lowest surf line (the sand between would move as sea); in a
    # few columns the foam near the shore is sunlit glitter (not white): the line passes under them all the same
    h, w = 60, 41
    part = np.zeros((h, w), bool)
    part[5:] = True
    swash = np.round(40 - 20 * np.arange(w) / (w - 1)).astype(int)
    white = np.zeros_like(part)
    lum = np.zeros((h, w), np.float32)
    for col, row in enumerate(swash):
        white[row - 8:row + 1, col] = True                                  # the surf: 9 rows of foam
        lum[5:row - 8:2, col] = 1.0                                         # ripples above it, flat sand below
    white[:, 28:34] = False
    white[12, 28:34] = True                                                 # only far foam in the glitter
    beach = wet_beach(part, white, lum)
    first = np.argmax(beach, axis=0)                                        # each column's first beach row
    assert beach.any(0).all() and (np.abs(first - (swash + 2)) <= 1).all()  # right under the swash (its rounding)
    assert (beach == (np.arange(h)[:, None] >= first[None, :])).all()       # and all the sand below it


def test_upright_bands_measure_vertical_lines_in_closed_form():
    part = np.ones((48, 512), bool)
    posts = np.zeros((48, 512), np.float32)
    posts[:, ::8] = 1.0        # 64 vertical lines: Sobel gx = +-4 on both sides of each (one side of the first)
    bands = upright_bands(part, posts)
    assert [row for row, _, _ in bands] == [0, 12, 24, 36]
    for row, coherence, energy in bands[1:-1]:                  # away from the top and bottom edges: exact
        assert coherence == pytest.approx(1.0) and energy == pytest.approx((2 * 64 - 1) * 16 / 512)
    lines = np.zeros((48, 512), np.float32)
    lines[::6] = 1.0                         # horizontal lines (foreshortened waves): no horizontal gradient
    assert all(c == 0.0 and e == 0.0 for _, c, e in upright_bands(part, lines))
    noise = np.random.default_rng(0).random((48, 512)).astype(np.float32)
    # isotropic texture: the mean of gx down a run of 9 rows mostly cancels (Sobel's [1, 2, 1] smoothing
    # correlates neighbouring rows, so a bit more than 1 / 9 is left)
    assert all(1 / UPRIGHT_RUN < c < 0.3 for _, c, _ in upright_bands(part, noise)[1:-1])


def sea_under_a_town(texture):
    """A sea from row 20 (the horizon, sky above) to the bottom; the rows from 44 down hold ``texture``."""
    photo, moving = scene()
    moving[:18] = 1
    moving[20:] = 1
    sky = np.zeros_like(moving)
    sky[:18] = 1
    detail = np.full((72 * 512 // 96, 512), 0.3, np.float32)
    start = 44 * 512 // 96
    if texture == "posts":
        detail[start:, ::8] = 0.9                                            # buildings, trunks
    elif texture == "waves":
        detail[start::6] = 0.9                                               # wave crests along the rows
    return photo, moving, sky, detail


def test_upright_texture_in_front_of_a_sea_is_land_and_the_sea_keeps_its_depth():
    photo, moving, sky, detail = sea_under_a_town("posts")
    regions = find_regions(photo, moving, sky, detail=detail)
    assert [r.kind for r in regions.regions] == ["sky", "still", "sea"]
    still = regions.labels == 2
    first = int(np.nonzero(still.any(1))[0].min())
    assert 42 <= first <= 44 and still[first:].all()                       # from the town's top (its bands) down
    sea = regions.regions[2]
    assert (regions.labels[20:first] == 3).all() and sea.near == 71.0       # the sea's depth: its old near edge
    # a sea's speed holds at its near edge: cut short, its last row moves as that row did, not at full speed
    field = waves_field(regions.labels == 3, 19.0, 1.0, (0.0, 1.0), nearest=sea.near)
    assert field[first - 1, 10, 1] == pytest.approx(((first - 1 - 19) / (71 - 19)) ** 2, rel=1e-5)
    # waves (horizontal lines) and a smooth sea are water; so is a lake's upright texture (reflections of what
    # stands on its far shore): only a sea's far edge, the horizon, has nothing upright above it to mirror
    for texture in ("waves", "smooth"):
        photo, moving, sky, detail = sea_under_a_town(texture)
        assert [r.kind for r in find_regions(photo, moving, sky, detail=detail).regions] == ["sky", "sea"]
    photo, moving, sky, detail = sea_under_a_town("posts")
    sky[10:18] = moving[10:18] = 0                                           # a far shore of land: a lake
    assert [r.kind for r in find_regions(photo, moving, sky, detail=detail).regions] == ["sky", "lake"]
    assert land_in_front(np.ones((72, 96), bool), detail) is not None         # (the texture alone would cut it)


def test_a_small_compact_part_is_a_pond_and_a_small_long_one_a_channel():
    photo, moving = scene()
    rows, cols = np.mgrid[:72, :96]
    moving[(rows - 71) ** 2 + cols ** 2 <= 13 ** 2] = 1                      # a quarter disc in a corner: 2 %
    part = moving > 0.5
    assert part.mean() < 0.03 and elongation(part) < 1.5
    assert classify_water(part, photo)[0] == "lake"
    photo, moving = scene()
    moving[60:66, 40:96] = 1                                                  # a strip from the border: 4.9 % ...
    moving[60:66, 40:70] = 0                                                  # ... cut to 2.4 %, 26 x 6 px
    part = moving > 0.5
    assert part.mean() < 0.03 and elongation(part) > 1.5
    assert classify_water(part, photo)[0] == "river"


def test_a_piece_of_sea_at_the_horizon_is_sea_and_shares_the_seas_depth():
    # the horizon at row 20 is seen only on the left, between the sky and a headland (rows 20-39); the near sea
    # below the headland is open water with surf. The piece on the left is too narrow to be open water (40 % of
    # the width) but its far edge is the horizon: sea, whose speed holds at the near sea's nearest row
    photo, moving = scene()
    moving[:18] = 1
    moving[20:28, :40] = 1                                                   # the piece, 4.6 % of the photo
    moving[40:] = 1                                                          # the near sea
    photo[42:72:4] = 0.95                                                    # its surf, down to row 70
    sky = np.zeros_like(moving)
    sky[:18] = 1
    regions = find_regions(photo, moving, sky)
    assert [r.kind for r in regions.regions] == ["sky", "sea", "sea"]
    assert "horizon" in regions.regions[1].why and [r.near for r in regions.regions[1:]] == [71.0, 71.0]
    velocity = kind_velocity(torch.zeros(1, 2, 72, 96), None, regions)
    speed = velocity[0].norm(dim=0).numpy() * 96 / 2                         # working px per frame
    assert speed[27, 5] < 0.1 * speed[71, 5]                                 # the far piece barely moves
    moving[40:] = 0
    assert [r.kind for r in find_regions(photo, moving, sky).regions][1] == "sea"
    sky[:] = 0                                                               # land above its far edge: a channel
    moving[:18] = 0
    assert [r.kind for r in find_regions(photo, moving, sky).regions] == ["river"]


def test_a_tall_white_band_between_rock_is_a_waterfall_and_a_channel_a_river():
    photo, moving = scene()
    moving[0:60, 40:52] = 1                                                 # the fall
    moving[55:, 20:80] = 1                                                  # its pool
    photo[0:60, 40:52] = 0.95
    part = moving > 0.5
    assert classify_water(part, photo)[0] == "waterfall"
    photo, moving = scene()
    for k in range(60):
        moving[k + 8:k + 13, k + 20:k + 30] = 1                             # a diagonal channel
    assert classify_water(moving > 0.5, photo)[0] == "river"


def test_sand_yellower_than_the_sky_a_sea_mirrors_is_land_with_what_it_cuts_off():
    # a blue sea from the horizon (row 20) to a dry beach (rows 50-72) with grey umbrellas on it and a grey plaza
    # at its bottom right cut off from the sea: the segmenter took them all for sea
    photo, moving = scene()
    sky = np.zeros_like(moving)
    sky[:20] = moving[:20] = 1
    moving[20:] = 1
    photo[:20] = (0.45, 0.6, 0.9)                                           # blue sky (b* < 0)
    photo[20:50] = (0.1, 0.3, 0.5)                                          # blue water
    photo[50:] = (0.8, 0.7, 0.45)                                           # sand (b* ~ +27)
    photo[56:58, 20:23] = photo[60:62, 40:43] = 0.5                         # umbrellas
    photo[64:, 70:90] = 0.4                                                 # a grey plaza
    regions = find_regions(photo, moving, sky)
    assert [r.kind for r in regions.regions] == ["sky", "still", "sea"]
    still, sea = regions.labels == 2, regions.labels == 3
    assert still[50:].all() and not still[:50].any() and sea[20:50].all()
    # the same beach under a sunset sky as yellow as the sand: colour cannot tell, the sea keeps it
    photo[:20] = (0.95, 0.75, 0.4)
    assert [r.kind for r in find_regions(photo, moving, sky).regions] == ["sky", "sea"]
    # and a lake (its far edge under land, which it may mirror) is not cut by colour
    photo[:20] = (0.45, 0.6, 0.9)
    moving[14:20] = sky[14:20] = 0
    assert [r.kind for r in find_regions(photo, moving, sky).regions] == ["sky", "lake"]


def fall_and_river(river_rows, river_cols):
    """A white fall (rows 0-50, columns 60-72) into its pool (rows 45-60, columns 42-82) and a dark river part."""
    photo, moving = scene()
    moving[0:50, 60:72] = 1
    moving[45:60, 42:82] = 1
    photo[0:50, 60:72] = 0.95
    moving[river_rows, river_cols] = 1
    regions = find_regions(photo, moving, np.zeros_like(moving))                # a sky matte that found no sky
    assert [r.kind for r in regions.regions] == ["waterfall", "river"]
    river = regions.regions[1]
    return river, water_field(river, regions.labels == river.index, 1.0)


def test_a_river_at_a_fall_drains_its_pool_or_feeds_its_lip():
    # leaving the pool to the left (2 px of land between): it runs left, away from the fall; its principal axis
    # alone (pointing right) would have run it right, into the pool
    river, field = fall_and_river(slice(52, 58), slice(0, 40))
    assert river.direction == pytest.approx(180.0, abs=1.0) and "drains" in river.why
    assert field[53:57, 3:36, 0].max() < 0 and abs(field[53:57, 3:36, 1]).max() < 0.2 * abs(field[53:57, 3:36, 0]).min()
    # meeting the fall at its top from the right: it feeds the fall, so it runs left, toward the lip
    river, field = fall_and_river(slice(0, 6), slice(74, 96))
    assert river.direction == pytest.approx(180.0, abs=1.0) and "feeds" in river.why
    assert field[1:5, 78:92, 0].max() < 0
    # far from any fall (10 % of the width away) the river keeps its own default
    river, field = fall_and_river(slice(52, 58), slice(0, 30))
    assert river.direction is None and field[53:57, 3:27, 0].min() > 0


def test_a_small_enclosed_blob_is_not_water_but_a_large_one_is():
    photo, moving = scene()
    moving[30:36, 40:50] = 1                                                # 0.9 % of the photo, inside rock
    region = find_regions(photo, moving, np.zeros_like(moving)).regions[0]
    assert region.kind == "still"
    photo, moving = scene()
    moving[20:50, 20:70] = 1                                                # 22 %: a pond
    assert find_regions(photo, moving, np.zeros_like(moving)).regions[0].kind != "still"


def test_without_a_sky_matte_every_part_keeps_the_learned_motion():
    photo, moving = scene()
    moving[40:] = 1
    assert [r.kind for r in find_regions(photo, moving, None).regions] == ["sky"]


# ------------------------------------------------------------------------------------------ user kinds


def two_regions():
    labels = np.zeros((20, 30), np.int32)
    labels[:6] = 1
    labels[14:] = 2
    regions = [Region(1, "sky", 0.3, (0, 0, 30, 6), (15, 3)), Region(2, "lake", 0.3, (0, 14, 30, 20), (15, 17))]
    return RegionMap(labels, regions, (200, 300)), (labels > 0).astype(np.float32)


def test_a_point_sets_the_kind_of_the_region_under_it():
    regions, moving = two_regions()
    out = apply_user_kinds(regions, [parse_kind_point("river@150,170,180")], moving)
    assert [(r.kind, r.source) for r in out.regions] == [("sky", "auto"), ("river", "point")]
    assert out.regions[1].direction == 180.0
    assert regions.regions[1].kind == "lake"                                  # the input is not changed


def test_a_mask_carves_a_region_of_its_kind():
    regions, moving = two_regions()
    mask = np.zeros((100, 150), np.float32)
    mask[60:, 50:100] = 1                                                     # the middle of the lake
    out = apply_user_kinds(regions, [KindMask("fountain", mask)], moving)
    assert [r.kind for r in out.regions] == ["sky", "lake", "fountain"]
    assert (out.labels[14:, 10:20] == 3).all() and (out.labels[14:, :5] == 2).all()


@pytest.mark.parametrize("spec, message", [
    ("volcano@1,2", "unknown kind 'volcano'"),
    ("lake@nan,2", "is not a finite number"),
    ("lake@1,inf", "is not a finite number"),
    ("lake@1,2,nan", "is not a finite number"),
    ("lake@1", "expected KIND@X,Y"),
    ("lake@a,2", "'a' is not a number"),
])
def test_bad_kind_points_are_one_line_errors(spec, message):
    with pytest.raises(OptionError, match=message):
        parse_kind_point(spec)


def test_points_outside_the_photo_or_on_no_region_are_errors():
    regions, moving = two_regions()
    with pytest.raises(OptionError, match="outside the photo"):
        apply_user_kinds(regions, [KindPoint("lake", 300, 10)], moving)
    with pytest.raises(OptionError, match="no moving region there"):
        apply_user_kinds(regions, [KindPoint("lake", 150, 100)], moving)


def test_kind_speeds_parse_and_refuse_bad_values():
    assert parse_kind_speeds(["waterfall=2", "lake=0"])["waterfall"] == 2.0
    assert parse_kind_speeds({"sea": 0.25})["sea"] == 0.25
    for bad, message in (("sea=nan", "not a finite"), ("sea=-1", "between 0"), ("lava=1", "unknown kind"),
                         ("sea", "expected KIND=SPEED"), ({"sea": float("inf")}, "finite")):
        with pytest.raises(OptionError, match=message):
            parse_kind_speeds(bad)


def test_a_kind_mask_that_is_no_image_is_a_one_line_error(tmp_path):
    bad = tmp_path / "mask.png"
    bad.write_text("not an image")
    with pytest.raises(CinescapeError, match="--kind-mask"):
        parse_kind_mask(f"lake:{bad}")
    with pytest.raises(OptionError, match="expected KIND:MASK"):
        parse_kind_mask("lake")


# ------------------------------------------------------------------------------------------ the velocity


def test_kind_velocity_moves_a_waterfall_down_on_screen_keeps_the_sky_and_stops_still_regions():
    h, w = 48, 64
    labels = np.zeros((h, w), np.int32)
    labels[:10] = 1                          # sky
    labels[10:48, 28:36] = 2                 # a fall
    labels[20:24, 2:8] = 3                   # false water
    pixels = [labels == k for k in (1, 2, 3)]
    regions = RegionMap(labels, [rect_region("sky", pixels[0]), rect_region("waterfall", pixels[1]),
                                 rect_region("still", pixels[2])], (h, w))
    for index, region in enumerate(regions.regions, 1):
        region.index = index
    network = torch.full((1, 2, h, w), 0.01)
    velocity = kind_velocity(network, None, regions)
    # sky: the learned motion's direction, at SKY_SPEED px per frame at 512 px wide (median over the sky)
    sky = velocity[0, :, :10]
    assert torch.allclose(sky[0], sky[1]) and bool((sky > 0).all())          # the network's direction
    speed_512 = torch.hypot(sky[0] * w / 2, sky[1] * h / 2) * 512 / w
    assert torch.allclose(speed_512, torch.full_like(speed_512, SKY_SPEED), rtol=1e-4)
    slower = kind_velocity(network, None, regions, {"sky": 0.5}, scale=2.0)[0, :, :10]
    assert torch.allclose(slower, sky, rtol=1e-5)                                 # factor x scale
    assert not velocity[0, :, 20:24, 2:8].any()                                # still
    # a horizontal line in the fall moves down: frame t samples the photo at x + t * velocity
    image = torch.zeros(1, 1, h, w)
    image[0, 0, 25, :] = 1.0
    moved = warp(image, 5 * velocity)
    rows = moved[0, 0, :, 30]
    assert 25 < float((rows * torch.arange(h)).sum() / rows.sum()) < 40
    speed_512 = float(-velocity[0, 1, 30:46, 28:36].mean()) * h / 2 * 512 / w  # px per frame at 512 px wide
    assert speed_512 >= 0.5


def test_the_sky_speed_is_measured_on_the_sky_not_on_the_still_land_nearest_to_it():
    # the land (no region, the network's motion masked to zero there) is nearest to the sky; were it counted, the
    # median would fall and the clouds would speed up by the land's share (7 px/frame on scg_lhq_0002231)
    h, w = 48, 64
    labels = np.zeros((h, w), np.int32)
    labels[:20] = 1
    regions = RegionMap(labels, [rect_region("sky", labels == 1)], (h, w))
    regions.regions[0].index = 1
    network = torch.zeros((1, 2, h, w))
    network[0, 0, :20] = torch.linspace(0.01, 0.02, 20)[:, None]     # faster toward the top, only in the sky
    velocity = kind_velocity(network, None, regions)
    speed_512 = (velocity[0, 0, :20] * w / 2 * 512 / w).abs()
    assert float(speed_512.median()) == pytest.approx(SKY_SPEED, rel=0.03)
    assert float(speed_512.max() / speed_512.min()) == pytest.approx(2.0, rel=1e-4)   # the pattern is kept
    assert not velocity[0, :, 20:].any()                                              # the land stays


def test_plan_exposes_regions_and_user_kinds(tiny_pipeline, photo):
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[:, 30:50] = 1
    animation = tiny_pipeline.plan(photo, num_frames=4, appearance=False, mask=mask,
                                   kinds=["waterfall@40,30"], kind_speeds={"waterfall": 2.0})
    assert [r.kind for r in animation.regions.regions] == ["waterfall"]
    forward_y = -animation.steps[1, 1][animation.regions.labels > 0]
    assert float(forward_y.mean()) > 0                                          # content moves down
    off = tiny_pipeline.plan(photo, num_frames=4, appearance=False, mask=mask, motion_by_kind=False)
    assert off.regions is None
    with pytest.raises(OptionError, match="no moving region there"):
        tiny_pipeline.plan(photo, num_frames=4, appearance=False, mask=mask, kinds=["lake@5,5"])


@pytest.mark.parametrize("extra, message", [
    (["--kind", "volcano@3,3"], "unknown kind 'volcano'"),
    (["--kind", "lake@500,3"], "outside the photo"),
    (["--kind", "lake@2,2"], "no moving region there"),
    (["--kind", "lake@nan,3"], "not a finite number"),
    (["--kind-speed", "sea=inf"], "finite"),
    (["--kind-mask", "lake:missing.png"], "--kind-mask"),
])
def test_cli_kind_errors_are_one_line_with_no_output(model_dir, photo_path, tmp_path, capsys, extra, message):
    mask = np.zeros((58, 81), np.uint8)
    mask[:, 30:50] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "loop.mp4"
    code, err = run_cli(["animate", photo_path, "-o", out, "--frames", 4, "--model", model_dir, "-q",
                         "--mask", tmp_path / "mask.png", *extra], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("cinescape: error:") and message in lines[0], err
    assert not out.exists()


def test_cli_kind_animates(model_dir, photo_path, tmp_path, capsys):
    mask = np.zeros((58, 81), np.uint8)
    mask[:, 30:50] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "loop.mp4"
    code, err = run_cli(["animate", photo_path, "-o", out, "--frames", 4, "--model", model_dir, "-q",
                         "--mask", tmp_path / "mask.png", "--kind", "river@40,30,90", "--kind-speed", "river=1"],
                        capsys)
    assert code == 0, err
    assert out.stat().st_size > 0
