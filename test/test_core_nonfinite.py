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

"""NaN and inf in head logits (fp16 overflow): labels anyway, NaN as -inf, counted."""

import logging

from dinov3_seg_ros.core import nonfinite
from dinov3_seg_ros.core.device_labels import device_labels, labels_to_host
from dinov3_seg_ros.core.postprocess import confidence_map, labels_from_logits
from dinov3_seg_ros.core.postprocess import postprocess, reference_labels
from dinov3_seg_ros.core.preprocess import ResizeInfo
import numpy as np
import pytest
import torch

H, W = 48, 64


def logits(seed=0, num_classes=6, h=6, w=8):
    return np.random.default_rng(seed).normal(size=(1, num_classes, h, w)).astype(np.float32)


def without(lg, k):
    """The logits with class k far below every other: what 'NaN = -inf' must give."""
    low = lg.copy()
    low[0, k] = lg.min() - 1000.0
    return low


def test_a_nan_in_a_mixed_cell_gives_the_reference_labels():
    lg = logits()
    fast = labels_from_logits(lg, H, W)
    y, x = np.argwhere(fast[::8, ::8] != fast[::8, ::8][0, 0])[0]  # a cell on a boundary
    lg[0, :, y, x] = np.nan  # every class of one grid point: it crashed with IndexError
    labels = labels_from_logits(lg, H, W)
    np.testing.assert_array_equal(labels, reference_labels(lg, H, W))
    assert labels.shape == (H, W) and labels.max() < 6


def test_a_class_that_is_all_nan_never_wins():
    lg = logits(1)
    lg[0, 4] = np.nan  # a head with one NaN classifier bias
    labels = labels_from_logits(lg, H, W)
    assert not (labels == 4).any()  # argmax used to pick class 4 for every pixel
    np.testing.assert_array_equal(labels, labels_from_logits(without(lg, 4), H, W))
    np.testing.assert_array_equal(reference_labels(lg, H, W), labels)


def test_inf_and_all_nonfinite_maps():
    lg = logits(2)
    lg[0, 3, 2, 5] = np.inf
    lg[0, 1, 4, 4] = -np.inf
    labels = labels_from_logits(lg, H, W)
    np.testing.assert_array_equal(labels, reference_labels(lg, H, W))
    assert labels[2 * 8 + 4, 5 * 8 + 4] == 3  # +inf wins its grid point
    assert labels_from_logits(np.full((1, 3, 2, 2), np.nan, np.float32), H, W).max() == 0
    conf = confidence_map(lg, H, W)
    assert np.isfinite(conf).all()


def test_nonfinite_maps_are_counted_and_warned(caplog):
    lg = logits(3)
    lg[0, 2, 1, 1] = np.nan
    before = nonfinite.nonfinite_maps()
    nonfinite._count['said_at'] = -float('inf')
    with caplog.at_level(logging.WARNING, logger='dinov3_seg_ros.core.nonfinite'):
        postprocess(lg, ResizeInfo(height=H, width=W, in_height=96, in_width=128),
                    confidence=True)
        labels_from_logits(lg, H, W)
    assert nonfinite.nonfinite_maps() == before + 2  # one per map, not per use
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and '1 non-finite value(s) of 288' in warnings[0]
    assert f'{before + 1} logit map(s) so far' in warnings[0]  # then throttled
    labels_from_logits(logits(4), H, W)
    assert nonfinite.nonfinite_maps() == before + 2  # finite maps are not counted


@pytest.mark.parametrize('case', ['point', 'class', 'inf', 'all'])
def test_device_labels_on_cpu_tensors_equal_the_numpy_path(case):
    lg = logits(5, num_classes=7)
    if case == 'point':
        lg[0, :, 3, 3] = np.nan
    elif case == 'class':
        lg[0, 6] = np.nan
    elif case == 'inf':
        lg[0, 2, 0, 0], lg[0, 5, 5, 7] = np.inf, -np.inf
    else:
        lg[:] = np.nan
    expected = labels_from_logits(lg, H, W)
    np.testing.assert_array_equal(device_labels(torch.from_numpy(lg), H, W).numpy(), expected)
    before = nonfinite.nonfinite_maps()
    got = labels_to_host([torch.from_numpy(lg), torch.from_numpy(logits(6))], H, W)
    np.testing.assert_array_equal(got[0], expected)
    np.testing.assert_array_equal(got[1], labels_from_logits(logits(6), H, W))
    assert nonfinite.nonfinite_maps() == before + 1
