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

"""Device and precision choice (auto | cpu | cuda), autocast, and per-stage timing."""

import contextlib
import logging
from typing import ContextManager, Tuple

import torch

from .errors import ConfigError
from .timing import StageTimer  # noqa: F401 - its former home

LOGGER = logging.getLogger(__name__)
DTYPE_NAMES = {'float32': torch.float32, 'float16': torch.float16, 'bfloat16': torch.bfloat16}


def cuda_available() -> bool:
    """Return True when torch sees a usable CUDA device."""
    try:
        return torch.cuda.is_available() and torch.cuda.device_count() > 0
    except RuntimeError:  # a broken driver install raises instead of returning False
        return False


def select_device(requested: str = 'auto') -> torch.device:
    """Map 'auto' | 'cpu' | 'cuda' (or 'cuda:N') to a torch.device.

    'auto' takes CUDA when present and falls back to the CPU with a warning;
    'cuda' without a usable CUDA device is a ConfigError.
    """
    if requested == 'cpu':
        return torch.device('cpu')
    if requested == 'auto':
        if cuda_available():
            return torch.device('cuda', torch.cuda.current_device())
        LOGGER.warning('device auto: no CUDA device found, running on the CPU (slow)')
        return torch.device('cpu')
    if requested == 'cuda' or requested.startswith('cuda:'):
        if not cuda_available():
            raise ConfigError(f'device: {requested!r} requested but no CUDA device is available '
                              "(use 'auto' or 'cpu')")
        device = torch.device(requested)
        index = device.index if device.index is not None else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise ConfigError(f'device: {requested!r} does not exist '
                              f'({torch.cuda.device_count()} CUDA devices)')
        return torch.device('cuda', index)
    raise ConfigError(f"device: {requested!r} is not one of auto, cpu, cuda")


def resolve_torch_dtype(requested: str, device: torch.device) -> Tuple[torch.dtype, str]:
    """(compute dtype, reason) for requested on device (precision.resolve_dtype).

    'auto': bfloat16 on CPUs with AMX/AVX512-BF16 and on bf16 GPUs, else float32 (CPU) or
    float16 (CUDA). float16 on the CPU falls back to float32 with a warning. Each distinct
    choice is logged once at INFO.
    """
    from .precision import log_choice, resolve_dtype
    try:
        name, reason = resolve_dtype(requested, device.type)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if requested == 'float16' and name != 'float16':
        LOGGER.warning('dtype float16 is not supported on the CPU: using float32')
    log_choice(device.type, name, reason)
    return DTYPE_NAMES[name], reason


def select_dtype(requested: str, device: torch.device) -> torch.dtype:
    """Compute dtype for requested on device (resolve_torch_dtype without the reason)."""
    return resolve_torch_dtype(requested, device)[0]


def autocast(device: torch.device, dtype: torch.dtype) -> ContextManager:
    """Mixed-precision context for dtype on device, or a no-op for float32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def device_label(device: torch.device) -> str:
    """'cpu' or 'cuda:N'."""
    if device.type == 'cuda':
        return f'cuda:{device.index if device.index is not None else 0}'
    return device.type
