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

"""Inference engines behind one interface (base.Backend); the Segmenter never branches on them.

A backend is built from a ModelConfig (selection.create_backend, which also resolves
backend 'auto') and maps a normalized (N, 3, H, W) float32 batch to one (N, K_i, h, w)
float32 logits array or tensor per head (h = H / 16). It describes the model it runs
(class_names per head, head_names, mean, std, backbone_name, untrained), where it runs
(device label, precision) and what it accepts (fixed_size(), wants_torch_input).
Modules: torch_backend (timm backbone + heads, autocast), onnxruntime (an exported fused
.onnx), openvino (a fused .onnx, an OpenVINO IR .xml, or the torch model converted in memory).
"""
