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

"""The confidence output as an 8-bit image: 0-255 = max softmax probability 0-1."""

import numpy as np


def confidence_to_uint8(confidence: np.ndarray) -> np.ndarray:
    """(H, W) float max softmax probability in [0, 1] -> (H, W) uint8, round(255 * p)."""
    scaled = np.rint(np.nan_to_num(confidence, nan=0.0) * 255.0)
    return np.clip(scaled, 0, 255).astype(np.uint8)
