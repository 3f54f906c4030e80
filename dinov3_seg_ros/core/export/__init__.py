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


"""The export room: a trained model -> files the inference engines run on their own.

onnx (fused image -> logits and head-only graphs, dynamic or fixed size), rope (a traceable
RoPE for export), precision (fp16 conversion), parity (eager vs exported outputs), int8
(NNCF post-training quantization to an OpenVINO IR), calibration (the images int8 uses), and
metadata (the self-description every exported .onnx and IR carries, one reader and writer).
Importing this package imports nothing heavy: metadata and calibration stay torch-free.
"""
