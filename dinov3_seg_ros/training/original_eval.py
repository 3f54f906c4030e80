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

"""Evaluation at the original label resolution (the mmseg / torchvision / Mask2Former protocol).

Each image is resized to the model input as at inference; its logits (1, K, h, w) are turned
into labels at the label file's own size (H0, W0) by core.postprocess.labels_from_logits, the
exact path of the node (no (B, K, H0, W0) float32 upsampling), and scored against the
unresized label.
"""

import math
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence

import cv2
import numpy as np
import torch
from torch import nn

from dinov3_seg_ros.core.overlay import class_palette, render_overlay
from dinov3_seg_ros.core.postprocess import labels_from_logits
from dinov3_seg_ros.training.optim import autocast


def collate_keep_originals(items: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Stack 'image' (B, 3, H, W); keep 'original_label' (H0, W0) and 'path' as lists."""
    return {'image': torch.stack([item['image'] for item in items]),
            'original_label': [item['original_label'] for item in items],
            'path': [item['path'] for item in items]}


def confusion_numpy(target: np.ndarray, pred: np.ndarray, num_classes: int,
                    ignore_index: int) -> np.ndarray:
    """(K, K) int64 counts, rows = ground truth, columns = prediction; ignored pixels skipped."""
    target = target.reshape(-1).astype(np.int64)
    pred = pred.reshape(-1).astype(np.int64)
    keep = (target >= 0) & (target < num_classes) & (target != ignore_index)
    index = num_classes * target[keep] + pred[keep]
    return np.bincount(index, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def scores(mat: np.ndarray, class_names: Sequence[str]) -> Dict[str, Any]:
    """mIoU, mean accuracy, pixel accuracy, per-class IoU/accuracy from a (K, K) matrix.

    Means are over the classes present in the ground truth (mmseg's nanmean convention:
    a class absent from the labels has no IoU); per-class values of absent classes are None.
    """
    mat = mat.astype(np.float64)
    gt, pred, tp = mat.sum(1), mat.sum(0), np.diag(mat)
    present = gt > 0
    iou = np.where(present, tp / np.maximum(gt + pred - tp, 1), np.nan)
    acc = np.where(present, tp / np.maximum(gt, 1), np.nan)
    total = mat.sum()

    def mean(values: np.ndarray) -> Optional[float]:
        return float(values[present].mean()) if present.any() else None

    def opt(value: float) -> Optional[float]:
        return None if math.isnan(value) else float(value)

    return {'miou': mean(iou), 'mean_accuracy': mean(acc),
            'pixel_accuracy': float(tp.sum() / total) if total > 0 else None,
            'per_class_iou': {n: opt(v) for n, v in zip(class_names, iou.tolist())},
            'per_class_accuracy': {n: opt(v) for n, v in zip(class_names, acc.tolist())},
            'classes_present': int(present.sum()), 'pixels': int(total)}


@torch.no_grad()
def evaluate_original(head: nn.Module, backbone: nn.Module, batches: Iterable[Dict[str, Any]],
                      class_names: Sequence[str], ignore_index: int, device: torch.device,
                      dtype: Optional[torch.dtype] = None, overlay_dir: str = '',
                      num_overlays: int = 0) -> Dict[str, Any]:
    """Score every image at its label's resolution; returns scores() + 'confusion' (K, K)."""
    head.eval()
    k = len(class_names)
    mat = np.zeros((k, k), dtype=np.int64)
    colors = class_palette(list(class_names))
    images = written = 0
    for batch in batches:
        pixels = batch['image'].to(device, non_blocking=True)
        with autocast(device.type, dtype):
            logits = head(backbone(pixels))
        for i, label in enumerate(batch['original_label']):
            target = label.numpy()
            pred = labels_from_logits(logits[i:i + 1], *target.shape)
            mat += confusion_numpy(target, pred, k, ignore_index)
            images += 1
            if written < num_overlays:
                _write_overlay(batch['path'][i], pred, colors, class_names, overlay_dir)
                written += 1
    report = scores(mat, class_names)
    report.update(images=images, confusion=mat, overlays=written)
    return report


def _write_overlay(image_path: str, pred: np.ndarray, colors: np.ndarray,
                   class_names: Sequence[str], out_dir: str) -> None:
    from dinov3_seg_ros.training.datasets import read_rgb
    os.makedirs(out_dir, exist_ok=True)
    out = render_overlay(read_rgb(image_path), pred, colors, class_names)
    stem = os.path.splitext(os.path.basename(image_path))[0]
    cv2.imwrite(os.path.join(out_dir, f'{stem}.jpg'), cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
