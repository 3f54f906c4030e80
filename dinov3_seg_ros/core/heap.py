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

release_file_pages() does the same for read-only file mappings whose pages the process no
longer reads: OpenVINO maps the IR's weights (or its compiled blob) and, after the first
inference, runs on its own repacked copy; the mapped pages would stay in RSS until the kernel
needed the memory. madvise(MADV_DONTNEED) drops them from the process (the page cache keeps
them, a later read faults them back in from the file).
"""

import ctypes
import ctypes.util
import functools
import os
from typing import Any, Iterable, List, Optional, Tuple

MADV_DONTNEED = 4  # Linux


@functools.lru_cache(maxsize=1)
def _libc() -> Optional[Any]:
    name = ctypes.util.find_library('c') or 'libc.so.6'
    try:
        libc = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    if hasattr(libc, 'madvise'):
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return libc


def trim_heap() -> bool:
    """Return freed heap pages to the OS; True when glibc released something."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if hasattr(libc, 'malloc_trim') else False


def read_only_mappings(paths: Iterable[str]) -> List[Tuple[int, int]]:
    """(start, end) of this process's read-only mappings of the files, or of files in folders.

    paths: files or folders (a folder matches every file below it); a file deleted since it
    was mapped still matches. [] off Linux.
    """
    files, folders = set(), []
    for path in paths:
        if path:
            real = os.path.realpath(path)
            if os.path.isdir(real):
                folders.append(real + os.sep)
            else:
                files.add(real)
    if not files and not folders:
        return []
    found, prefixes = [], tuple(folders)
    try:
        with open('/proc/self/maps') as stream:
            for line in stream:
                fields = line.split(maxsplit=5)
                if len(fields) < 6 or 'w' in fields[1]:
                    continue
                name = fields[5].rstrip('\n').removesuffix(' (deleted)')
                if name in files or name.startswith(prefixes):
                    start, end = (int(value, 16) for value in fields[0].split('-'))
                    found.append((start, end))
    except OSError:
        return []
    return found


def release_file_pages(paths: Iterable[str]) -> int:
    """Drop the resident pages of read-only mappings of paths (files or folders).

    Returns the bytes of the mappings advised (0 where madvise or /proc is missing).
    """
    libc = _libc()
    if not hasattr(libc, 'madvise'):
        return 0
    released = 0
    for start, end in read_only_mappings(paths):
        if libc.madvise(start, end - start, MADV_DONTNEED) == 0:
            released += end - start
    return released
