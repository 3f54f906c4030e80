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

"""heap: freed heap and no-longer-read mapped file pages go back to the OS."""

import mmap
import os
import sys

import pytest

from dinov3_seg_ros.core.heap import read_only_mappings, release_file_pages, trim_heap

linux_only = pytest.mark.skipif(not sys.platform.startswith('linux'), reason='/proc, madvise')


def resident_kib(path):
    """Resident KiB of this process's mappings of path, from /proc/self/smaps."""
    real, total, inside = os.path.realpath(path), 0, False
    with open('/proc/self/smaps') as stream:
        for line in stream:
            fields = line.split()
            if '-' in fields[0] and len(fields) >= 5 and ':' in fields[3]:  # a mapping line
                inside = len(fields) >= 6 and fields[5] == real
            elif inside and fields[0] == 'Rss:':
                total += int(fields[1])
    return total


@linux_only
def test_released_pages_leave_rss_and_read_back_unchanged(tmp_path):
    path = tmp_path / 'weights.bin'
    data = os.urandom(8 << 20)
    path.write_bytes(data)
    with open(path, 'rb') as stream:
        view = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    assert view[:] == data  # every page read: resident
    assert resident_kib(path) >= 8 << 10
    assert len(read_only_mappings([str(path)])) == 1
    assert len(read_only_mappings([str(tmp_path)])) == 1  # a folder matches its files
    assert read_only_mappings([str(tmp_path / 'other.bin'), '']) == []
    assert release_file_pages([str(path)]) >= 8 << 20
    assert resident_kib(path) < 1 << 10
    assert view[:] == data  # faulted back in from the file
    view.close()


@linux_only
def test_writable_mappings_are_left_alone(tmp_path):
    path = tmp_path / 'state.bin'
    path.write_bytes(b'\0' * (1 << 20))
    with open(path, 'r+b') as stream:
        view = mmap.mmap(stream.fileno(), 0)
    view[:4] = b'abcd'  # a dirty shared page: dropping it would be the kernel's business
    assert read_only_mappings([str(path)]) == []
    assert release_file_pages([str(path)]) == 0
    assert view[:4] == b'abcd'
    view.close()


def test_trim_heap_never_fails():
    assert trim_heap() in (True, False)
