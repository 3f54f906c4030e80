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
"""TensorRT engine cache for ONNX Runtime's TensorRT provider, one folder per engine kind.

An engine is only valid for the model it was built from, its precision and its shape
profile, so the folder name is a hash of all three (trt_cache_key). The profile (min, opt,
max input shapes) comes from input_size: a fixed WxH is one shape; a long side L admits
any frame whose long side is L (both orientations, sides down to one patch); 'native'
admits up to 1920x1088. Building an engine takes minutes on a Jetson: it is logged once.
"""

import glob
import hashlib
import logging
import os
from typing import Any, Dict, Tuple

from ..config import InputSize
from ..preprocess import model_input_size, round_to_patch

LOGGER = logging.getLogger(__name__)
PATCH = 16
NATIVE_MAX = (1088, 1920)  # (H, W) largest frame a 'native' profile accepts
Shape = Tuple[int, int, int, int]


def shape_profile(input_size: InputSize, batch: int = 1) -> Tuple[Shape, Shape, Shape]:
    """(min, opt, max) (N, 3, H, W) input shapes for an InputSize.

    Sides are rounded exactly as preprocess.model_input_size rounds them (round_to_patch:
    ties to the smaller multiple), so every frame's model input lies inside the profile.
    """
    if input_size.mode == 'fixed':
        shape = (batch, 3) + model_input_size(1, 1, input_size, PATCH)
        return shape, shape, shape
    if input_size.mode == 'long':
        side = round_to_patch(input_size.long_side, PATCH)
        return ((batch, 3, PATCH, PATCH), (batch, 3) + model_input_size(3, 4, input_size, PATCH),
                (batch, 3, side, side))
    return (batch, 3, PATCH, PATCH), (batch, 3, 480, 640), (batch, 3) + NATIVE_MAX


def file_digest(path: str) -> str:
    """sha256 hex digest of a file's bytes (and of its external-data files, if any)."""
    digest = hashlib.sha256()
    for name in [path] + sorted(glob.glob(os.path.splitext(path)[0] + '*.data')):
        with open(name, 'rb') as stream:
            for block in iter(lambda: stream.read(1 << 20), b''):
                digest.update(block)
    return digest.hexdigest()


def trt_cache_key(model_digest: str, precision: str, profile: Tuple[Shape, Shape, Shape]) -> str:
    """16 hex digits naming the engine of (model file digest, precision, shape profile)."""
    text = f'{model_digest}|{precision}|' + '|'.join('x'.join(map(str, s)) for s in profile)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def profile_options(input_name: str, profile: Tuple[Shape, Shape, Shape]) -> Dict[str, str]:
    """Give the trt_profile_{min,opt,max}_shapes provider options of a profile."""
    return {f'trt_profile_{kind}_shapes': f'{input_name}:' + 'x'.join(map(str, shape))
            for kind, shape in zip(('min', 'opt', 'max'), profile)}


def trt_options(path: str, base_dir: str, precision: str, input_size: InputSize,
                input_name: str = 'image', device_id: int = 0) -> Dict[str, Any]:
    """Give the TensorRT provider options: a per-engine cache folder; log when it builds."""
    profile = shape_profile(input_size)
    key = trt_cache_key(file_digest(path), precision, profile)
    folder = os.path.join(base_dir, key)
    os.makedirs(folder, exist_ok=True)
    if not glob.glob(os.path.join(folder, '*.engine')):
        LOGGER.warning('TensorRT: building a %s engine for %s (profile min/opt/max %s) into %s; '
                       'this takes minutes on a Jetson, later starts reuse it', precision,
                       os.path.basename(path), ' / '.join('x'.join(map(str, s[2:]))
                                                          for s in profile), folder)
    options: Dict[str, Any] = {
        'device_id': device_id, 'trt_fp16_enable': precision == 'float16',
        'trt_engine_cache_enable': True, 'trt_engine_cache_path': folder,
        'trt_timing_cache_enable': True, 'trt_timing_cache_path': base_dir}
    options.update(profile_options(input_name, profile))
    return options
