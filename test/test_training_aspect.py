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


"""Aspect-preserving training: resize to cover, then crop; the loss size keeps the aspect."""

import cv2
import numpy as np
import torch

from dinov3_seg_ros.training.datasets import SemanticSegmentationDataset
from dinov3_seg_ros.training.losses import loss_size
from dinov3_seg_ros.training.transforms import aspect_crop, build_transforms
from test_training_folder_dataset import write_folder_dataset


def _ramp(height=48, width=96):
    """rgb channel 0 and the label both hold the column index: a crop shows its offset."""
    label = np.tile(np.arange(width, dtype=np.uint8), (height, 1))
    rgb = np.stack([label, label, label], -1)
    return rgb, label


def test_centre_crop_of_the_aspect_kept_resize():
    rgb, label = _ramp()
    out_rgb, out_label = aspect_crop(rgb, label, (32, 32), random_offset=False)
    assert out_rgb.shape == (32, 32, 3) and out_label.shape == (32, 32)
    expected = cv2.resize(label, (64, 32), interpolation=cv2.INTER_NEAREST)[:, 16:48]
    assert np.array_equal(out_label, expected)  # scale 2/3 on both axes, not squashed
    assert np.abs(out_rgb[..., 0].astype(int) - out_label.astype(int)).max() <= 2


def test_random_crops_vary_and_keep_image_and_label_aligned():
    rgb, label = _ramp()
    starts = set()
    for seed in range(12):
        torch.manual_seed(seed)
        out_rgb, out_label = aspect_crop(rgb, label, (32, 48), random_offset=True)
        assert out_label.shape == (32, 48)
        assert np.abs(out_rgb[..., 0].astype(int) - out_label.astype(int)).max() <= 2
        starts.add(int(out_label[0, 0]))
    assert len(starts) > 3  # 64 - 48 + 1 offsets


def test_keep_aspect_dataset_crops_at_random_only_when_augmenting(tmp_path):
    root = str(tmp_path / 'data')
    write_folder_dataset(root, 'train', 2, 0, size=(48, 96))
    common = dict(image_size='32x32', mean=(0.5,) * 3, std=(0.25,) * 3, layout='folder',
                  resize='keep_aspect')
    plain = SemanticSegmentationDataset(root, 'train', **common)
    squash = SemanticSegmentationDataset(root, 'train', **dict(common, resize='squash'))
    raw = cv2.imread(plain.samples[0][1], cv2.IMREAD_UNCHANGED)
    first = plain[0]['label']
    assert tuple(first.shape) == (32, 32) and torch.equal(first, plain[0]['label'])
    expected = cv2.resize(raw, (64, 32), interpolation=cv2.INTER_NEAREST)[:, 16:48]
    assert np.array_equal(first.numpy(), expected)
    assert not torch.equal(squash[0]['label'], first)
    augmenting = SemanticSegmentationDataset(
        root, 'train', transform=build_transforms({'hflip': 0.0001}, (32, 32)), **common)
    crops = set()
    for seed in range(8):
        torch.manual_seed(seed)
        crops.add(augmenting[0]['label'].numpy().tobytes())
    assert len(crops) > 1


def test_loss_target_size_is_the_long_side_and_keeps_the_aspect():
    assert loss_size(320, 640, 640) == (320, 320)
    assert loss_size(320, 480, 640) == (240, 320)
    assert loss_size(320, 640, 480) == (320, 240)
    assert loss_size(0, 480, 640) == (0, 0)
