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
"""timm's DINOv3 RoPE table, built once per (h, w, device, dtype) and reused.

With dynamic_img_size timm calls rope.get_embed(shape=(h, w)) on every forward; that builds
the coordinate grid on the CPU and copies it to the device with a blocking transfer. The
cache keeps the finished (h * w, 2 * dim) table on the device. Values come from timm's own
get_embed on the module's actual `periods` buffer (loaded from a checkpoint or not): the
key holds the buffer's storage and version, so replacing or copying into it starts a new
entry. The cache is bypassed where a stored table would be wrong or would break tracing:
training with coordinate augmentation, gradients enabled, torch.compile/export, JIT/ONNX.
"""

from collections import OrderedDict
from typing import Hashable, Optional, Sequence, Tuple

import torch
from timm.layers.pos_embed_sincos import RotaryEmbeddingDinoV3

MAX_ENTRIES = 8  # frame sizes kept per module (a node sees one or two)


class CachedRotaryEmbeddingDinoV3(RotaryEmbeddingDinoV3):
    """RotaryEmbeddingDinoV3 whose get_embed(shape) remembers its tables (see the module doc).

    Made by install_rope_cache (class swap of an existing module: its state is unchanged).
    """

    rope_cache: 'OrderedDict[Hashable, torch.Tensor]'

    def cache_key(self, shape: Sequence[int], dtype: Optional[torch.dtype]) -> Tuple:
        """(h, w, device, dtype, periods storage, periods version) of a table."""
        periods = self.periods
        try:
            version = periods._version
        except RuntimeError:  # an inference tensor has no version counter (and is not mutable)
            version = -1
        return (int(shape[0]), int(shape[1]), periods.device, dtype or periods.dtype,
                periods.data_ptr(), version)

    def _cacheable(self) -> bool:
        if self.training and self.aug_active:
            return False
        if torch.is_grad_enabled() or torch.jit.is_tracing() or torch.jit.is_scripting():
            return False
        return not (torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export())

    def get_embed(self, shape: Optional[Sequence[int]] = None,
                  dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        """(h * w, 2 * dim) sin/cos table of timm's get_embed, from the cache when possible."""
        if shape is None or not self._cacheable():
            return super().get_embed(shape, dtype)
        cache = self.__dict__.setdefault('rope_cache', OrderedDict())
        key = self.cache_key(shape, dtype)
        table = cache.get(key)
        if table is None:
            table = cache[key] = super().get_embed(list(shape), dtype)
            while len(cache) > MAX_ENTRIES:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        return table


def install_rope_cache(rope: Optional[torch.nn.Module]) -> bool:
    """Make a timm RotaryEmbeddingDinoV3 module cache its tables; False for other modules."""
    if type(rope) is RotaryEmbeddingDinoV3:
        rope.__class__ = CachedRotaryEmbeddingDinoV3
        rope.__dict__['rope_cache'] = OrderedDict()
    return isinstance(rope, CachedRotaryEmbeddingDinoV3)
