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

"""Softmax focal loss + multiclass dice loss, both honoring an ignore index.

The head predicts logits at feature resolution (H/16, W/16). Like the upstream, the loss
compares them with the labels at a finer "target" resolution: the logits are upsampled
bilinearly (align_corners=False, as at inference) and the labels are resized with nearest
neighbour when target_size differs from the label size (the upstream uses 320x320 for
640x640 labels; target_size=0 means the label size itself).
"""

from typing import NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import nn
import torch.nn.functional as F

Alpha = Union[None, float, Sequence[float]]


def loss_size(target_size: int, height: int, width: int) -> Tuple[int, int]:
    """(H', W') of the loss for loss.target_size: the long side, the aspect kept; 0 = (0, 0).

    640x640 with 320 -> 320x320 (the upstream); 640x480 with 320 -> 240x320, never squashed.
    """
    if not target_size:
        return (0, 0)
    scale = target_size / max(height, width)
    return (max(1, round(height * scale)), max(1, round(width * scale)))


def _valid_mask(target: torch.Tensor, ignore_index: Optional[int]) -> torch.Tensor:
    if ignore_index is None:
        return torch.ones_like(target, dtype=torch.bool)
    return target != ignore_index


def focal_dice_terms(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
                     alpha: Alpha = None, ignore_index: Optional[int] = 255,
                     smooth: float = 1.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """(focal, dice) of logits (N, K, H, W) against target (N, H, W), sharing one softmax.

    Neither term materializes a one-hot tensor: the dice intersection and label counts are
    scatter-adds of p_t and of the valid mask per (image, class).
    """
    n, k = logits.shape[:2]
    valid = _valid_mask(target, ignore_index)
    safe = torch.where(valid, target, torch.zeros_like(target))
    weight = valid.to(torch.float32)
    log_probs = F.log_softmax(logits.float(), dim=1)
    log_pt = log_probs.gather(1, safe.unsqueeze(1)).squeeze(1)
    pt = log_pt.exp()
    focal = -((1.0 - pt).clamp_min(0.0) ** gamma) * log_pt
    if alpha is not None:
        if isinstance(alpha, (int, float)):
            focal = focal * float(alpha)
        else:
            weights = torch.as_tensor(list(alpha), dtype=focal.dtype, device=focal.device)
            if weights.numel() != k:
                raise ValueError(f'focal alpha has {weights.numel()} entries for {k} classes')
            focal = focal * weights[safe]
    focal = (focal * weight).sum() / weight.sum().clamp_min(1.0)
    flat_target, flat_weight = safe.reshape(n, -1), weight.reshape(n, -1)
    zeros = torch.zeros(n, k, dtype=pt.dtype, device=pt.device)
    intersection = zeros.scatter_add(1, flat_target, pt.reshape(n, -1) * flat_weight)
    counts = zeros.scatter_add(1, flat_target, flat_weight)
    prob_sums = torch.einsum('nkp,np->nk', log_probs.exp().reshape(n, k, -1), flat_weight)
    dice = (1.0 - (2.0 * intersection + smooth) / (prob_sums + counts + smooth)).mean()
    return focal, dice


def softmax_focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
                       alpha: Alpha = None, ignore_index: Optional[int] = 255) -> torch.Tensor:
    """Mean over non-ignored pixels of -alpha_t * (1 - p_t)^gamma * log(p_t).

    logits (N, K, H, W) raw scores, target (N, H, W) int64 class indices; alpha is None,
    a scalar applied to every pixel, or a length-K list indexed by the target class.
    Returns 0 (with a graph) when every pixel is ignored.
    """
    return focal_dice_terms(logits, target, gamma, alpha, ignore_index)[0]


def multiclass_dice_loss(logits: torch.Tensor, target: torch.Tensor,
                         ignore_index: Optional[int] = 255, smooth: float = 1.0) -> torch.Tensor:
    """Mean over (image, class) of 1 - (2|P*T| + smooth) / (|P| + |T| + smooth).

    P is the softmax (N, K, H, W), T the one-hot target; ignored pixels are removed from
    both sums (as in the upstream, every class of every image counts, present or not).
    """
    return focal_dice_terms(logits, target, 0.0, None, ignore_index, smooth)[1]


def resize_for_loss(logits: torch.Tensor, target: torch.Tensor,
                    target_size: Tuple[int, int] = (0, 0)
                    ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Bring logits (N, K, h, w) and labels (N, H, W) to one size for the loss.

    target_size (0, 0) keeps the label size; otherwise labels are resized with nearest
    neighbour. Logits are always upsampled bilinearly (align_corners=False).
    """
    size = tuple(target.shape[-2:]) if not target_size or not all(target_size) \
        else tuple(target_size)
    if tuple(target.shape[-2:]) != size:
        target = F.interpolate(target.unsqueeze(1).float(), size=size,
                               mode='nearest').squeeze(1).long()
    if tuple(logits.shape[-2:]) != size:
        logits = F.interpolate(logits, size=size, mode='bilinear', align_corners=False)
    return logits, target


class LossParts(NamedTuple):
    """The total loss and its weighted terms (0-dim tensors)."""

    total: torch.Tensor
    focal: torch.Tensor
    dice: torch.Tensor


class FocalDiceLoss(nn.Module):
    """lambda_focal * focal + lambda_dice * dice on logits resized to the target size.

    forward(logits (N, K, h, w), labels (N, H, W) int64) -> LossParts.
    """

    def __init__(self, lambda_focal: float = 1.0, lambda_dice: float = 1.0,
                 gamma: float = 2.0, alpha: Alpha = None, ignore_index: Optional[int] = 255,
                 target_size: Tuple[int, int] = (0, 0), smooth: float = 1.0) -> None:
        super().__init__()
        self.lambda_focal = float(lambda_focal)
        self.lambda_dice = float(lambda_dice)
        self.gamma = float(gamma)
        self.alpha = alpha
        self.ignore_index = ignore_index
        self.target_size = tuple(target_size)
        self.smooth = float(smooth)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> LossParts:
        """(N, K, h, w), (N, H, W) -> LossParts(total, focal, dice)."""
        logits, labels = resize_for_loss(logits, labels, self.target_size)
        focal, dice = focal_dice_terms(logits, labels, self.gamma, self.alpha,
                                       self.ignore_index, self.smooth)
        focal, dice = self.lambda_focal * focal, self.lambda_dice * dice
        return LossParts(focal + dice, focal, dice)
