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

"""Confusion matrix, mIoU and pixel accuracy (as in torchvision's segmentation references)."""

import math
from typing import Any, Dict, Optional, Sequence

import torch

from dinov3_seg_ros.training.distributed import all_reduce_sum


class ConfusionMatrix:
    """A (K, K) int64 matrix, rows = ground truth, columns = prediction; ignored pixels skipped."""

    def __init__(self, num_classes: int, ignore_index: Optional[int] = 255,
                 device: torch.device = torch.device('cpu')) -> None:
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.mat = torch.zeros((self.num_classes, self.num_classes), dtype=torch.int64,
                               device=device)

    def update(self, target: torch.Tensor, pred: torch.Tensor) -> None:
        """Add labels (any shape, int) and predictions of the same shape."""
        k = self.num_classes
        target, pred = target.flatten().long(), pred.flatten().long().to(target.device)
        keep = (target >= 0) & (target < k)
        if self.ignore_index is not None:
            keep &= target != self.ignore_index
        index = k * target[keep] + pred[keep]
        self.mat += torch.bincount(index, minlength=k * k).reshape(k, k).to(self.mat.device)

    def reset(self) -> None:
        """Zero the counts."""
        self.mat.zero_()

    def all_reduce(self) -> None:
        """Sum the matrix over every process of the default process group (no-op alone)."""
        all_reduce_sum(self.mat)

    @property
    def total(self) -> int:
        """Number of counted (non-ignored) pixels."""
        return int(self.mat.sum())

    def iou(self) -> torch.Tensor:
        """(K,) float64 IoU per class; NaN for a class absent from labels and predictions."""
        h = self.mat.double()
        union = h.sum(0) + h.sum(1) - h.diag()
        return torch.where(union > 0, h.diag() / union.clamp_min(1), torch.nan)

    def pixel_accuracy(self) -> float:
        """Correct pixels over counted pixels (NaN when nothing was counted)."""
        total = self.mat.sum()
        return float(self.mat.diag().sum()) / float(total) if total > 0 else math.nan

    def mean_iou(self) -> float:
        """Mean IoU over the classes that appear in the labels or the predictions."""
        iou = self.iou()
        present = ~torch.isnan(iou)
        return float(iou[present].mean()) if present.any() else math.nan

    def summary(self, class_names: Optional[Sequence[str]] = None) -> Dict[str, Any]:
        """JSON-ready dict: miou, pixel_accuracy, per_class_iou {name: iou or None}, pixels."""
        names = list(class_names) if class_names else [str(i) for i in range(self.num_classes)]
        per_class = {name: _none_if_nan(v) for name, v in zip(names, self.iou().tolist())}
        return {'miou': _none_if_nan(self.mean_iou()),
                'pixel_accuracy': _none_if_nan(self.pixel_accuracy()),
                'per_class_iou': per_class, 'pixels': self.total}


def _none_if_nan(value: float) -> Optional[float]:
    return None if math.isnan(value) else float(value)
