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

"""labels_from_logits on the logits' own device (torch): only the label image leaves it.

Same algorithm and the same float32 operations as postprocess.labels_from_logits, so the
labels are equal bit for bit: each output pixel takes the argmax of the top-left logit of
its cell where the four corners of the cell share their argmax; the pixels of the other
cells interpolate all K classes (a00 + (a01 - a00) * wx, then top + (bottom - top) * wy) and
take the first maximum. NaN counts as -inf with the same stand-in values as the numpy
path (nonfinite.py); the count of non-finite values travels in the one device-to-host copy.
The interpolation grid (indices and weights) is cached per (h, w, H, W, device).
"""

from functools import lru_cache
from typing import List, Sequence, Tuple

import numpy as np
import torch

from .nonfinite import note_nonfinite
from .postprocess import bilinear_axis, label_dtype

CHUNK_PIXELS = 1 << 16  # mixed pixels interpolated at once: bounds memory to K * 64 Ki floats


@lru_cache(maxsize=32)
def _grid(h: int, w: int, height: int, width: int,
          device: torch.device) -> Tuple[torch.Tensor, ...]:
    """(y0, y1, wy) of length H and (x0, x1, wx) of length W on device."""
    y0, y1, wy = bilinear_axis(h, height)
    x0, x1, wx = bilinear_axis(w, width)
    return tuple(torch.from_numpy(np.ascontiguousarray(a)).to(device)
                 for a in (y0, y1, wy, x0, x1, wx))


def _as_chw(logits: torch.Tensor) -> torch.Tensor:
    """(1, K, h, w) or (K, h, w) -> (K, h, w) float32 on the same device."""
    if logits.dim() == 4:
        if logits.shape[0] != 1:
            raise ValueError(f'expected one frame of logits, got shape {tuple(logits.shape)}')
        logits = logits[0]
    if logits.dim() != 3 or min(logits.shape) < 1:
        raise ValueError(f'expected (1, K, h, w) logits, got shape {tuple(logits.shape)}')
    return _finite(logits.detach().float().contiguous())


def _finite(lg: torch.Tensor) -> torch.Tensor:
    """nonfinite.finite_logits on the device, without a host sync (same stand-in values)."""
    finite = torch.isfinite(lg)
    big = torch.finfo(torch.float32).max
    any_finite = finite.any()
    zero = lg.new_zeros(())
    low = torch.where(any_finite, torch.where(finite, lg, big).amin(), zero)
    high = torch.where(any_finite, torch.where(finite, lg, -big).amax(), zero)
    span = high - low + 1
    stand_in = torch.where(torch.isposinf(lg), high + span, low - span)
    return torch.where(finite, lg, stand_in)


def _count_nonfinite(logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """(heads,) int32 counts of non-finite values per head, left on the device."""
    return torch.stack([(~torch.isfinite(lg.detach())).sum().to(torch.int32)
                        for lg in logits])


def device_labels(logits: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(1, K, h, w) logits -> (H, W) int64 labels on the logits' device (no host sync)."""
    lg = _as_chw(logits)
    num_classes, h, w = lg.shape
    y0, y1, wy, x0, x1, wx = _grid(h, w, height, width, lg.device)
    argmax = lg.argmax(0)  # (h, w)
    a00 = argmax[y0][:, x0]  # (H, W) label of each pixel's top-left corner
    mixed = ((a00 != argmax[y0][:, x1]) | (a00 != argmax[y1][:, x0])
             | (a00 != argmax[y1][:, x1]))
    rows, cols = torch.nonzero(mixed, as_tuple=True)
    if rows.numel() == 0:  # data-dependent size: the only sync of a frame without boundaries
        return a00
    labels = a00.clone()
    flat = lg.reshape(num_classes, h * w)
    for start in range(0, rows.numel(), CHUNK_PIXELS):
        r, c = rows[start:start + CHUNK_PIXELS], cols[start:start + CHUNK_PIXELS]
        top_row, bottom_row = y0[r] * w, y1[r] * w
        v00, v01 = flat[:, top_row + x0[c]], flat[:, top_row + x1[c]]  # (K, P)
        v10, v11 = flat[:, bottom_row + x0[c]], flat[:, bottom_row + x1[c]]
        fx, fy = wx[c], wy[r]
        top = v00 + (v01 - v00) * fx
        bottom = v10 + (v11 - v10) * fx
        labels[r, c] = (top + (bottom - top) * fy).argmax(0)
    return labels


def _host_dtype(num_classes: int) -> Tuple[torch.dtype, type]:
    """Device dtype to transfer labels in, and the numpy dtype they are viewed as."""
    if label_dtype(num_classes) == np.uint8:
        return torch.uint8, np.uint8
    return torch.int16, np.uint16  # ids < 65536 fit; viewed as unsigned on the host


def labels_to_host(logits: Sequence[torch.Tensor], height: int,
                   width: int) -> List[np.ndarray]:
    """Labels of several heads' (1, K_i, h, w) logits in ONE device-to-host copy.

    Returns one (H, W) uint8 (K_i <= 256) or uint16 numpy array per head.
    """
    parts, kinds = [_count_nonfinite(logits).view(torch.uint8)], []
    for lg in logits:
        device_type, host_type = _host_dtype(int(lg.shape[-3]))
        parts.append(device_labels(lg, height, width).to(device_type).reshape(-1)
                     .view(torch.uint8))
        kinds.append(host_type)
    host = torch.cat(parts).cpu().numpy()  # the one sync
    offset = 4 * len(logits)
    for lg, bad in zip(logits, host[:offset].view(np.int32)):
        if bad:
            note_nonfinite(int(bad), lg.numel())
    out = []
    for kind in kinds:
        size = height * width * np.dtype(kind).itemsize
        out.append(host[offset:offset + size].view(kind).reshape(height, width))
        offset += size
    return out


def on_accelerator(logits: object) -> bool:
    """Tell whether logits are a torch tensor off the CPU (CUDA): labels_to_host then."""
    return torch.is_tensor(logits) and logits.device.type != 'cpu'
