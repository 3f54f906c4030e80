# Copyright 2026 The dinov3_seg_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Palette, colored mask, blend, region names and the untrained banner of core.overlay."""

import numpy as np
import pytest

from dinov3_seg_ros.core.overlay import banner_rows, BANNER_COLOR, blend, class_palette, colorize
from dinov3_seg_ros.core.overlay import draw_banner, draw_region_names, palette
from dinov3_seg_ros.core.overlay import region_label_points, render_overlay

NAMES = ['background', 'person', 'car', 'dog', 'cat', 'tree']


def two_blob_labels(height=120, width=160):
    """Class 3 in two separate squares (its centroid lies between them), class 5 in one."""
    labels = np.zeros((height, width), np.uint8)
    labels[10 * height // 120:50 * height // 120, 10 * width // 160:50 * width // 160] = 3
    labels[70 * height // 120:110 * height // 120, 110 * width // 160:150 * width // 160] = 3
    labels[60 * height // 120:100 * height // 120, 10 * width // 160:40 * width // 160] = 5
    return labels


def test_palette_is_deterministic_and_prefix_stable():
    assert np.array_equal(palette(134), palette(134))
    assert np.array_equal(palette(134)[:20], palette(20))
    assert palette(134).dtype == np.uint8 and palette(134).shape == (134, 3)
    assert palette(1)[0].tolist() == [255, 0, 0]  # hue 0, full saturation and value


def test_palette_colors_are_distinct():
    colors = palette(134).astype(np.float64)
    distance = np.sqrt(((colors[:, None] - colors[None]) ** 2).sum(-1))
    np.fill_diagonal(distance, np.inf)
    assert distance.min() >= 20.0  # no two of the 134 COCO panoptic classes look alike
    assert len({tuple(c) for c in palette(134)}) == 134


def test_background_stays_dark():
    colors = class_palette(NAMES)
    assert colors[0].tolist() == [0, 0, 0]
    assert np.array_equal(colors[1:], palette(len(NAMES))[1:])


@pytest.mark.parametrize('dtype', [np.uint8, np.uint16])
def test_colorize_is_a_palette_lookup(dtype):
    labels = np.random.default_rng(0).integers(0, 6, (31, 47)).astype(dtype)
    colors = class_palette(NAMES)
    out = colorize(labels, colors)
    assert out.shape == (31, 47, 3) and out.dtype == np.uint8
    assert np.array_equal(out, colors[labels])


def test_blend_weights():
    rgb = np.full((4, 5, 3), 200, np.uint8)
    colored = np.zeros((4, 5, 3), np.uint8)
    colored[..., 1] = 100
    assert np.array_equal(blend(rgb, colored, 0.0), rgb)
    assert np.array_equal(blend(rgb, colored, 1.0), colored)
    half = blend(rgb, colored, 0.5).astype(int)
    assert np.all(np.abs(half - (rgb.astype(int) + colored) / 2) <= 1)


@pytest.mark.parametrize('size', [(120, 160), (720, 1300)])  # the second uses a strided map
def test_a_class_with_two_blobs_gets_a_name_inside_each(size):
    labels = two_blob_labels(*size)
    points = region_label_points(labels, skip=[0])
    dog = [p for p in points if p.class_id == 3]
    assert len(dog) == 2 and len([p for p in points if p.class_id == 5]) == 1
    for point in points:
        assert labels[point.y, point.x] == point.class_id  # inside its own region
    # one point in each blob: the left/top one and the right/bottom one
    assert sorted(p.x < size[1] // 2 for p in dog) == [False, True]
    # the upstream placement (class centroid) lands between the blobs, on background
    ys, xs = np.nonzero(labels == 3)
    assert labels[int(ys.mean()), int(xs.mean())] == 0


def test_names_are_drawn_at_the_points():
    labels = two_blob_labels()
    base = np.full((120, 160, 3), 90, np.uint8)
    points = region_label_points(labels, skip=[0])
    out = draw_region_names(base, points, NAMES)
    assert np.array_equal(base, np.full((120, 160, 3), 90, np.uint8))  # input untouched
    for point in points:
        patch = out[max(0, point.y - 6):point.y + 6, max(0, point.x - 12):point.x + 12]
        assert (patch == 255).any() and (patch == 0).any()  # white text on a black box


def test_points_are_inside_concave_regions():
    labels = np.zeros((100, 100), np.uint8)
    labels[10:90, 10:30] = 2   # an L shape: its centroid is outside it
    labels[70:90, 10:90] = 2
    (point,) = region_label_points(labels, skip=[0])
    assert point.class_id == 2 and labels[point.y, point.x] == 2


def test_small_regions_and_background_get_no_name():
    labels = np.zeros((200, 200), np.uint8)
    labels[5:9, 5:9] = 4        # 16 pixels: 0.04 % of the frame
    labels[100:180, 100:180] = 1
    points = region_label_points(labels, skip=[0])
    assert [p.class_id for p in points] == [1]
    assert 0 in [p.class_id for p in region_label_points(labels)]


def test_render_overlay_is_pure_and_complete(photos):
    rgb = photos['astronaut'][:120, :160].copy()
    labels = two_blob_labels()
    before = rgb.copy(), labels.copy()
    colors = class_palette(NAMES)
    plain = render_overlay(rgb, labels, colors, NAMES, draw_labels=False)
    named = render_overlay(rgb, labels, colors, NAMES)
    assert np.array_equal(rgb, before[0]) and np.array_equal(labels, before[1])
    assert plain.shape == rgb.shape and plain.dtype == np.uint8
    assert np.array_equal(plain, blend(rgb, colorize(labels, colors), 0.5))
    assert not np.array_equal(plain, named)
    reused = render_overlay(rgb, labels, colors, NAMES, colored=colorize(labels, colors))
    assert np.array_equal(reused, named)


def test_untrained_banner_is_visible():
    rgb = np.full((240, 320, 3), 30, np.uint8)
    labels = np.zeros((240, 320), np.uint8)
    colors = class_palette(NAMES)
    trained = render_overlay(rgb, labels, colors, NAMES)
    untrained = render_overlay(rgb, labels, colors, NAMES, untrained=True)
    top = untrained[:4].reshape(-1, 3)
    assert (top == BANNER_COLOR).all(axis=1).mean() > 0.9
    assert not (trained[:4].reshape(-1, 3) == BANNER_COLOR).all(axis=1).any()
    banner_rows = (untrained != trained).any(axis=(1, 2))
    assert banner_rows[:10].all() and not banner_rows[120:].any()
    assert (untrained[:30] == 255).any()  # the white text


def _black_pixels(image):
    return int((image == 0).all(axis=2).sum())


@pytest.mark.parametrize('size', [(120, 160), (480, 640)])
def test_names_are_not_hidden_under_the_untrained_banner(size):
    height, width = size
    bar = banner_rows(height, width)
    labels = np.full(size, 1, np.uint8)  # 'person' everywhere below ...
    labels[:bar + 8] = 2  # ... 'car' in a band whose centre lies under the banner
    rgb = np.full(size + (3,), 30, np.uint8)
    colors = class_palette(NAMES)
    car = [p for p in region_label_points(labels) if p.class_id == 2]
    assert len(car) == 1 and car[0].y < bar  # where the name would be drawn
    trained = render_overlay(rgb, labels, colors, NAMES)
    untrained = render_overlay(rgb, labels, colors, NAMES, untrained=True)
    assert (untrained[:bar] == BANNER_COLOR).all(axis=2).mean() > 0.8  # the banner is intact
    assert _black_pixels(untrained[:bar]) == 0  # no name box in the banner's rows
    # every name box (black) is fully visible below the banner: moved, not covered
    assert _black_pixels(trained) > 0
    assert _black_pixels(untrained[bar:]) == _black_pixels(trained)
    assert np.array_equal(render_overlay(rgb, labels, colors, NAMES, untrained=True,
                                         draw_labels=False)[:bar], untrained[:bar])


@pytest.mark.parametrize('size', [(1, 1), (12, 16), (40, 30)])
def test_banner_fits_tiny_frames(size):
    out = draw_banner(np.zeros(size + (3,), np.uint8))
    assert out.shape == size + (3,)
    assert (out[0] == BANNER_COLOR).all(axis=-1).any()
