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

"""Calibration images for post-training quantization: a folder, files or sample photos.

calibration_images() yields what the exported model takes: (1, 3, H, W) float32 frames
resized to the export size and normalized with the checkpoint's mean/std (Preprocessor).
"""

import os
from typing import Iterator, List, Sequence, Tuple

import numpy as np

from ..errors import ConfigError

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')
# skimage.data photos bundled with scikit-image (no download); gray ones become RGB
DEFAULT_PHOTOS = ('astronaut', 'coffee', 'chelsea', 'rocket', 'immunohistochemistry',
                  'hubble_deep_field', 'camera', 'coins')
DEFAULT_SOURCE = 'skimage.data'


def resolve_sources(paths: Sequence[str]) -> Tuple[List[str], str]:
    """Calibration sources -> (image ids, description); ids are paths or skimage: names.

    No paths: the DEFAULT_PHOTOS. A folder contributes its images (sorted, by extension);
    a missing folder/file, or a folder without images -> ConfigError naming it.
    """
    if not paths:
        return [f'skimage:{name}' for name in DEFAULT_PHOTOS], DEFAULT_SOURCE
    found: List[str] = []
    for path in paths:
        if os.path.isdir(path):
            try:
                names = sorted(os.listdir(path))
            except OSError as exc:
                raise ConfigError(f'--calibration-images: cannot read folder {path!r}: '
                                  f'{exc.strerror}') from None
            images = [os.path.join(path, n) for n in names
                      if n.lower().endswith(IMAGE_EXTENSIONS)
                      and os.path.isfile(os.path.join(path, n))]
            if not images:
                raise ConfigError(f'--calibration-images: folder {path!r} has no images '
                                  f'({", ".join(IMAGE_EXTENSIONS)})')
            found.extend(images)
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise ConfigError(f'--calibration-images: {path!r} is not a file or folder')
    return found, ', '.join(paths)


def read_calibration_rgb(source: str) -> np.ndarray:
    """Load one source (path or 'skimage:name') as (H, W, 3) uint8 RGB (ConfigError)."""
    if source.startswith('skimage:'):
        try:
            from skimage import data
            rgb = np.asarray(getattr(data, source.split(':', 1)[1])())
        except (ImportError, AttributeError, OSError) as exc:
            raise ConfigError(f'calibration photo {source!r} unavailable (scikit-image): '
                              f'{exc}; pass --calibration-images') from None
    else:
        import cv2
        from dinov3_seg_ros.core.quiet_opencv import quiet_opencv
        with quiet_opencv():
            bgr = cv2.imread(source, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ConfigError(f'--calibration-images: cannot read image {source!r}')
        rgb = bgr[:, :, ::-1]
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=-1)
    return np.ascontiguousarray(rgb[:, :, :3], dtype=np.uint8)


def calibration_images(sources: Sequence[str], size: Sequence[int], mean: Sequence[float],
                       std: Sequence[float], count: int = 0) -> Iterator[np.ndarray]:
    """Yield (1, 3, H, W) float32 normalized frames at size (H, W); count > 0 caps them.

    Sources cycle when count exceeds them, so a few photos can feed a larger subset.
    """
    from ..preprocess import Preprocessor
    if not sources:
        raise ConfigError('calibration: no images')
    preprocess = Preprocessor(f'{int(size[1])}x{int(size[0])}', mean, std)
    total = count if count > 0 else len(sources)
    for i in range(total):
        frame = preprocess.to_numpy(read_calibration_rgb(sources[i % len(sources)]))[0]
        if frame.shape[2:] != tuple(size):
            raise ConfigError(f'calibration: preprocessing gave {frame.shape[3]}x'
                              f'{frame.shape[2]}, not the export size {size[1]}x{size[0]}')
        yield frame
