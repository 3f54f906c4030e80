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

"""Real photos for benchmarks: scikit-image's samples resized to the camera size."""

from typing import List, Sequence

import numpy as np

PHOTOS = ('astronaut', 'coffee', 'chelsea')


def photos(height: int, width: int, names: Sequence[str] = PHOTOS) -> List[np.ndarray]:
    """Return the named skimage sample photos as (height, width, 3) uint8 RGB."""
    import cv2
    from skimage import data
    return [np.ascontiguousarray(cv2.resize(getattr(data, name)(), (width, height),
                                            interpolation=cv2.INTER_LINEAR))
            for name in names]


def photo(height: int, width: int) -> np.ndarray:
    """Return the astronaut photo resized to (height, width, 3) uint8 RGB."""
    return photos(height, width, ('astronaut',))[0]
