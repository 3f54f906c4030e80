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
"""Half-precision copies of exported models for ONNX Runtime's CUDA provider.

float16: weights and compute in fp16 (onnxruntime's own float16 converter), the graph's
input and outputs stay float32 so callers do not change. LayerNormalization and Softmax
keep float32 (DINOv3 is trained in bf16; fp16 overflow in those is a known complaint,
facebookresearch/dinov3#181). bfloat16 is not offered: ONNX Runtime's CUDA provider lacks
bf16 kernels for much of this graph; TensorRT picks its own precision from the fp32 file.
"""

import os

from ..errors import ConfigError, one_line
from .metadata import read_metadata, write_metadata

PRECISIONS = ('float32', 'float16')
KEEP_FLOAT32 = ('LayerNormalization', 'Softmax')


def convert_precision(path: str, precision: str) -> None:
    """Rewrite the ONNX file at path in precision ('float32' leaves it as it is)."""
    if precision not in PRECISIONS:
        raise ConfigError(f'--precision: {precision!r} is not one of {", ".join(PRECISIONS)}')
    if precision == 'float32':
        return
    import onnx
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
        from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST
    except ImportError:
        raise ConfigError('--precision float16 needs the onnxruntime package '
                          '(its float16 converter)') from None
    metadata = read_metadata(path)
    model = onnx.load(path)
    try:
        model = convert_float_to_float16(model, keep_io_types=True,
                                         op_block_list=list(DEFAULT_OP_BLOCK_LIST)
                                         + list(KEEP_FLOAT32))
    except Exception as exc:  # noqa: BLE001 - converter limits: one clear line
        raise ConfigError(f'float16 conversion of {path!r} failed: {one_line(exc, 300)}') \
            from None
    staged = path + '.fp16.tmp'
    onnx.save(model, staged)
    os.replace(staged, path)
    write_metadata(path, {**metadata, 'precision': precision})
