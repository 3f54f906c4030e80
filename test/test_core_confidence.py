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

"""confidence_to_uint8: max softmax probability -> 0-255."""

from dinov3_seg_ros.core.confidence import confidence_to_uint8
from dinov3_seg_ros.core.postprocess import confidence_map
import numpy as np


def test_probabilities_map_to_0_255_rounded_and_clipped():
    conf = np.array([[0.0, 0.2, 0.5], [1.0, 1.2, np.nan]], np.float32)
    out = confidence_to_uint8(conf)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[0, 51, 128], [255, 255, 0]])


def test_confidence_of_logits_is_at_least_one_over_k():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(1, 4, 3, 5)).astype(np.float32)
    out = confidence_to_uint8(confidence_map(logits, 12, 20))
    assert out.shape == (12, 20) and out.min() >= 255 // 4 and out.max() < 255
