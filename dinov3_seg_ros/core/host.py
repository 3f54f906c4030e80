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

"""What the host machine offers the CPU engines: its physical cores."""

import os


def physical_cores() -> int:
    """Physical cores this process may run on (hyper-threads not counted)."""
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:
        allowed = set(range(os.cpu_count() or 1))
    cores, cpu, package = set(), None, '0'
    try:
        with open('/proc/cpuinfo', encoding='ascii', errors='replace') as stream:
            for line in stream:
                key, _, value = line.partition(':')
                key, value = key.strip(), value.strip()
                if key == 'processor':
                    cpu = int(value)
                elif key == 'physical id':
                    package = value
                elif key == 'core id' and cpu in allowed:
                    cores.add((package, value))
    except (OSError, ValueError):
        cores = set()
    return max(1, min(len(cores) or len(allowed), len(allowed)))
