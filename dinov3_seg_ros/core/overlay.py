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

"""Drawing: class palette, colored mask, alpha blend, names per region, untrained banner.

Pure functions: inputs are never modified; every function returns a new uint8 RGB image
(render_overlay draws on its own blend). One pass each over the frame: a palette lookup,
one blend, one connected-components pass for all classes at once.
"""

import colorsys
from typing import List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

GOLDEN_RATIO = 0.6180339887498949
BACKGROUND_NAMES = frozenset({'background', '__background__', 'unlabeled', 'unlabelled',
                              'void'})
BANNER_TEXT = 'UNTRAINED WEIGHTS'
BANNER_COLOR = (200, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX
# Names are placed on a label map of at most this long side (a strided view, no resize).
REGION_MAP_SIDE = 320


class RegionLabel(NamedTuple):
    """Where a class name goes: the class, a pixel (x, y) inside the region, its area."""

    class_id: int
    x: int
    y: int
    area: int


def palette(num_classes: int) -> np.ndarray:
    """(num_classes, 3) uint8 RGB colors: golden-ratio hues, saturation x value in 9 steps.

    Deterministic and prefix-stable (palette(n)[:m] == palette(m)), so a class keeps its color.
    """
    colors = np.empty((max(0, num_classes), 3), np.uint8)
    for i in range(num_classes):
        hue = (i * GOLDEN_RATIO) % 1.0
        saturation = (1.0, 0.6, 0.8)[i % 3]
        value = (1.0, 0.7, 0.85)[(i // 3) % 3]
        rgb = colorsys.hsv_to_rgb(hue, saturation, value)
        colors[i] = [int(round(255 * c)) for c in rgb]
    return colors


def background_ids(class_names: Sequence[str]) -> List[int]:
    """Ids of the background-like classes ('background', 'void', ...; any case)."""
    return [i for i, name in enumerate(class_names) if name.strip().lower() in BACKGROUND_NAMES]


def class_palette(class_names: Sequence[str]) -> np.ndarray:
    """palette(len(class_names)) with background-like classes ('background', ...) black."""
    colors = palette(len(class_names))
    colors[background_ids(class_names)] = 0
    return colors


def colorize(labels: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """(H, W) class ids -> (H, W, 3) uint8 RGB palette image (ids past the palette clip)."""
    if labels.dtype == np.uint8:
        table = np.zeros((256, 1, 3), np.uint8)
        table[:min(256, len(colors)), 0] = colors[:256]
        table[len(colors):, 0] = colors[-1] if len(colors) else 0
        return cv2.applyColorMap(np.ascontiguousarray(labels), table)
    return np.take(colors, labels, axis=0, mode='clip')


def blend(rgb: np.ndarray, colored: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """(1 - alpha) * rgb + alpha * colored, rounded and saturated to uint8."""
    alpha = float(min(1.0, max(0.0, alpha)))
    return cv2.addWeighted(np.ascontiguousarray(rgb), 1.0 - alpha,
                           np.ascontiguousarray(colored), alpha, 0.0)


def region_label_points(labels: np.ndarray, min_fraction: float = 0.01,
                        max_regions: int = 16, skip: Sequence[int] = ()
                        ) -> List[RegionLabel]:
    """One point per connected region of one class covering >= min_fraction of the frame.

    All classes at once: pixels whose right or lower neighbour has another class are cut,
    so the 4-connected components of the rest never span two classes. Each point is the
    distance-transform maximum of its component: inside it, as far from its border as
    possible (a class with two blobs gets two points, one in each). Largest regions first.
    """
    step = max(1, -(-max(labels.shape) // REGION_MAP_SIDE))
    small = np.ascontiguousarray(labels[::step, ::step])
    keep = np.ones(small.shape, bool)
    keep[:, :-1] &= small[:, :-1] == small[:, 1:]
    keep[:-1] &= small[:-1] == small[1:]
    for class_id in skip:
        keep &= small != class_id
    count, components, stats, _ = cv2.connectedComponentsWithStats(
        keep.view(np.uint8), connectivity=4, ltype=cv2.CV_32S)
    min_area = max(4, int(min_fraction * small.size))
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(-areas, kind='stable')[:max_regions]
    points = []
    for index in order[areas[order] >= min_area] + 1:
        x, y, w, h = stats[index, :4]
        mask = (components[y:y + h, x:x + w] == index).astype(np.uint8)
        padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
        distance = cv2.distanceTransform(padded, cv2.DIST_L2, 3)
        py, px = np.unravel_index(int(np.argmax(distance)), distance.shape)
        sy, sx = y + py - 1, x + px - 1
        points.append(RegionLabel(int(small[sy, sx]), int(sx * step), int(sy * step),
                                  int(stats[index, cv2.CC_STAT_AREA]) * step * step))
    return points


def _font_scale(height: int, width: int) -> float:
    return float(min(1.2, max(0.4, min(height, width) / 800.0)))


def _put_text(image: np.ndarray, text: str, x: int, y: int, scale: float, top: int = 0) -> None:
    """Draw white text on a black box centred on (x, y), kept inside the image below row top."""
    thickness = max(1, int(round(scale * 1.5)))
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thickness)
    height, width = image.shape[:2]
    pad = max(1, th // 4)
    left = int(min(max(pad, x - tw // 2), max(pad, width - tw - pad)))
    lowest = top + th + 2 * pad if top else th + pad  # the box's top stays below row top
    bottom = int(min(max(lowest, y + th // 2), max(lowest, height - base - pad)))
    cv2.rectangle(image, (left - pad, bottom - th - pad), (left + tw + pad, bottom + base),
                  (0, 0, 0), cv2.FILLED)
    cv2.putText(image, text, (left, bottom), FONT, scale, (255, 255, 255), thickness,
                cv2.LINE_AA)


def _draw_names(image: np.ndarray, points: Sequence[RegionLabel],
                class_names: Sequence[str], top: int = 0) -> None:
    scale = _font_scale(*image.shape[:2])
    for point in points:
        name = class_names[point.class_id] if point.class_id < len(class_names) else str(
            point.class_id)
        _put_text(image, name, point.x, point.y, scale, top)


def draw_region_names(image: np.ndarray, points: Sequence[RegionLabel],
                      class_names: Sequence[str]) -> np.ndarray:
    """Copy of image with each point's class name centred on it (white, black outline)."""
    out = np.array(image, dtype=np.uint8, copy=True, order='C')
    _draw_names(out, points, class_names)
    return out


def _banner_layout(height: int, width: int, text: str) -> Tuple[float, int, int, int, int]:
    """(scale, thickness, text width, text height, bar rows) of the banner on a frame."""
    scale = _font_scale(height, width)
    thickness = max(1, int(round(scale * 2)))
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thickness)
    if tw > 0.95 * width:  # shrink to fit narrow frames
        scale *= 0.95 * width / tw
        thickness = 1
        (tw, th), base = cv2.getTextSize(text, FONT, scale, thickness)
    return scale, thickness, tw, th, min(height, th + base + 2 * max(2, th // 2))


def banner_rows(height: int, width: int, text: str = BANNER_TEXT) -> int:
    """Rows the banner covers at the top of a (height, width) frame."""
    return _banner_layout(height, width, text)[4]


def _draw_banner(image: np.ndarray, text: str) -> None:
    height, width = image.shape[:2]
    scale, thickness, tw, th, bar = _banner_layout(height, width, text)
    image[:bar] = BANNER_COLOR
    cv2.putText(image, text, ((width - tw) // 2, (bar + th) // 2), FONT, scale,
                (255, 255, 255), thickness, cv2.LINE_AA)


def draw_banner(image: np.ndarray, text: str = BANNER_TEXT) -> np.ndarray:
    """Copy of image with a red bar across the top carrying text (the untrained warning)."""
    out = np.array(image, dtype=np.uint8, copy=True, order='C')
    _draw_banner(out, text)
    return out


def render_overlay(rgb: np.ndarray, labels: np.ndarray, colors: np.ndarray,
                   class_names: Sequence[str], alpha: float = 0.5, draw_labels: bool = True,
                   untrained: bool = False, colored: Optional[np.ndarray] = None) -> np.ndarray:
    """(H, W, 3) RGB + (H, W) labels -> the blended overlay with names and banner.

    colored, when already computed, is reused instead of a second palette lookup.
    Background-like classes get no name.
    """
    if colored is None:
        colored = colorize(labels, colors)
    out = blend(rgb, colored, alpha)
    if draw_labels:  # names stay out of the banner's rows
        top = banner_rows(*out.shape[:2]) if untrained else 0
        _draw_names(out, region_label_points(labels, skip=background_ids(class_names)),
                    class_names, top)
    if untrained:
        _draw_banner(out, BANNER_TEXT)
    return out
