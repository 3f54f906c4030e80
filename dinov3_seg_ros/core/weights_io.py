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

"""Reading weights files safely (weights_only) with one clear error for every failure."""

import os
from typing import Any, Dict

import torch

from .errors import CheckpointError


def load_weights_file(path: str, what: str = 'weights') -> Any:
    """Load a .pth (torch.load, weights_only=True) or .safetensors file onto the CPU.

    Raises CheckpointError naming the file and the reason: missing, truncated or corrupt,
    or holding pickled Python objects (refused: only tensors and plain containers load).
    """
    if path and os.path.isdir(path):
        raise CheckpointError(f'{what} {path!r} is a directory, not a weights file')
    if not path or not os.path.isfile(path):
        raise CheckpointError(f'{what} file not found: {path!r}')
    try:
        if path.endswith('.safetensors'):
            from safetensors.torch import load_file
            return load_file(path, device='cpu')
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any parse failure means a bad file
        raise CheckpointError(f'cannot read {what} {path!r}: {_describe(exc)}') from None


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Read a .pth or .safetensors backbone file into a flat state_dict (unwrapping 'model'...)."""
    state = load_weights_file(path, 'backbone weights')
    for key in ('model', 'state_dict', 'teacher'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f'{path!r} does not hold a state_dict of tensors')
    return state


def _describe(exc: Exception) -> str:
    """Say why loading failed in words a user can act on."""
    text = str(exc).strip()
    if 'Unsupported global' in text:
        return 'it holds pickled Python objects, not only tensors and plain containers (refused)'
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return 'not a PyTorch/safetensors checkpoint, or truncated/corrupt'
