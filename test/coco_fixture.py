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

"""A small synthetic dataset written in the real COCO panoptic format, with its ground truth.

Layout (as downloaded from cocodataset.org):
    root/<split>/<012d>.jpg                      RGB images
    root/annotations/panoptic_<split>.json       images, annotations (segments_info), categories
    root/annotations/panoptic_<split>/<012d>.png segment ids, id = R + 256 G + 65536 B

Every category has its own base color and stripe texture in the images, so a head can learn it.
Regions are rectangles on an 8 px grid; stuff is one segment per category and image, every
thing rectangle is its own instance. Void comes as id-0 rectangles and as one drawn segment
that segments_info does not list; one thing segment is a crowd.
"""

from dataclasses import dataclass, field
import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

# (COCO id, name, isthing, supercategory): real COCO ids, non-contiguous, things and stuff.
DEFAULT_CATEGORIES: Tuple[Tuple[int, str, int, str], ...] = (
    (92, 'banner', 0, 'textile'),
    (1, 'person', 1, 'person'),
    (184, 'tree-merged', 0, 'plant'),
    (7, 'train', 1, 'vehicle'),
    (2, 'bicycle', 1, 'vehicle'),
    (199, 'wall-other-merged', 0, 'wall'),
)
# Well separated base colors (RGB), one per category in DEFAULT_CATEGORIES order and beyond.
PALETTE = ((230, 40, 40), (40, 200, 60), (40, 70, 230), (235, 220, 40), (200, 50, 220),
           (40, 220, 220), (250, 140, 20), (120, 120, 120), (20, 20, 20), (250, 250, 250))
GRID = 8


@dataclass
class SyntheticCoco:
    """What write_synthetic_coco_panoptic wrote and the ground truth to check against.

    truth maps each panoptic PNG file name to an (H, W) int64 array of COCO category ids,
    0 for void; crowd lists (png file name, segment id) of the crowd segments.
    """

    root: str
    split: str
    categories: List[dict]
    image_files: List[str]
    panoptic_files: List[str]
    truth: Dict[str, np.ndarray] = field(default_factory=dict)
    crowd: List[Tuple[str, int]] = field(default_factory=list)

    @property
    def json_path(self) -> str:
        """The annotations JSON file."""
        return os.path.join(self.root, 'annotations', f'panoptic_{self.split}.json')

    @property
    def panoptic_dir(self) -> str:
        """The folder of the RGB-encoded panoptic PNGs."""
        return os.path.join(self.root, 'annotations', f'panoptic_{self.split}')

    @property
    def image_dir(self) -> str:
        """The folder of the images."""
        return os.path.join(self.root, self.split)

    @property
    def category_ids(self) -> List[int]:
        """COCO category ids in ascending order (the class order of the converter)."""
        return sorted(c['id'] for c in self.categories)

    def class_names(self, void: str = 'ignore') -> List[str]:
        """Return the expected class_names.txt lines for a void mode."""
        by_id = {c['id']: c['name'] for c in self.categories}
        names = [by_id[i] for i in self.category_ids]
        return ['background'] + names if void == 'background' else names

    def expected_labels(self, file_name: str, void: str = 'ignore') -> np.ndarray:
        """Return the (H, W) uint8 semantic label the converter must write for one PNG."""
        lut = {cat: index for index, cat in enumerate(self.category_ids)}
        cats = self.truth[file_name]
        offset, void_value = (1, 0) if void == 'background' else (0, 255)
        out = np.full(cats.shape, void_value, np.uint8)
        for cat, index in lut.items():
            out[cats == cat] = index + offset
        return out


def _texture(height: int, width: int, kind: int) -> np.ndarray:
    """Make a zero-mean (H, W) pattern: stripes of several orientations or checkers."""
    ys, xs = np.mgrid[0:height, 0:width]
    patterns = (np.zeros((height, width)), ((xs // 2) % 2) * 2 - 1.0,
                ((ys // 2) % 2) * 2 - 1.0, (((xs + ys) // 3) % 2) * 2 - 1.0,
                (((xs // 4) + (ys // 4)) % 2) * 2 - 1.0, ((xs // 3) % 2) * 2 - 1.0)
    return patterns[kind % len(patterns)]


def _encode_ids(ids: np.ndarray) -> np.ndarray:
    """(H, W) segment ids -> (H, W, 3) uint8 RGB with id = R + 256 G + 65536 B."""
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)


def _bbox_area(mask: np.ndarray) -> Tuple[List[int], int]:
    ys, xs = np.nonzero(mask)
    bbox = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
            int(ys.max() - ys.min() + 1)]
    return bbox, int(mask.sum())


def _random_rect(rng: np.random.Generator, height: int, width: int) -> Tuple[slice, slice]:
    cells_y, cells_x = max(1, height // GRID), max(1, width // GRID)
    h = int(rng.integers(2, max(3, cells_y // 2 + 2)))
    w = int(rng.integers(2, max(3, cells_x // 2 + 2)))
    y = int(rng.integers(0, max(1, cells_y - h + 1)))
    x = int(rng.integers(0, max(1, cells_x - w + 1)))
    return slice(y * GRID, (y + h) * GRID), slice(x * GRID, (x + w) * GRID)


def _layout(rng: np.random.Generator, cats: Sequence[Tuple[int, str, int, str]],
            height: int, width: int, index: int):
    """(H, W) segment ids and {segment id: (category id, iscrowd, listed)} for one image."""
    used = {0}

    def new_id() -> int:
        while True:
            value = int(rng.integers(1, 1 << 24))
            if value not in used:
                used.add(value)
                return value

    stuff = [c for c in cats if not c[2]]
    things = [c for c in cats if c[2]]
    stuff_ids: Dict[int, int] = {}
    segments: Dict[int, Tuple[int, int, bool]] = {}

    def stuff_segment(cat: int) -> int:
        if cat not in stuff_ids:
            stuff_ids[cat] = new_id()
            segments[stuff_ids[cat]] = (cat, 0, True)
        return stuff_ids[cat]

    ids = np.full((height, width), stuff_segment(stuff[index % len(stuff)][0]), np.int64)
    for n in range(int(rng.integers(3, 6))):
        cat = cats[int(rng.integers(0, len(cats)))] if n else things[index % len(things)]
        rect = _random_rect(rng, height, width)
        if cat[2]:
            seg = new_id()
            segments[seg] = (cat[0], 0, True)
        else:
            seg = stuff_segment(cat[0])
        ids[rect] = seg
    if index % 2 == 0:
        ids[_random_rect(rng, height, width)] = 0  # void: id 0
    if index == 1:
        ghost = new_id()  # drawn, but not listed in segments_info: void as well
        segments[ghost] = (things[0][0], 0, False)
        ids[_random_rect(rng, height, width)] = ghost
    present = set(np.unique(ids).tolist())
    segments = {k: v for k, v in segments.items() if k in present}
    if index == 0:
        thing_segments = [k for k, v in segments.items() if v[1] == 0 and v[2]
                          and v[0] in {c[0] for c in things}]
        if thing_segments:
            cat, _, listed = segments[thing_segments[0]]
            segments[thing_segments[0]] = (cat, 1, listed)
    return ids, segments


def _draw_image(rng: np.random.Generator, cats_by_id: Dict[int, int], cat_map: np.ndarray,
                ) -> np.ndarray:
    """(H, W, 3) uint8 RGB: each category its base color and texture, void random noise."""
    height, width = cat_map.shape
    image = rng.integers(0, 256, (height, width, 3)).astype(np.float64)
    for cat, slot in cats_by_id.items():
        mask = cat_map == cat
        if not mask.any():
            continue
        color = np.array(PALETTE[slot % len(PALETTE)], np.float64)
        pattern = _texture(height, width, slot)[..., None] * 35.0
        image[mask] = (color + pattern)[mask]
    image += rng.normal(0.0, 6.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_synthetic_coco_panoptic(root: str, split: str = 'val2017', n_images: int = 8,
                                  size: Tuple[int, int] = (96, 64), seed: int = 0,
                                  image_ext: str = '.jpg',
                                  categories: Optional[Sequence[Tuple[int, str, int, str]]] = None,
                                  ) -> SyntheticCoco:
    """Write n_images of size (width, height) in COCO panoptic layout under root.

    categories: (COCO id, name, isthing, supercategory) tuples; at least one thing and one
    stuff. The JSON lists them in the given (not sorted) order. Returns the ground truth.
    """
    cats = tuple(categories or DEFAULT_CATEGORIES)
    width, height = size
    rng = np.random.default_rng(seed)
    result = SyntheticCoco(
        root=str(root), split=split,
        categories=[{'id': c[0], 'name': c[1], 'isthing': c[2], 'supercategory': c[3]}
                    for c in cats],
        image_files=[], panoptic_files=[])
    os.makedirs(result.image_dir, exist_ok=True)
    os.makedirs(result.panoptic_dir, exist_ok=True)
    cats_by_id = {c[0]: slot for slot, c in enumerate(cats)}
    images, annotations = [], []
    for index in range(n_images):
        image_id = 1000 * (seed + 1) + index * 7 + 3
        stem = f'{image_id:012d}'
        ids, segments = _layout(rng, cats, height, width, index)
        cat_map = np.zeros((height, width), np.int64)
        segments_info = []
        for seg, (cat, crowd, listed) in sorted(segments.items()):
            mask = ids == seg
            if listed:
                cat_map[mask] = cat
                bbox, area = _bbox_area(mask)
                segments_info.append({'id': seg, 'category_id': cat, 'iscrowd': crowd,
                                      'bbox': bbox, 'area': area})
                if crowd:
                    result.crowd.append((stem + '.png', seg))
        rgb = _draw_image(rng, cats_by_id, cat_map)
        image_path = os.path.join(result.image_dir, stem + image_ext)
        params = [cv2.IMWRITE_JPEG_QUALITY, 95] if image_ext.lower() in ('.jpg', '.jpeg') else []
        if not cv2.imwrite(image_path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params):
            raise OSError(f'cannot write {image_path}')
        png_path = os.path.join(result.panoptic_dir, stem + '.png')
        if not cv2.imwrite(png_path, cv2.cvtColor(_encode_ids(ids), cv2.COLOR_RGB2BGR)):
            raise OSError(f'cannot write {png_path}')
        images.append({'id': image_id, 'file_name': stem + image_ext, 'width': width,
                       'height': height})
        annotations.append({'image_id': image_id, 'file_name': stem + '.png',
                            'segments_info': segments_info})
        result.image_files.append(stem + image_ext)
        result.panoptic_files.append(stem + '.png')
        result.truth[stem + '.png'] = cat_map
    with open(result.json_path, 'w') as stream:
        json.dump({'info': {'description': 'synthetic COCO panoptic fixture'},
                   'licenses': [], 'images': images, 'annotations': annotations,
                   'categories': result.categories}, stream)
    return result
