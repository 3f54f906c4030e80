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
"""Give freed heap memory back to the operating system (glibc malloc_trim).

After a model is released (lifecycle cleanup) its weights and buffers are free inside the
process, but glibc keeps most of that memory mapped for later allocations, so RSS stays up
and the next configure may land elsewhere. trim_heap() asks glibc to return what it can.
A no-op where libc has no malloc_trim (musl, macOS).
"""

import ctypes
import ctypes.util
import functools
from typing import Any, Optional


@functools.lru_cache(maxsize=1)
def _libc() -> Optional[Any]:
    name = ctypes.util.find_library('c') or 'libc.so.6'
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, 'malloc_trim') else None


def trim_heap() -> bool:
    """Return freed heap pages to the OS; True when glibc released something."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
