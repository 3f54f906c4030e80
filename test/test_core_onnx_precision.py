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
"""float16 ONNX copies: fp16 weights, float32 I/O, same logits within fp16 rounding."""

import numpy as np
import onnx
import pytest

from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.core.backends.onnxruntime import OnnxRuntimeBackend
from dinov3_seg_ros.core.export.onnx import export_head
from dinov3_seg_ros.core.export.metadata import read_metadata
from dinov3_seg_ros.core.export.precision import convert_precision
from dinov3_seg_ros.core.backends.torch_backend import random_head


def test_float16_head_keeps_float32_io_and_logits(tmp_path):
    path = str(tmp_path / 'head.onnx')
    export_head(random_head(32, ['a', 'b', 'c', 'd']), path, grid=(4, 6))
    x = np.random.default_rng(0).normal(size=(1, 32, 4, 6)).astype(np.float32)
    reference = OnnxRuntimeBackend(path, 'cpu')(x)[0]
    convert_precision(path, 'float16')
    model = onnx.load(path)
    types = {init.data_type for init in model.graph.initializer if len(init.dims) > 1}
    assert types == {onnx.TensorProto.FLOAT16}
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert read_metadata(path)['precision'] == 'float16'
    backend = OnnxRuntimeBackend(path, 'cpu')
    assert backend.output_types == ['tensor(float)']
    out = backend(x)[0]
    assert out.dtype == np.float32
    assert np.abs(out - reference).max() <= 2e-3 * max(1.0, np.abs(reference).max())


def test_unknown_precision_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match='--precision'):
        convert_precision(str(tmp_path / 'x.onnx'), 'int4')
