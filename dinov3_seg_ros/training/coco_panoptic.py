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

"""COCO panoptic (RGB-encoded segment ids + JSON) -> single-channel semantic label PNGs.

Class ids are contiguous in ascending COCO category-id order; crowd segments keep their
category. void='ignore': categories are 0..K-1 and void pixels 255. void='background':
0 is 'background' (void) and categories are 1..K (the upstream 134-class layout).
"""

from dataclasses import dataclass
import json
import os
from typing import List, Mapping, Sequence, Tuple

import cv2
import numpy as np

from dinov3_seg_ros.core.errors import ConfigError, ImageError
from dinov3_seg_ros.core.quiet_opencv import quiet_opencv

VOID_MODES = ('ignore', 'background')
IGNORE_INDEX = 255
CLASS_NAMES_FILE = 'class_names.txt'


@dataclass(frozen=True)
class ClassLayout:
    """Class names in label order, COCO category id -> label id, and the void label."""

    names: Tuple[str, ...]
    category_to_class: Mapping[int, int]
    void_value: int


@dataclass(frozen=True)
class ConversionJob:
    """One panoptic PNG to convert; segments maps segment id -> label id (void if absent)."""

    image_path: str
    panoptic_path: str
    out_path: str
    segments: Tuple[Tuple[int, int], ...]
    void_value: int


def class_layout(categories: Sequence[Mapping], void: str = 'ignore') -> ClassLayout:
    """Build the label layout from the JSON 'categories' list (any order)."""
    if void not in VOID_MODES:
        raise ConfigError(f'void: {void!r} is not one of {", ".join(VOID_MODES)}')
    by_id = {int(c['id']): str(c['name']) for c in categories}
    ids = sorted(by_id)
    offset = 1 if void == 'background' else 0
    if len(ids) + offset > IGNORE_INDEX:
        raise ConfigError(f'{len(ids)} categories do not fit in uint8 labels with void={void}')
    names = (('background',) if offset else ()) + tuple(by_id[i] for i in ids)
    return ClassLayout(names=names,
                       category_to_class={cat: index + offset for index, cat in enumerate(ids)},
                       void_value=0 if offset else IGNORE_INDEX)


def read_panoptic_json(path: str) -> dict:
    """Load panoptic_<split>.json; a missing, corrupt or incomplete file raises ConfigError."""
    try:
        with open(path, 'rb') as stream:
            data = json.loads(stream.read())
    except FileNotFoundError:
        raise ConfigError(f'annotations file not found: {path} (is the split name right? '
                          'COCO keeps annotations/panoptic_<split>.json)') from None
    except IsADirectoryError:
        raise ConfigError(f'{path} is a folder; expected the panoptic JSON file') from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f'corrupt JSON in {path}: {exc.msg} at line {exc.lineno} '
                          f'column {exc.colno} (char {exc.pos})') from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f'corrupt JSON in {path}: {exc}') from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: expected a JSON object at the top level')
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(data.get(key), list):
            raise ConfigError(f'{path}: missing the {key!r} list (not a COCO panoptic file?)')
    return data


def segment_ids(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB panoptic PNG -> (H, W) uint32 ids = R + 256 G + 65536 B."""
    rgb = rgb.astype(np.uint32)
    return rgb[..., 0] + (rgb[..., 1] << 8) + (rgb[..., 2] << 16)


def panoptic_to_semantic(rgb: np.ndarray, segments: Mapping[int, int],
                         void_value: int = IGNORE_INDEX) -> np.ndarray:
    """(H, W, 3) uint8 RGB panoptic PNG -> (H, W) uint8 labels.

    segments maps segment id -> label id; id 0 and ids not in segments become void_value.
    Vectorized: one binary search of every pixel's id among the listed ids (no per-segment
    pass over the image; about 3x faster than np.unique at 640x480).
    """
    ids = segment_ids(rgb)
    keys = np.array(sorted(k for k in segments if k), np.uint32)
    if not keys.size:
        return np.full(ids.shape, void_value, np.uint8)
    values = np.array([segments[int(k)] for k in keys] + [void_value], np.uint8)
    position = np.searchsorted(keys, ids)
    position[keys[np.minimum(position, keys.size - 1)] != ids] = keys.size
    return values[position]


def plan_conversion(coco_root: str, split: str, out_dir: str,
                    void: str = 'ignore') -> Tuple[ClassLayout, List[ConversionJob]]:
    """Read and check the JSON; one job per annotation (file names checked, nothing written)."""
    if not os.path.isdir(coco_root):
        what = 'is a file' if os.path.exists(coco_root) else 'does not exist'
        raise ConfigError(f'COCO root {coco_root} {what}; expected the folder holding '
                          'annotations/ and the image folders')
    json_path = os.path.join(coco_root, 'annotations', f'panoptic_{split}.json')
    data = read_panoptic_json(json_path)
    layout = class_layout(data['categories'], void)
    images = {img.get('id'): img for img in data['images'] if isinstance(img, dict)}
    panoptic_dir = os.path.join(coco_root, 'annotations', f'panoptic_{split}')
    image_dir = os.path.join(coco_root, split)
    jobs = []
    for ann in data['annotations']:
        try:
            file_name = str(ann['file_name'])
            image = images[ann['image_id']]
            segments = tuple((int(s['id']), _label_of(s, layout, json_path, file_name))
                             for s in ann['segments_info'])
            image_path = os.path.join(image_dir, str(image['file_name']))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f'{json_path}: malformed annotation '
                              f'{str(ann)[:120]!r} (missing or bad {exc})') from None
        panoptic_path = os.path.join(panoptic_dir, file_name)
        if not os.path.isfile(image_path):
            raise ImageError(f'image missing: {image_path} (listed in {json_path})')
        if not os.path.isfile(panoptic_path):
            raise ImageError(f'panoptic PNG missing: {panoptic_path} (listed in {json_path})')
        jobs.append(ConversionJob(image_path=image_path, panoptic_path=panoptic_path,
                                  out_path=os.path.join(out_dir, file_name),
                                  segments=segments, void_value=layout.void_value))
    return layout, jobs


def _label_of(segment: Mapping, layout: ClassLayout, json_path: str, file_name: str) -> int:
    category = int(segment['category_id'])
    if category not in layout.category_to_class:
        raise ConfigError(f'{json_path}: unknown category id {category} in segments_info of '
                          f'{file_name} (segment {segment.get("id")}); not in "categories"')
    return layout.category_to_class[category]


def image_size(path: str) -> Tuple[int, int]:
    """(width, height) of an image file from its header; ImageError if unreadable."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as image:
            return image.size
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageError(f'cannot read image {path}: {exc}') from None


def read_rgb_png(path: str) -> np.ndarray:
    """Read an 8-bit RGB PNG as (H, W, 3) uint8 RGB; ImageError if unreadable or not RGB."""
    with quiet_opencv():
        bgr = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if bgr is None:
        raise ImageError(f'cannot read panoptic PNG {path} (missing or corrupt)')
    if bgr.dtype != np.uint8 or bgr.ndim != 3 or bgr.shape[2] not in (3, 4):
        raise ImageError(f'panoptic PNG {path} is not 8-bit RGB (shape {bgr.shape}, '
                         f'{bgr.dtype})')
    return np.ascontiguousarray(bgr[..., 2::-1])


def write_png_atomic(path: str, array: np.ndarray) -> None:
    """Write a PNG under a temporary name, then rename: a killed run leaves no partial file."""
    ok, encoded = cv2.imencode('.png', array)
    if not ok:
        raise ImageError(f'cannot encode {path}')
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f'.{name}.{os.getpid()}.tmp')
    try:
        with open(tmp, 'wb') as stream:
            stream.write(encoded.tobytes())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def convert_job(job: ConversionJob) -> bool:
    """Convert one PNG; False when its output already exists (a finished file is skipped)."""
    if os.path.exists(job.out_path):
        return False
    rgb = read_rgb_png(job.panoptic_path)
    width, height = image_size(job.image_path)
    if rgb.shape[:2] != (height, width):
        raise ImageError(f'panoptic PNG {job.panoptic_path} is {rgb.shape[1]}x{rgb.shape[0]} '
                         f'but its image {job.image_path} is {width}x{height}')
    labels = panoptic_to_semantic(rgb, dict(job.segments), job.void_value)
    write_png_atomic(job.out_path, labels)
    return True


def write_class_names(out_dir: str, names: Sequence[str]) -> str:
    """Write out_dir/class_names.txt; ConfigError if one with other classes is already there."""
    path = os.path.join(out_dir, CLASS_NAMES_FILE)
    text = ''.join(f'{name}\n' for name in names)
    if os.path.exists(path):
        with open(path, encoding='utf-8') as stream:
            old = stream.read()
        if old != text:
            raise ConfigError(f'{path} holds other classes than this conversion '
                              f'({len(old.splitlines())} vs {len(names)} lines: another --void '
                              'mode or dataset?); delete that folder or choose another --out')
        return path
    tmp = os.path.join(out_dir, f'.{CLASS_NAMES_FILE}.{os.getpid()}.tmp')
    with open(tmp, 'w', encoding='utf-8') as stream:
        stream.write(text)
    os.replace(tmp, path)
    return path


def remove_stale_temporaries(out_dir: str) -> int:
    """Delete temporary files an interrupted run left in out_dir; returns how many."""
    stale = [n for n in os.listdir(out_dir) if n.startswith('.') and n.endswith('.tmp')]
    for name in stale:
        os.remove(os.path.join(out_dir, name))
    return len(stale)
