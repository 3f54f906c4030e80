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

"""Work per frame (FLOPs of the backbone and heads) and the device's measured matmul peak.

FLOPs are counted by torch.utils.flop_counter on the meta device: exact for the shapes,
free of weights and time. Matmuls, convolutions and attention count 2 FLOPs per
multiply-add; elementwise ops are not counted.
"""

import time
from typing import Any, Optional, Union

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from ..core.backbone import create_backbone
from ..core.heads import build_head, HeadConfig


def _sdpa_cpu_flops(query: Any, key: Any, value: Any, *args: Any, **kwargs: Any) -> int:
    """Count the CPU flash-attention kernel's FLOPs (shapes in, like flop_counter's formulas)."""
    return sdpa_flop_count(query, key, value)


def count_flops(module: nn.Module, shape: tuple) -> int:
    """Count the FLOPs of one forward pass of module on a (shape) float32 input, on meta."""
    mapping = {}
    cpu_flash = getattr(torch.ops.aten, '_scaled_dot_product_flash_attention_for_cpu', None)
    if cpu_flash is not None:
        mapping[cpu_flash] = _sdpa_cpu_flops
    counter = FlopCounterMode(display=False, custom_mapping=mapping)
    with torch.no_grad(), counter:
        module(torch.empty(shape, device='meta'))
    return int(counter.get_total_flops())


def backbone_flops(variant: str, height: int, width: int) -> int:
    """Count the FLOPs of one backbone pass on a (1, 3, height, width) image."""
    with torch.device('meta'):
        backbone = create_backbone(variant).eval()
    return count_flops(backbone, (1, 3, height, width))


def head_flops(config: Union[HeadConfig, dict], rows: int, cols: int) -> int:
    """Count the FLOPs of one head pass on a (1, C, rows, cols) feature map."""
    config = HeadConfig.from_dict(config) if isinstance(config, dict) else config
    with torch.device('meta'):
        head = build_head(config).eval()
    return count_flops(head, (1, config.in_channels, rows, cols))


def matmul_peak_gflops(device: Union[str, torch.device] = 'cpu', size: int = 0,
                       runs: int = 5, dtype: Optional[torch.dtype] = None) -> float:
    """Best GFLOP/s of a square torch.mm in dtype on device (2 * size**3 FLOPs per run).

    dtype is the precision the model runs in (default float32; a bfloat16 model is held to
    the bf16 matmul peak). size 0 picks 8192 on CUDA and on the CPU the largest of 2048, 1024
    and 512 whose run should take 1 s at most (a CPU without native bf16 emulates it
    ~50x slower: a 2048 bf16 product there would take seconds per run).
    """
    device = torch.device(device)
    dtype = dtype or torch.float32
    size = size or (8192 if device.type == 'cuda' else _cpu_size(dtype))
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device, dtype)
    b = torch.randn(size, size, generator=generator).to(device, dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    best = float('inf')
    for _ in range(runs + 1):  # the first run warms up the kernels and the caches
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size ** 3 / best / 1e9


def _cpu_size(dtype: torch.dtype, budget_s: float = 1.0) -> int:
    """Largest of 2048, 1024, 512 whose product in dtype fits budget_s (timed at 512)."""
    a = torch.ones(512, 512, dtype=dtype)
    torch.mm(a, a)  # warm-up
    seconds = float('inf')
    for _ in range(3):
        start = time.perf_counter()
        torch.mm(a, a)
        seconds = min(seconds, time.perf_counter() - start)
    for size in (2048, 1024):
        if seconds * (size / 512) ** 3 <= budget_s:
            return size
    return 512
