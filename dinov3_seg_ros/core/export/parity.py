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

"""Parity of an exported model with its PyTorch original: worst logit error, label agreement."""

from dataclasses import dataclass
from typing import List, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError


@dataclass
class ParityReport:
    """ONNX Runtime vs PyTorch on one input."""

    max_abs_diff: float      # worst |onnx - torch| over every output
    label_agreement: float   # fraction of pixels whose argmax over classes agrees (worst head)
    pixels: int              # N * h * w of one output

    def __str__(self) -> str:
        return (f'max |onnx - torch| = {self.max_abs_diff:.3g}, labels agree on '
                f'{100.0 * self.label_agreement:.3f}% of {self.pixels} feature pixels')


def reference_outputs(module: nn.Module, x: torch.Tensor) -> List[np.ndarray]:
    """module(x) as float32 arrays; a single tensor output becomes a one-item list."""
    with torch.inference_mode():
        out = module(x)
    out = out if isinstance(out, (tuple, list)) else (out,)
    return [o.float().cpu().numpy() for o in out]


def compare_outputs(onnx_out: Sequence[np.ndarray],
                    torch_out: Sequence[np.ndarray]) -> ParityReport:
    """Compare paired (N, K, h, w) outputs: max abs difference and argmax agreement."""
    if len(onnx_out) != len(torch_out):
        raise ConfigError(f'parity: {len(onnx_out)} ONNX outputs vs {len(torch_out)} torch')
    diff, agreement, pixels = 0.0, 1.0, 0
    for a, b in zip(onnx_out, torch_out):
        if a.shape != b.shape:
            raise ConfigError(f'parity: ONNX output shape {a.shape} != torch {b.shape}')
        diff = max(diff, float(np.abs(a - b).max()))
        agreement = min(agreement, float((a.argmax(1) == b.argmax(1)).mean()))
        pixels = a.shape[0] * a.shape[2] * a.shape[3]
    return ParityReport(diff, agreement, pixels)


def check_parity(onnx_path: str, module: nn.Module, x: torch.Tensor,
                 device: str = 'cpu') -> ParityReport:
    """Run the ONNX model (OnnxRuntimeBackend) and the torch module on x (N, C, H, W)."""
    from ..backends.onnxruntime import OnnxRuntimeBackend
    backend = OnnxRuntimeBackend(onnx_path, device=device)
    x = x.detach().float().cpu()
    return compare_outputs(backend(x.numpy()), reference_outputs(module, x))
