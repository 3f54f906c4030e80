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

"""Inference engines behind one contract (base.Backend); the Segmenter never branches on them.

A backend is built one way, `Backend.from_config(config)` (selection.create_backend also
resolves backend 'auto'), and maps a normalized (N, 3, H, W) float32 batch to one
(N, K_i, h, w) float32 logits array or tensor per head (h = H / 16). It describes the model
it runs in one immutable `info` (base.ModelInfo: class names per head, head names, mean,
std, backbone, untrained, device, precision and its reason, fixed size); the facade keeps
that object. Optional capabilities are declared in `capabilities` (base.FEATURES: the two
stages backbone -> heads; base.COMPILE: torch.compile); a backend lacking one raises
base.CapabilityError.

Modules: torch_backend (timm backbone + heads, autocast), onnxruntime (an exported fused
.onnx; ort_session opens it, tensorrt_cache keys its TensorRT engines), openvino (a fused
.onnx, an OpenVINO IR .xml, or the torch model converted in memory).

Adding an engine, e.g. native TensorRT, is one new module and one line::

    # core/backends/tensorrt_native.py
    class TensorRtBackend(Backend):
        name = 'tensorrt'

        @classmethod
        def from_config(cls, config):
            backend = cls()
            ...  # deserialize the engine named by config.onnx_model
            backend.info = describe_export(metadata, config.onnx_model, config, cls.name)
            return backend

        def __call__(self, x, timer=None):
            ...  # (N, 3, H, W) -> [(N, K_i, h, w) per head]

    # selection.py, ENGINES:
    'tensorrt': ('.tensorrt_native', 'TensorRtBackend'),

core.config.BACKENDS (the choices of the node parameter and the CLIs) follows the registry.
"""
