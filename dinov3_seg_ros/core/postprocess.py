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

"""Head logits (1, K, h, w) -> class-id labels (H, W) at the original frame size.

Reference semantics (reference_labels): bilinear upsampling of all K logit channels to H x W
(align_corners=False), then argmax. labels_from_logits computes the same labels without
upsampling K channels: every output pixel interpolates the four logit vectors of one cell of
the h x w grid, and
  * where the four corners share their argmax c, the interpolated argmax is c (a convex
    combination of vectors that all peak at c peaks at c): the cell is filled by repetition;
  * elsewhere a class k can win at some pixel of the cell only if max_corners(L_k) >=
    max_c min_corners(L_c); only those candidates are interpolated, only for those pixels.
Both steps are exact, so labels differ from the reference only where two classes tie to
float rounding (a few pixels per megapixel, measured on photos in test_core_postprocess).
"""

from typing import Optional, Tuple, Union

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .preprocess import ResizeInfo

LogitsLike = Union[torch.Tensor, np.ndarray]
# Largest candidate block (candidates x rows x columns) evaluated at once, in floats.
BLOCK_ELEMENTS = 1 << 22


def label_dtype(num_classes: int) -> type:
    """np.uint8 for up to 256 classes, np.uint16 above."""
    return np.uint8 if num_classes <= 256 else np.uint16


def logits_to_numpy(logits: LogitsLike) -> np.ndarray:
    """Convert (1, K, h, w) or (K, h, w) logits (tensor on any device, or array) to (K, h, w).

    The result is a C-contiguous float32 numpy array.
    """
    if torch.is_tensor(logits):
        logits = logits.detach().to('cpu', torch.float32).numpy()
    array = np.asarray(logits, dtype=np.float32)
    if array.ndim == 4:
        if array.shape[0] != 1:
            raise ValueError(f'expected one frame of logits, got shape {array.shape}')
        array = array[0]
    if array.ndim != 3 or min(array.shape) < 1:
        raise ValueError(f'expected (1, K, h, w) logits, got shape {array.shape}')
    return np.ascontiguousarray(array)


def bilinear_axis(n_in: int, n_out: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices i0, i1 and weights of i1 for each output index, as torch computes them.

    align_corners=False: src = (dst + 0.5) * n_in / n_out - 0.5, clamped at 0.
    """
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    src = np.maximum(src, 0.0)
    i0 = np.minimum(src.astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (src - i0).astype(np.float32)


def reference_labels(logits: LogitsLike, height: int, width: int) -> np.ndarray:
    """(H, W) int64 labels the slow reference way: upsample all K channels, then argmax."""
    x = torch.from_numpy(logits_to_numpy(logits))[None]
    up = F.interpolate(x, size=(height, width), mode='bilinear', align_corners=False)
    return up[0].argmax(0).numpy()


def labels_from_logits(logits: LogitsLike, height: int, width: int,
                       dtype: Optional[type] = None) -> np.ndarray:
    """(1, K, h, w) logits -> (H, W) labels equal to reference_labels (see the module doc)."""
    lg = logits_to_numpy(logits)
    num_classes, h, w = lg.shape
    dtype = dtype or label_dtype(num_classes)
    argmax = lg.argmax(0)
    y0, _, wy = bilinear_axis(h, height)
    x0, x1, wx = bilinear_axis(w, width)
    below = np.minimum(np.arange(h) + 1, h - 1)
    right = np.minimum(np.arange(w) + 1, w - 1)
    argmax_right = argmax[:, right]
    # mixed[r, c]: the corners of cell (r, c) disagree on the argmax
    mixed = ((argmax != argmax[below]) | (argmax != argmax_right)
             | (argmax != argmax_right[below]))
    rows_per_cell = np.bincount(y0, minlength=h)
    cols_per_cell = np.bincount(x0, minlength=w)
    labels = np.repeat(np.repeat(argmax.astype(dtype), rows_per_cell, 0), cols_per_cell, 1)
    cell_rows = np.flatnonzero(mixed.any(1) & (rows_per_cell > 0))
    if cell_rows.size == 0:
        return labels
    lg_right = lg[:, :, right]
    corner_max = np.maximum(np.maximum(lg, lg_right), np.maximum(lg[:, below],
                                                                 lg_right[:, below]))
    corner_min = np.minimum(np.minimum(lg, lg_right), np.minimum(lg[:, below],
                                                                 lg_right[:, below]))
    may_win = corner_max >= corner_min.max(0)  # (K, h, w)
    first_row = np.concatenate(([0], np.cumsum(rows_per_cell)))
    for r in cell_rows:
        r0, r1 = first_row[r], first_row[r + 1]
        cols = np.flatnonzero(mixed[r][x0])
        candidates = np.flatnonzero(may_win[:, r, mixed[r]].any(1))
        pair = lg[:, (r, below[r])][candidates]  # (M, 2, w): the two logit rows of the strip
        weights = wy[r0:r1, None]
        step = max(1, BLOCK_ELEMENTS // max(1, candidates.size * (r1 - r0)))
        for start in range(0, cols.size, step):
            sel = cols[start:start + step]
            wc = wx[sel]
            across = pair[:, :, x0[sel]] * (1.0 - wc) + pair[:, :, x1[sel]] * wc  # (M, 2, n)
            values = across[:, 0, None, :] + (across[:, 1] - across[:, 0])[:, None, :] * weights
            labels[r0:r1, sel] = candidates[_argmax_first_axis(values)]
    return labels


def _argmax_first_axis(values: np.ndarray) -> np.ndarray:
    """Return the argmax over axis 0 of (M, ...) values; a running max is faster for small M."""
    if values.shape[0] > 8:
        return values.argmax(0)
    best = values[0].copy()
    index = np.zeros(best.shape, np.intp)
    for m in range(1, values.shape[0]):
        better = values[m] > best
        np.maximum(best, values[m], out=best)
        index[better] = m
    return index


def confidence_map(logits: LogitsLike, height: int, width: int) -> np.ndarray:
    """(H, W) float32 max softmax probability, computed at feature resolution and resized.

    An approximation of the max softmax of the upsampled logits (exact at cell centres);
    only computed on request.
    """
    lg = logits_to_numpy(logits)
    shifted = lg - lg.max(0, keepdims=True)
    conf = (1.0 / np.exp(shifted).sum(0)).astype(np.float32)
    return cv2.resize(conf, (width, height), interpolation=cv2.INTER_LINEAR)


def postprocess(logits: LogitsLike, info: ResizeInfo, confidence: bool = False,
                dtype: Optional[type] = None) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """(1, K, h, w) logits -> ((H, W) labels, (H, W) float32 confidence or None)."""
    lg = logits_to_numpy(logits)
    labels = labels_from_logits(lg, info.height, info.width, dtype)
    conf = confidence_map(lg, info.height, info.width) if confidence else None
    return labels, conf
