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

"""Non-finite logits (NaN, +-inf) made finite before labels are computed, and counted.

fp16 paths (onnxruntime-gpu, an fp16 export on the CPU, OpenVINO on an Intel GPU) can
overflow to inf and NaN. argmax would pick a NaN class everywhere it appears, and the fast
label path would find no candidate class; instead a NaN (or -inf) logit counts as -inf:
it is replaced by a stand-in below every finite logit of the map (+inf by one above), so
that class never wins where another is finite and both label paths stay equal. Each map
with such values is counted (nonfinite_maps) and said in a throttled warning.
"""

import logging
import threading
import time

import numpy as np

LOGGER = logging.getLogger(__name__)
WARN_EVERY_S = 10.0

_lock = threading.Lock()
_count = {'maps': 0, 'said_at': -float('inf')}


def nonfinite_maps() -> int:
    """How many logit maps (one head, one frame) held NaN or inf in this process."""
    with _lock:
        return _count['maps']


def note_nonfinite(bad: int, total: int) -> None:
    """Count one logit map with bad of its total values non-finite; warn (throttled)."""
    with _lock:
        _count['maps'] += 1
        maps, now = _count['maps'], time.monotonic()
        if now - _count['said_at'] < WARN_EVERY_S:
            return
        _count['said_at'] = now
    LOGGER.warning('logits with %d non-finite value(s) of %d (fp16 overflow?): NaN counted '
                   'as -inf; %d logit map(s) so far', bad, total, maps)


def stand_ins(low_finite: float, high_finite: float) -> tuple:
    """(below, above): stand-ins for -inf/NaN and +inf given the finite range of the map."""
    span = np.float32(high_finite) - np.float32(low_finite) + np.float32(1)
    return np.float32(low_finite) - span, np.float32(high_finite) + span


def finite_logits(logits: np.ndarray) -> np.ndarray:
    """(K, h, w) float32 logits, returned as is when finite, else a counted finite copy."""
    finite = np.isfinite(logits)
    if finite.all():
        return logits
    values = logits[finite]
    low, high = (values.min(), values.max()) if values.size else (0.0, 0.0)
    below, above = stand_ins(low, high)
    out = np.where(np.isposinf(logits), above, logits)
    out[~finite & ~np.isposinf(logits)] = below
    note_nonfinite(int(finite.size - np.count_nonzero(finite)), int(finite.size))
    return np.ascontiguousarray(out, dtype=np.float32)
