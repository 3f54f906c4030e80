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

"""Compute precision from the hardware: bfloat16 where it runs natively, else float32/float16.

Torch-free at import: cpu_flags reads /proc/cpuinfo, and the CUDA bf16 probe imports torch
only when resolve_dtype needs it.
"""

import logging
from typing import FrozenSet, Iterable, Optional, Tuple

LOGGER = logging.getLogger(__name__)
DTYPE_CHOICES = ('float32', 'bfloat16', 'float16')
NATIVE_BF16_FLAGS = frozenset({'amx_bf16', 'avx512_bf16'})
CPUINFO = '/proc/cpuinfo'
_LOGGED = set()


def cpu_flags(path: Optional[str] = None) -> FrozenSet[str]:
    """Return the CPU feature flags (first 'flags' line of /proc/cpuinfo); empty if unreadable."""
    try:
        with open(path or CPUINFO, encoding='utf-8', errors='replace') as handle:
            for line in handle:
                key, sep, value = line.partition(':')
                if sep and key.strip() == 'flags':
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def cpu_has_native_bf16(flags: Optional[Iterable[str]] = None) -> bool:
    """Return True when the CPU has bf16 matmul instructions (AMX-BF16 or AVX512-BF16).

    Decided from the flags only (read from /proc/cpuinfo when None), never from the vendor.
    """
    flags = cpu_flags() if flags is None else frozenset(flags)
    return bool(NATIVE_BF16_FLAGS & set(flags))


def _probe_cuda_bf16() -> bool:
    """Ask torch whether the current CUDA device runs bfloat16 natively (False on error)."""
    try:
        import torch
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    except (RuntimeError, AssertionError):
        return False


def resolve_dtype(requested: str, device_kind: str,
                  cuda_bf16: Optional[bool] = None) -> Tuple[str, str]:
    """Map requested ('auto' | 'float32' | 'bfloat16' | 'float16') on 'cpu' or 'cuda'.

    Return (dtype name, human reason). 'auto': on the CPU bfloat16 when it has native bf16
    (amx_bf16 / avx512_bf16 flags) else float32; on CUDA bfloat16 where the GPU supports it
    (cuda_bf16, probed when None) else float16. float16 on the CPU falls back to float32.
    Raise ValueError for an unknown name (select_dtype turns it into a ConfigError).
    """
    device_kind = 'cuda' if str(device_kind).startswith('cuda') else 'cpu'
    if requested == 'auto':
        if device_kind == 'cpu':
            flags = cpu_flags()
            if cpu_has_native_bf16(flags):
                found = ', '.join(sorted(NATIVE_BF16_FLAGS & flags))
                return 'bfloat16', f'auto: the CPU has native bf16 ({found})'
            return 'float32', ('auto: float32, the CPU has no native bf16 (no amx_bf16 / '
                               'avx512_bf16 flag): emulated bf16 would be slower')
        if cuda_bf16 is None:
            cuda_bf16 = _probe_cuda_bf16()
        if cuda_bf16:
            return 'bfloat16', ('auto: the GPU supports bf16; DINOv3 was trained in bf16 and '
                                'fp16 activations can overflow (facebookresearch/dinov3#181)')
        return 'float16', ('auto: the GPU has no bf16, using float16 (DINOv3 was trained in '
                           'bf16; fp16 can overflow, facebookresearch/dinov3#181)')
    if requested not in DTYPE_CHOICES:
        raise ValueError(f'dtype: {requested!r} is not one of auto, {", ".join(DTYPE_CHOICES)}')
    if requested == 'float16' and device_kind == 'cpu':
        return 'float32', 'float16 is not supported on the CPU: using float32'
    return requested, f'{requested} requested'


def log_choice(device_kind: str, dtype: str, reason: str) -> None:
    """Log each distinct (device, dtype, reason) choice once per process at INFO."""
    key = (device_kind, dtype, reason)
    if key not in _LOGGED:
        _LOGGED.add(key)
        LOGGER.info('compute dtype %s on %s: %s', dtype, device_kind, reason)
