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

"""Confusion-matrix mIoU and pixel accuracy against a direct per-class computation."""

import math

import numpy as np
import pytest
import torch

from dinov3_seg_ros.training.metrics import ConfusionMatrix

IGNORE = 255


def test_hand_example():
    target = torch.tensor([[0, 0, 1, 1, IGNORE]])
    pred = torch.tensor([[0, 1, 1, 1, 0]])
    cm = ConfusionMatrix(3, IGNORE)
    cm.update(target, pred)
    assert cm.mat.tolist() == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]
    # class 0: |0 and 0| = 1, union = 2; class 1: 2 / 3; class 2 absent everywhere.
    iou = cm.iou()
    assert iou[0].item() == pytest.approx(0.5) and iou[1].item() == pytest.approx(2 / 3)
    assert math.isnan(iou[2].item())
    assert cm.mean_iou() == pytest.approx((0.5 + 2 / 3) / 2)
    assert cm.pixel_accuracy() == pytest.approx(3 / 4)
    summary = cm.summary(['a', 'b', 'c'])
    assert summary['per_class_iou'] == {'a': pytest.approx(0.5), 'b': pytest.approx(2 / 3),
                                        'c': None}
    assert summary['pixels'] == 4


def test_matches_direct_per_class_computation():
    rng = np.random.default_rng(7)
    k = 6
    cm = ConfusionMatrix(k, IGNORE)
    targets, preds = [], []
    for _ in range(3):  # several updates accumulate
        target = rng.integers(0, k - 1, (2, 9, 11))  # class k - 1 never in the labels
        target[rng.random(target.shape) < 0.15] = IGNORE
        pred = rng.integers(0, k, (2, 9, 11))
        cm.update(torch.from_numpy(target), torch.from_numpy(pred))
        targets.append(target)
        preds.append(pred)
    target, pred = np.concatenate(targets), np.concatenate(preds)
    valid = target != IGNORE
    ious = []
    for c in range(k):
        inter = np.sum((pred == c) & (target == c) & valid)
        union = np.sum(((pred == c) | (target == c)) & valid)
        ious.append(inter / union if union else math.nan)
    np.testing.assert_allclose(cm.iou().numpy(), np.array(ious), rtol=1e-12)
    assert cm.mean_iou() == pytest.approx(float(np.nanmean(ious)), rel=1e-12)
    assert cm.pixel_accuracy() == pytest.approx(float(np.mean(pred[valid] == target[valid])))
    assert cm.total == int(valid.sum())
    cm.reset()
    assert cm.total == 0 and math.isnan(cm.mean_iou())


def test_out_of_range_labels_are_not_counted():
    cm = ConfusionMatrix(2, None)
    cm.update(torch.tensor([0, 1, 7, -1]), torch.tensor([0, 0, 1, 1]))
    assert cm.mat.tolist() == [[1, 0], [1, 0]]
