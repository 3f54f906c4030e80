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
    max_c min_corners(L_c); only those candidates are interpolated, only for those pixels
    (typically 2-5 of the K classes, in the cells along class boundaries).
Both steps are exact, so labels differ from the reference only where two classes tie to
float rounding (a few pixels per megapixel, measured on photos in test_core_postprocess).
Both paths take NaN as -inf (nonfinite.py): a NaN class never wins over a finite one.
"""

import sys
from typing import Any, Optional, Tuple

import cv2
import numpy as np

from .nonfinite import finite_logits
from .preprocess import ResizeInfo

LogitsLike = Any  # a torch.Tensor (any device) or a numpy array; torch is never imported here


def is_tensor(value: object) -> bool:
    """Tell whether value is a torch tensor, without importing torch."""
    torch = sys.modules.get('torch')
    return torch is not None and torch.is_tensor(value)


def on_accelerator(logits: object) -> bool:
    """Tell whether logits are a torch tensor off the CPU (CUDA): labels_to_host then."""
    return is_tensor(logits) and logits.device.type != 'cpu'  # type: ignore[attr-defined]


def label_dtype(num_classes: int) -> type:
    """np.uint8 for up to 256 classes, np.uint16 above."""
    return np.uint8 if num_classes <= 256 else np.uint16


def logits_to_numpy(logits: LogitsLike) -> np.ndarray:
    """Convert (1, K, h, w) or (K, h, w) logits (tensor on any device, or array) to (K, h, w).

    The result is a C-contiguous, finite float32 numpy array: NaN and -inf become a value
    below every finite logit, +inf one above (counted and warned: nonfinite.py).
    """
    if is_tensor(logits):
        logits = logits.detach().float().cpu().numpy()
    array = np.asarray(logits, dtype=np.float32)
    if array.ndim == 4:
        if array.shape[0] != 1:
            raise ValueError(f'expected one frame of logits, got shape {array.shape}')
        array = array[0]
    if array.ndim != 3 or min(array.shape) < 1:
        raise ValueError(f'expected (1, K, h, w) logits, got shape {array.shape}')
    return finite_logits(np.ascontiguousarray(array))


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
    import torch
    import torch.nn.functional as F
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
    grid = _CellGrid(h, w, height, width)
    # repeat each cell's top-left argmax over its pixels: exact wherever the corners agree
    labels = np.repeat(np.repeat(argmax.astype(dtype), grid.rows, 0), grid.cols, 1)
    right = argmax[:, grid.right]
    mixed = ((argmax != argmax[grid.below]) | (argmax != right) | (argmax != right[grid.below]))
    mixed &= (grid.rows > 0)[:, None] & (grid.cols > 0)[None, :]
    cy, cx = np.nonzero(mixed)
    if cy.size:
        _refine_mixed_cells(lg, grid, cy, cx, labels)
    return labels


class _CellGrid:
    """How H x W output pixels fall into the cells between logit rows/columns."""

    def __init__(self, h: int, w: int, height: int, width: int) -> None:
        y0, _, self.wy = bilinear_axis(h, height)
        x0, _, self.wx = bilinear_axis(w, width)
        self.rows = np.bincount(y0, minlength=h)  # output rows per cell row
        self.cols = np.bincount(x0, minlength=w)
        self.first_row = np.cumsum(self.rows) - self.rows
        self.first_col = np.cumsum(self.cols) - self.cols
        self.below = np.minimum(np.arange(h) + 1, h - 1)
        self.right = np.minimum(np.arange(w) + 1, w - 1)


def _refine_mixed_cells(lg: np.ndarray, grid: _CellGrid, cy: np.ndarray, cx: np.ndarray,
                        labels: np.ndarray) -> None:
    """Interpolate, in the cells (cy, cx), only the classes that can win there; write labels.

    Cells are batched by (candidate count, pixel rows, pixel columns) so each batch is a few
    array operations of shape (cells, rows, columns) per candidate.
    """
    corners = (lg[:, cy, cx], lg[:, cy, grid.right[cx]],
               lg[:, grid.below[cy], cx], lg[:, grid.below[cy], grid.right[cx]])  # (K, N) each
    low = np.minimum(np.minimum(corners[0], corners[1]), np.minimum(corners[2], corners[3]))
    high = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3]))
    may_win = high >= low.max(0)  # (K, N): class k can win somewhere in cell n
    counts = may_win.sum(0)
    # candidates of each cell first, in ascending class order (argmax keeps the first on ties)
    candidates = np.argsort(~may_win, axis=0, kind='stable')[:int(counts.max())]
    ny, nx = grid.rows[cy], grid.cols[cx]
    key = (counts * (ny.max() + 1) + ny) * (nx.max() + 1) + nx
    order = np.argsort(key, kind='stable')
    for group in np.split(order, np.flatnonzero(np.diff(key[order])) + 1):
        m, gy, gx = int(counts[group[0]]), int(ny[group[0]]), int(nx[group[0]])
        cand = candidates[:m, group]  # (m, G)
        a00, a01, a10, a11 = (c[cand, group[None]] for c in corners)
        rows = grid.first_row[cy[group]][:, None] + np.arange(gy)  # (G, gy)
        cols = grid.first_col[cx[group]][:, None] + np.arange(gx)  # (G, gx)
        wy = grid.wy[rows][:, :, None]
        wx = grid.wx[cols][None]
        top = a00[..., None] + (a01 - a00)[..., None] * wx  # (m, G, gx)
        bottom = a10[..., None] + (a11 - a10)[..., None] * wx
        best = top[0][:, None] + (bottom[0] - top[0])[:, None] * wy  # (G, gy, gx)
        out = np.empty(best.shape, labels.dtype)
        out[...] = cand[0][:, None, None]
        for k in range(1, m):
            value = top[k][:, None] + (bottom[k] - top[k])[:, None] * wy
            better = value > best
            np.maximum(best, value, out=best)
            np.copyto(out, cand[k][:, None, None].astype(labels.dtype), where=better)
        for block, r0, c0 in zip(out, rows[:, 0], cols[:, 0]):
            labels[r0:r0 + gy, c0:c0 + gx] = block


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
