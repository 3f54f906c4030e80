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

"""A traceable stand-in for timm's DINOv3 RoPE, used while exporting with dynamic H/W.

DINOv3's RoPE tables depend on the token grid; timm builds them with float(H), which the
ONNX exporters freeze at the traced size (silently: the graph then runs at any size with
wrong results). This builder computes the same table from symbolic sizes, bit-identical
in eager mode.
"""

from contextlib import contextmanager
from typing import Iterator, Optional, Sequence

import torch
from torch import nn

from ..backbone import Backbone, CONVNEXT


class _TraceableDinoV3Rope(nn.Module):
    """timm's RotaryEmbeddingDinoV3.get_embed without float(H): symbolic sizes stay symbolic."""

    def __init__(self, rope: nn.Module) -> None:
        super().__init__()
        self.rope = rope

    def get_embed(self, shape: Sequence[int],
                  dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        """(h*w, 2 * dim) sin/cos table of the 0.5-centered grid, each axis divided by its size."""
        offset = 0.5 + float(self.rope.grid_offset)
        axes = [(torch.arange(size, dtype=torch.float32) + offset) / size for size in shape]
        grid = torch.stack(torch.meshgrid(*axes, indexing='ij'), dim=-1)
        sin, cos = self.rope._get_pos_embed_from_coords((2.0 * grid - 1.0).flatten(0, 1))
        embed = torch.cat([sin, cos], dim=-1)
        return embed if dtype is None else embed.to(dtype)


@contextmanager
def traceable_rope(backbone: Backbone) -> Iterator[bool]:
    """Swap the backbone's RoPE for the traceable one while exporting; yield whether it did.

    A ConvNeXt has no RoPE: its graph is dynamic as it is (yields True).
    """
    if backbone.family == CONVNEXT:
        yield True
        return
    model = backbone.model
    rope = getattr(model, 'rope', None)
    if not (any(c.__name__ == 'RotaryEmbeddingDinoV3' for c in type(rope).__mro__)
            and getattr(rope, 'normalize_coords', '') == 'separate'
            and getattr(rope, 'grid_indexing', '') == 'ij'
            and hasattr(rope, '_get_pos_embed_from_coords')):
        yield False
        return
    model.rope = _TraceableDinoV3Rope(rope)
    try:
        yield True
    finally:
        model.rope = rope
