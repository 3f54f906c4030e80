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

"""Focal and dice losses against values worked out by hand, with ignored pixels."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dinov3_seg_ros.training.losses import (FocalDiceLoss, multiclass_dice_loss,
                                            resize_for_loss, softmax_focal_loss)

IGNORE = 255


def tiny():
    """Three pixels, two classes: p = (0.5, 0.5), (0.75, 0.25) and an ignored pixel."""
    logits = torch.tensor([[[[0.0, math.log(3.0), 5.0]], [[0.0, 0.0, -5.0]]]],
                          requires_grad=True)
    target = torch.tensor([[[0, 1, IGNORE]]])
    return logits, target


# Hand values: pixel 0 has p_t = 0.5 (class 0), pixel 1 has p_t = 0.25 (class 1).
FOCAL_PIXEL0 = 0.25 * math.log(2.0)        # (1 - 0.5)^2 * -ln 0.5
FOCAL_PIXEL1 = 0.5625 * math.log(4.0)      # (1 - 0.25)^2 * -ln 0.25
# Dice per class over the two valid pixels, smooth 1:
# class 0: P = (0.5, 0.75), T = (1, 0): 1 - (2 * 0.5 + 1) / (1.25 + 1 + 1) = 1 - 2 / 3.25
# class 1: P = (0.5, 0.25), T = (0, 1): 1 - (2 * 0.25 + 1) / (0.75 + 1 + 1) = 1 - 1.5 / 2.75
DICE = ((1 - 2 / 3.25) + (1 - 1.5 / 2.75)) / 2


def test_focal_matches_hand_values_and_ignores_pixels():
    logits, target = tiny()
    loss = softmax_focal_loss(logits, target, gamma=2.0, ignore_index=IGNORE)
    assert loss.item() == pytest.approx((FOCAL_PIXEL0 + FOCAL_PIXEL1) / 2, rel=1e-6)
    loss.backward()
    assert torch.all(logits.grad[..., 2] == 0), 'the ignored pixel must get no gradient'
    assert torch.all(logits.grad[..., :2] != 0)


def test_focal_alpha_scalar_and_per_class():
    logits, target = tiny()
    scalar = softmax_focal_loss(logits, target, gamma=2.0, alpha=0.25, ignore_index=IGNORE)
    assert scalar.item() == pytest.approx(0.25 * (FOCAL_PIXEL0 + FOCAL_PIXEL1) / 2, rel=1e-6)
    per_class = softmax_focal_loss(logits, target, gamma=2.0, alpha=[0.25, 0.75],
                                   ignore_index=IGNORE)
    expected = (0.25 * FOCAL_PIXEL0 + 0.75 * FOCAL_PIXEL1) / 2
    assert per_class.item() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match='3 entries for 2 classes'):
        softmax_focal_loss(logits, target, alpha=[1.0, 1.0, 1.0], ignore_index=IGNORE)


def test_focal_gamma_zero_is_cross_entropy():
    torch.manual_seed(1)
    logits = torch.randn(2, 5, 4, 6)
    target = torch.randint(0, 5, (2, 4, 6))
    target[0, :2] = IGNORE
    ours = softmax_focal_loss(logits, target, gamma=0.0, ignore_index=IGNORE)
    reference = F.cross_entropy(logits, target, ignore_index=IGNORE)
    torch.testing.assert_close(ours, reference)


def test_dice_matches_hand_values_and_ignores_pixels():
    logits, target = tiny()
    loss = multiclass_dice_loss(logits, target, ignore_index=IGNORE)
    assert loss.item() == pytest.approx(DICE, rel=1e-6)
    loss.backward()
    assert torch.all(logits.grad[..., 2] == 0)
    other = logits.detach().clone()
    other[..., 2] = torch.tensor([-7.0, 9.0]).view(1, 2, 1)  # change only the ignored pixel
    assert multiclass_dice_loss(other, target, IGNORE).item() == pytest.approx(DICE, rel=1e-6)


def test_dice_matches_direct_formula_on_random_batch():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2, 4, 5, 7)).astype(np.float32)
    target = rng.integers(0, 4, (2, 5, 7))
    target[1, 1:3, 2:6] = IGNORE
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    terms = []
    for n in range(2):
        valid = target[n] != IGNORE
        for c in range(4):
            p = probs[n, c][valid]
            t = (target[n][valid] == c).astype(np.float64)
            terms.append(1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1))
    ours = multiclass_dice_loss(torch.from_numpy(logits), torch.from_numpy(target), IGNORE)
    assert ours.item() == pytest.approx(float(np.mean(terms)), rel=1e-5)


def test_combined_loss_weights_terms():
    logits, target = tiny()
    parts = FocalDiceLoss(lambda_focal=2.0, lambda_dice=0.5, gamma=2.0,
                          ignore_index=IGNORE)(logits, target)
    focal = 2.0 * (FOCAL_PIXEL0 + FOCAL_PIXEL1) / 2
    assert parts.focal.item() == pytest.approx(focal, rel=1e-6)
    assert parts.dice.item() == pytest.approx(0.5 * DICE, rel=1e-6)
    assert parts.total.item() == pytest.approx(focal + 0.5 * DICE, rel=1e-6)


def test_all_ignored_gives_zero_focal_and_finite_gradient():
    logits = torch.randn(1, 3, 2, 2, requires_grad=True)
    target = torch.full((1, 2, 2), IGNORE)
    parts = FocalDiceLoss(ignore_index=IGNORE)(logits, target)
    assert parts.focal.item() == 0.0
    parts.total.backward()
    assert torch.isfinite(logits.grad).all() and torch.all(logits.grad == 0)


def test_logits_are_upsampled_bilinearly_to_the_label_size():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 2, 3)
    labels = torch.randint(0, 3, (2, 8, 12))
    up, same = resize_for_loss(logits, labels)
    assert up.shape == (2, 3, 8, 12) and torch.equal(same, labels)
    expected = F.interpolate(logits, size=(8, 12), mode='bilinear', align_corners=False)
    torch.testing.assert_close(up, expected)
    loss = FocalDiceLoss(ignore_index=IGNORE)(logits, labels)
    direct = (softmax_focal_loss(expected, labels, 2.0, None, IGNORE)
              + multiclass_dice_loss(expected, labels, IGNORE))
    torch.testing.assert_close(loss.total, direct)


def test_target_size_resizes_labels_nearest():
    labels = torch.arange(16).view(1, 4, 4) % 3
    labels[0, 0, 0] = IGNORE
    logits = torch.zeros(1, 3, 1, 1)
    up, small = resize_for_loss(logits, labels, (2, 2))
    assert up.shape == (1, 3, 2, 2)
    assert small.tolist() == [[[IGNORE, labels[0, 0, 2].item()],
                               [labels[0, 2, 0].item(), labels[0, 2, 2].item()]]]
