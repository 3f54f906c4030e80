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
"""Device-side labels (torch, run here on CPU tensors) equal the numpy labels_from_logits."""

import numpy as np
import pytest
import torch

from dinov3_seg_ros.core import segmenter as segmenter_module
from dinov3_seg_ros.core.backends.base import ModelInfo
from dinov3_seg_ros.core.device_labels import device_labels, labels_to_host, on_accelerator
from dinov3_seg_ros.core.overlay import class_palette
from dinov3_seg_ros.core.postprocess import labels_from_logits
from dinov3_seg_ros.core.preprocess import ResizeInfo


def smooth_logits(num_classes, h, w, seed):
    """Low-frequency logits: class regions with boundaries, like a real head's output."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(size=(1, num_classes, max(2, h // 3), max(2, w // 3)))
    up = torch.nn.functional.interpolate(torch.from_numpy(coarse).float(), size=(h, w),
                                         mode='bilinear', align_corners=False)
    return up + 0.05 * torch.randn(up.shape)


@pytest.mark.parametrize('num_classes, h, w, height, width', [
    (2, 1, 1, 5, 7), (3, 4, 4, 4, 4), (7, 6, 8, 96, 128), (134, 12, 16, 180, 250),
    (300, 5, 9, 41, 37), (21, 9, 7, 8, 6)])
def test_device_labels_equal_numpy(num_classes, h, w, height, width):
    logits = smooth_logits(num_classes, h, w, seed=num_classes)
    expected = labels_from_logits(logits.numpy(), height, width)
    got = labels_to_host([logits], height, width)[0]
    assert got.dtype == expected.dtype == (np.uint8 if num_classes <= 256 else np.uint16)
    assert got.shape == (height, width)
    np.testing.assert_array_equal(got, expected)


def test_random_logits_every_cell_mixed_and_chunked(monkeypatch):
    monkeypatch.setattr('dinov3_seg_ros.core.device_labels.CHUNK_PIXELS', 1000)
    logits = torch.randn(1, 40, 10, 12)
    np.testing.assert_array_equal(device_labels(logits, 70, 90).numpy(),
                                  labels_from_logits(logits.numpy(), 70, 90))


def test_several_heads_in_one_transfer():
    heads = [smooth_logits(5, 6, 8, 1), smooth_logits(400, 6, 8, 2), smooth_logits(3, 6, 8, 3)]
    labels = labels_to_host(heads, 50, 60)
    assert [a.dtype for a in labels] == [np.uint8, np.uint16, np.uint8]
    for got, lg in zip(labels, heads):
        np.testing.assert_array_equal(got, labels_from_logits(lg.numpy(), 50, 60))
    assert labels[1].max() > 255 or np.unique(labels[1]).size > 1


def test_bad_shape_and_accelerator_check():
    with pytest.raises(ValueError, match='one frame'):
        device_labels(torch.zeros(2, 3, 4, 4), 8, 8)
    assert not on_accelerator(torch.zeros(1)) and not on_accelerator(np.zeros(1))


def test_segmenter_from_logits_device_branch(monkeypatch):
    """The Segmenter's GPU branch (forced here for CPU tensors) gives the numpy results."""
    seg = segmenter_module.Segmenter.__new__(segmenter_module.Segmenter)
    names = tuple(f'c{i}' for i in range(6))
    seg.info = ModelInfo(class_names=(names, names[:5]), head_names=('a', 'b'),
                         mean=(0.5,) * 3, std=(0.2,) * 3, backbone='vits16', untrained=False)
    seg.label_dtype, seg.palette = np.uint8, class_palette(seg.class_names)
    logits = [smooth_logits(6, 5, 7, 4), smooth_logits(6, 5, 7, 5)]
    rgb = np.zeros((40, 56, 3), np.uint8)
    info = ResizeInfo(height=40, width=56, in_height=80, in_width=112)
    host = seg.from_logits(rgb, [lg.numpy() for lg in logits], info, overlay=True,
                           confidence=True)
    monkeypatch.setattr(segmenter_module, 'on_accelerator', torch.is_tensor)
    device = seg.from_logits(rgb, logits, info, overlay=True, confidence=True)
    np.testing.assert_array_equal(device.labels, host.labels)
    np.testing.assert_array_equal(device.extra_labels['b'], host.extra_labels['b'])
    np.testing.assert_array_equal(device.overlay, host.overlay)
    np.testing.assert_allclose(device.confidence, host.confidence)
