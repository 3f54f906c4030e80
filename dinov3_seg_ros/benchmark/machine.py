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

"""The machine a figure was measured on: the CPU model lscpu reports, a process's memory."""

import resource
import subprocess

from ..core.host import physical_cores
from ..core.precision import cpu_flags

# the lscpu flags that decide matmul speed: vector width, native bf16, int8 dot products
ISA_FLAGS = ('avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'avx_vnni', 'amx_bf16',
             'amx_int8')


def cpu_model_name() -> str:
    """Return the lscpu "Model name" (empty when lscpu is missing)."""
    try:
        out = subprocess.run(['lscpu'], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ''
    for line in out.splitlines():
        if line.startswith('Model name:'):
            return line.split(':', 1)[1].strip()
    return ''


def cpu_isa() -> str:
    """Return this CPU's matmul-relevant lscpu flags, e.g. 'avx2 fma' ('' when unknown)."""
    flags = cpu_flags()
    return ' '.join(flag for flag in ISA_FLAGS if flag in flags)


def cpu_description() -> str:
    """Say what a figure ran on: 'AMD EPYC, 2 cores, flags avx2 fma'."""
    return (f"{cpu_model_name() or 'unknown CPU'}, {physical_cores()} cores, "
            f"flags {cpu_isa() or 'none of ' + ' '.join(ISA_FLAGS)}")


def memory_kib(pid: object = 'self') -> dict:
    """Return VmRSS and its parts RssAnon, RssFile, RssShmem of /proc/<pid>/status in KiB.

    An empty dict where the file cannot be read.
    """
    found = {}
    try:
        with open(f'/proc/{pid}/status', encoding='ascii') as stream:
            for line in stream:
                key = line.split(':', 1)[0]
                if key in ('VmRSS', 'RssAnon', 'RssFile', 'RssShmem'):
                    found[key] = int(line.split()[1])
    except (OSError, ValueError):
        return {}
    return found


def rss_kib(pid: object = 'self') -> int:
    """Resident set size (VmRSS of /proc/<pid>/status) in KiB; 0 where it cannot be read."""
    return memory_kib(pid).get('VmRSS', 0)


def memory_mb() -> dict:
    """Return this process's memory now and at its peak, in MiB (rss_mb, peak_rss_mb)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {'rss_mb': round(rss_kib() / 1024, 1), 'peak_rss_mb': round(peak, 1)}
