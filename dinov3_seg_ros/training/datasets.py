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

"""Images + single-channel label PNGs (the dinov3-seg-prepare-coco layout) as a torch Dataset.

Layout: root/<split>/<stem>.jpg (or .jpeg, .png) images; root/semantic_<split>/<stem>.png
uint8 labels with ignore_index for void; root/semantic_<split>/class_names.txt, one name per
line in label order.
"""

import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from dinov3_seg_ros.core.checkpoint import read_class_names
from dinov3_seg_ros.core.config import InputSize
from dinov3_seg_ros.core.errors import ConfigError, ImageError
from dinov3_seg_ros.core.preprocess import (
    model_input_size, normalization_lut, normalize_rgb, PATCH_SIZE, resize_rgb)
from dinov3_seg_ros.core.quiet_opencv import quiet_opencv
from dinov3_seg_ros.training.coco_panoptic import CLASS_NAMES_FILE, image_size, IGNORE_INDEX
from dinov3_seg_ros.training.transforms import aspect_crop

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')
FOLDER_CLASSES_FILE = 'classes.txt'  # data.format folder: <root>/classes.txt
# transform(image (3, H, W) uint8, label (H, W) uint8) -> (image, label), same types.
JointTransform = Callable[[torch.Tensor, torch.Tensor], Tuple[torch.Tensor, torch.Tensor]]


def image_folder(root: str, split: str, layout: str = 'coco') -> str:
    """Return the image folder of a split: root/<split> (coco) or root/<split>/images (folder)."""
    return os.path.join(root, split, 'images') if layout == 'folder' else os.path.join(root, split)


def read_rgb(path: str) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB (EXIF orientation ignored, like the labels)."""
    with quiet_opencv():
        bgr = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None:
        raise ImageError(f'cannot read image {path} (missing or corrupt)')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_label(path: str) -> np.ndarray:
    """Read a single-channel 8-bit label PNG as (H, W) uint8; ImageError otherwise."""
    with quiet_opencv():
        label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise ImageError(f'cannot read label {path} (missing or corrupt)')
    if label.dtype != np.uint8 or label.ndim != 2:
        raise ImageError(f'label {path} is not a single-channel 8-bit PNG '
                         f'(shape {label.shape}, {label.dtype})')
    return label


class SemanticSegmentationDataset(Dataset):
    """Pairs root/<split>/<stem>.<ext> with root/semantic_<split>/<stem>.png.

    layout 'folder' (your own data) pairs root/<split>/images/<stem>.<ext> with
    root/<split>/masks/<stem>.png (uint8 class ids, ignore_index = void); the class names
    are root/classes.txt (one per line, line i = class id i) unless class_names_file is set.
    resize 'squash' (the upstream) resizes a fixed WxH image_size without keeping the
    aspect; 'keep_aspect' resizes to cover WxH with the aspect kept and crops (random crop
    with a transform, i.e. when augmenting; centred otherwise): transforms.aspect_crop.

    __getitem__ -> {'image': float32 (3, H, W) normalized with mean/std,
    'label': int64 (H, W) with ignore_index for void, 'path': image path} (plus
    'original_label': uint8 (H0, W0) at the file's resolution with original_labels=True).
    Images are resized like the inference preprocessing (core.preprocess: bilinear, box
    filter for large shrinks) and labels by nearest neighbour to image_size ('WxH', a long
    side like '640', 'native' = rounded to multiples of 16, an InputSize, or None for no
    resize); then transform (a JointTransform on uint8 tensors) runs, then normalization
    (the inference lookup table, bit for bit).
    """

    def __init__(self, root: str, split: str, *, transform: Optional[JointTransform] = None,
                 image_size: Union[str, InputSize, None] = '640x640',
                 mean: Sequence[float], std: Sequence[float], ignore_index: int = IGNORE_INDEX,
                 class_names_file: Optional[str] = None,
                 original_labels: bool = False, layout: str = 'coco',
                 resize: str = 'squash') -> None:
        self.original_labels = bool(original_labels)
        self.resize = resize
        self.root = str(root)
        self.split = split
        self.layout = layout
        self.image_dir = image_folder(self.root, split, layout)
        if layout == 'folder':
            self.label_dir = os.path.join(self.root, split, 'masks')
            default_names = os.path.join(self.root, FOLDER_CLASSES_FILE)
            self._hint = f'data.format folder: put {self.image_dir}, {self.label_dir}'
        else:
            self.label_dir = os.path.join(self.root, f'semantic_{split}')
            default_names = os.path.join(self.label_dir, CLASS_NAMES_FILE)
            self._hint = 'run or finish dinov3-seg-prepare-coco'
        self.transform = transform
        self.image_size = None if image_size is None else InputSize.parse(image_size)
        if self.image_size is not None and self.image_size.mode == 'fixed' and (
                self.image_size.width % PATCH_SIZE or self.image_size.height % PATCH_SIZE):
            raise ConfigError(f'image_size: {self.image_size} is not a multiple of {PATCH_SIZE}')
        if len(mean) != 3 or len(std) != 3 or any(s <= 0 for s in std):
            raise ConfigError(f'mean/std: expected 3 values each (std > 0), got {mean}, {std}')
        self.mean = torch.tensor([float(m) for m in mean]).view(3, 1, 1)
        self.std = torch.tensor([float(s) for s in std]).view(3, 1, 1)
        self._lut = normalization_lut(self.mean.flatten().tolist(), self.std.flatten().tolist())
        self.ignore_index = int(ignore_index)
        if not os.path.isdir(self.root):  # a wrong root or split, before anything else
            raise ConfigError(f'dataset folder not found: {self.root}')
        if not os.path.isdir(self.image_dir):
            raise ConfigError(f'image folder not found: {self.image_dir} (is the split '
                              f'{split!r} right?)')
        names_path = class_names_file or default_names
        if not os.path.isfile(names_path):
            raise ConfigError(f'class names file not found: {names_path} '
                              f'({self._hint} or set data.class_names_file)')
        self.class_names: List[str] = read_class_names(names_path)
        self.samples: List[Tuple[str, str]] = self._pair()

    @property
    def num_classes(self) -> int:
        """Number of classes (lines of class_names.txt)."""
        return len(self.class_names)

    def _pair(self) -> List[Tuple[str, str]]:
        if not os.path.isdir(self.label_dir):
            raise ConfigError(f'label folder not found: {self.label_dir} ({self._hint})')
        labels = set(os.listdir(self.label_dir))
        images = sorted(n for n in os.listdir(self.image_dir)
                        if n.lower().endswith(IMAGE_EXTENSIONS) and not n.startswith('.'))
        if not images:
            raise ConfigError(f'no images ({", ".join(IMAGE_EXTENSIONS)}) in {self.image_dir}')
        samples, missing = [], []
        for name in images:
            label = os.path.splitext(name)[0] + '.png'
            if label not in labels:
                missing.append(label)
            samples.append((os.path.join(self.image_dir, name),
                            os.path.join(self.label_dir, label)))
        if missing:
            raise ConfigError(f'{len(missing)} of {len(images)} images have no label in '
                              f'{self.label_dir} (first: {missing[0]}); {self._hint}')
        return samples

    def __len__(self) -> int:
        return len(self.samples)

    def output_size(self, height: int, width: int) -> Tuple[int, int]:
        """(H, W) of the samples made from an image of height x width (as at inference)."""
        if self.image_size is None:
            return height, width
        return model_input_size(height, width, self.image_size, PATCH_SIZE)

    def raw(self, index: int) -> Dict[str, object]:
        """{'image': (H, W, 3) uint8 RGB, 'label': (H, W) uint8, 'path'}, resized, no transform."""
        image_path, label_path = self.samples[index]
        rgb, label = read_rgb(image_path), read_label(label_path)
        if rgb.shape[:2] != label.shape:
            raise ImageError(f'label {label_path} is {label.shape[1]}x{label.shape[0]} but '
                             f'its image {image_path} is {rgb.shape[1]}x{rgb.shape[0]}')
        self._check_ids(label, label_path)
        original = label
        size = self.image_size
        if self.resize == 'keep_aspect' and size is not None and size.mode == 'fixed':
            rgb, label = aspect_crop(rgb, label, (size.height, size.width),
                                     self.transform is not None)
            return {'image': rgb, 'label': label, 'path': image_path, 'original_label': original}
        height, width = self.output_size(*label.shape)
        if (height, width) != label.shape:
            rgb = resize_rgb(rgb, height, width)
            label = cv2.resize(label, (width, height), interpolation=cv2.INTER_NEAREST)
        return {'image': rgb, 'label': label, 'path': image_path, 'original_label': original}

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        """(3, H, W) uint8 -> float32 (x / 255 - mean) / std, as core.preprocess computes it."""
        hwc = image.permute(1, 2, 0).numpy()
        return torch.from_numpy(normalize_rgb(hwc, self._lut)[0])

    def __getitem__(self, index: int) -> Dict[str, object]:
        sample = self.raw(index)
        image = torch.from_numpy(sample['image']).permute(2, 0, 1).contiguous()
        label = torch.from_numpy(sample['label'])
        if self.transform is not None:
            image, label = self.transform(image, label)
        item = {'image': self.normalize(image), 'label': label.long(), 'path': sample['path']}
        if self.original_labels:  # (H0, W0) uint8 label at the file's own resolution
            item['original_label'] = torch.from_numpy(sample['original_label'])
        return item

    def validate(self, check_values: bool = False) -> int:
        """Check every pair exists with equal sizes (and label ids if asked); returns the count.

        Raises ImageError naming the first bad file and how many are bad.
        """
        problems = []
        for image_path, label_path in self.samples:
            try:
                for path in (image_path, label_path):
                    if not os.path.isfile(path):
                        raise ImageError(f'missing: {path}')
                image_wh, label_wh = image_size(image_path), image_size(label_path)
                if image_wh != label_wh:
                    raise ImageError(f'label {label_path} is {label_wh[0]}x{label_wh[1]} but '
                                     f'its image {image_path} is {image_wh[0]}x{image_wh[1]}')
                if check_values:
                    self._check_ids(read_label(label_path), label_path)
            except ImageError as exc:
                problems.append(str(exc))
        if problems:
            more = f' (and {len(problems) - 1} more)' if len(problems) > 1 else ''
            raise ImageError(f'{len(problems)} of {len(self.samples)} samples are bad: '
                             f'{problems[0]}{more}')
        return len(self.samples)

    def _check_ids(self, label: np.ndarray, label_path: str) -> None:
        bad = (label >= self.num_classes) & (label != self.ignore_index)
        if bad.any():
            raise ImageError(f'label {label_path} holds ids {np.unique(label[bad])[:5].tolist()} '
                             f'outside 0..{self.num_classes - 1} and ignore {self.ignore_index}')
