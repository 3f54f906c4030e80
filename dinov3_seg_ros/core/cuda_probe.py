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
"""Is there a CUDA device? Answered without importing torch.

cuda_present(): torch's own answer when torch is already loaded; else False at once when
the machine has no NVIDIA device node (/dev/nvidia0.., or Jetson's /dev/nvhost-gpu /
/dev/nvgpu), else the driver's answer: libcuda's cuInit and cuDeviceGetCount (ctypes).
backend 'auto' asks this first, so a CPU-only machine never loads torch to learn that it
has no GPU, and device 'cuda' without CUDA fails before any model is built.
"""

import ctypes
import functools
import glob
import os
import sys
from typing import Sequence

DEVICE_NODES = ('/dev/nvidia[0-9]*', '/dev/nvhost-gpu', '/dev/nvgpu*')
LIBCUDA = ('libcuda.so.1', 'libcuda.so')
NO_CUDA = "requested but no CUDA device is available (use 'auto' or 'cpu')"


def device_nodes(patterns: Sequence[str] = DEVICE_NODES) -> list:
    """List the NVIDIA GPU device nodes present (empty on a machine without an NVIDIA driver)."""
    return sorted(path for pattern in patterns for path in glob.glob(pattern))


def driver_device_count(names: Sequence[str] = LIBCUDA) -> int:
    """Count the CUDA devices the driver reports (cuInit, cuDeviceGetCount); 0 on any error."""
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        count = ctypes.c_int(0)
        try:
            if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
                return 0
        except AttributeError:
            return 0
        return int(count.value)
    return 0


@functools.lru_cache(maxsize=1)
def _probe() -> bool:
    if os.environ.get('CUDA_VISIBLE_DEVICES', None) in ('', '-1'):
        return False
    return bool(device_nodes()) and driver_device_count() > 0


def cuda_present() -> bool:
    """Tell whether a usable CUDA device exists (see the module doc); never imports torch."""
    torch = sys.modules.get('torch')
    if torch is not None:
        try:
            return bool(torch.cuda.is_available() and torch.cuda.device_count() > 0)
        except RuntimeError:
            return False
    return _probe()


def is_cuda_request(device: str) -> bool:
    """Tell whether device is 'cuda' or 'cuda:N'."""
    text = str(device)
    return text == 'cuda' or text.startswith('cuda:')


def no_cuda_message(device: str) -> str:
    """Return the one line for device 'cuda' without CUDA (the same as device.select_device's)."""
    return f'device: {device!r} {NO_CUDA}'
