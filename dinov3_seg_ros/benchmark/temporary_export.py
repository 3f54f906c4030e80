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

"""A temporary fused ONNX model for the benchmarks of the ONNX engines."""

import os
from typing import Tuple

from ..core.config import ModelConfig


def export_temporary(config: ModelConfig, directory: str, size: Tuple[int, int],
                     exporter: str = 'auto') -> str:
    """Export the fused model the torch backend builds from config (same seeded weights).

    size is the traced (H, W); returns the path of directory/bench.onnx.
    """
    from ..core.backbone import build_backbone
    from ..core.export.onnx import export_fused
    from ..core.backends.torch_backend import head_names_for, load_heads
    heads = load_heads(config, config.backbone)
    backbone = build_backbone(config.backbone, config.backbone_weights, seed=config.seed,
                              normalization=config.normalization)
    path = os.path.join(directory, 'bench.onnx')
    export_fused(backbone, heads, path, head_names=head_names_for(config.head_weights),
                 size=size, input_size=str(config.input_size), exporter=exporter)
    return path
