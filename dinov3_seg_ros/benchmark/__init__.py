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

"""Benchmark tooling behind dinov3-seg-bench and dinov3-seg-bench-cache (ROS-free).

flops counts the work per frame and measures the matmul peak, stages times the Segmenter
stage by stage, compare runs every installed backend and precision side by side; photos,
machine (the CPU model) and temporary_export are their shared helpers. The CLIs in cli/
only parse options and print; nothing here imports cli/.
"""
