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

"""Features of a batch (live backbone or cache) and the evaluation loop (mIoU, val loss)."""

from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

import torch
from torch import nn
import torch.nn.functional as F

from dinov3_seg_ros.training.distributed import all_reduce_sum
from dinov3_seg_ros.training.losses import FocalDiceLoss
from dinov3_seg_ros.training.metrics import ConfusionMatrix
from dinov3_seg_ros.training.optim import autocast


def batch_features(batch: Dict[str, Any], backbone: Optional[nn.Module], device: torch.device,
                   dtype: Optional[torch.dtype]) -> Tuple[torch.Tensor, torch.Tensor]:
    """(features (B, C, h, w) float32, labels (B, H, W) int64) on device.

    A cached batch carries float16 'features'; a live batch carries 'image' (B, 3, H, W)
    and runs the frozen backbone without gradients (autocast dtype or float32).
    """
    labels = batch['label'].to(device, non_blocking=True)
    if 'features' in batch:
        return batch['features'].to(device, non_blocking=True).float(), labels
    if backbone is None:
        raise ValueError('a batch of images needs the backbone')
    images = batch['image'].to(device, non_blocking=True)
    with torch.no_grad(), autocast(device.type, dtype):
        features = backbone(images)
    return features.float(), labels


def predict_labels(logits: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """(B, K, h, w) logits -> (B, H, W) int64 labels: bilinear upsampling, then argmax."""
    up = F.interpolate(logits.float(), size=tuple(size), mode='bilinear', align_corners=False)
    return up.argmax(1)


@torch.no_grad()
def evaluate(head: nn.Module, batches: Iterable[Dict[str, Any]],
             backbone: Optional[nn.Module], loss_fn: FocalDiceLoss, class_names: Sequence[str],
             ignore_index: int, device: torch.device,
             dtype: Optional[torch.dtype] = None) -> Dict[str, Any]:
    """mIoU, pixel accuracy, per-class IoU and mean val loss, summed over every process.

    The head is put in eval mode and restored to its previous mode afterwards.
    """
    was_training = head.training
    head.eval()
    confusion = ConfusionMatrix(len(class_names), ignore_index, device)
    sums = torch.zeros(2, dtype=torch.float64, device=device)  # loss * images, images
    for batch in batches:
        features, labels = batch_features(batch, backbone, device, dtype)
        with autocast(device.type, dtype):
            logits = head(features)
        sums[0] += loss_fn(logits.float(), labels).total.double() * len(labels)
        sums[1] += len(labels)
        confusion.update(labels, predict_labels(logits, labels.shape[-2:]))
    head.train(was_training)
    confusion.all_reduce()
    all_reduce_sum(sums)
    summary = confusion.summary(class_names)
    summary['val_loss'] = float(sums[0] / sums[1].clamp_min(1))
    summary['images'] = int(sums[1])
    return summary
