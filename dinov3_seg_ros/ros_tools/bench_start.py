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
"""First vs later starts of segmentation_node: time to ready, libtorch mapped, RSS.

Starts the node --starts times one after the other with the same params file (default:
the shipped config/segmentation.yaml) and one fresh model cache (XDG_CACHE_HOME in a
temporary folder unless --cache-home is given), so the first start builds the cache entry
and the later ones read it. Per start: seconds from launch to the 'ready:' log line,
whether libtorch is mapped into the node (/proc/PID/maps), and its RSS after --frames
camera frames (640x480 photos from image_publisher). Example:
python -m dinov3_seg_ros.ros_tools.bench_start --starts 2
"""

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

from ..benchmark.machine import cpu_description, memory_kib
from ..ros.node_process import console_command, node_command, ros_environment, start, stop
from .domain import resolve_domain_id


def process_facts(pid: int) -> Dict[str, Any]:
    """Return the RSS of process pid in MiB (and its parts) and which engines it maps.

    Parts: anonymous, file-backed and shared memory; engines: libtorch, libopenvino. The
    shared memory is Fast DDS's transport segment (the shipped profiles: 64 MB).
    """
    kib = memory_kib(pid)
    with open(f'/proc/{pid}/maps', encoding='ascii', errors='replace') as handle:
        maps = handle.read()
    return {'rss_mib': round(kib['VmRSS'] / 1024, 1),
            'rss_anon_mib': round(kib.get('RssAnon', 0) / 1024, 1),
            'rss_file_mib': round(kib.get('RssFile', 0) / 1024, 1),
            'rss_shmem_mib': round(kib.get('RssShmem', 0) / 1024, 1),
            'libtorch': 'libtorch' in maps, 'libopenvino': 'libopenvino' in maps}


def wait_for(path: str, text: str, child: Any, timeout: float) -> bool:
    """Wait until text appears in the log at path; False when the child exits or on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path, errors='replace') as handle:
            if text in handle.read():
                return True
        if child.process.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def one_start(args: argparse.Namespace, folder: str, index: int) -> Dict[str, Any]:
    """Launch the node, time it to ready, feed frames, read its facts, stop it."""
    log = os.path.join(folder, f'node{index}.log')
    started = time.monotonic()
    node = start('segmentation_node', node_command(args.params_file, {}), log)
    try:
        if not wait_for(log, 'ready:', node, args.timeout):
            raise SystemExit(f'the node did not get ready:\n{open(log).read()[-3000:]}')
        ready_s = time.monotonic() - started
        publisher = start('image_publisher', console_command(
            'image_publisher', 'dinov3_seg_ros.ros_tools.image_publisher')
            + ['--rate', str(args.rate), '--count', str(args.frames), '--resize', '640x480',
               '--wait-subscribers', '10'], os.path.join(folder, f'pub{index}.log'))
        publisher.process.wait(timeout=args.timeout)
        time.sleep(2.0)  # the last frames go through the model
        facts = process_facts(node.process.pid)
    finally:
        stop(node)
    with open(log, errors='replace') as handle:
        text = handle.read()
    return dict(facts, start=index + 1, ready_s=round(ready_s, 2),
                warnings=sum('Warning' in line for line in text.splitlines()))


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser."""
    parser = argparse.ArgumentParser(prog='bench_start', description=__doc__.split('\n')[0])
    parser.add_argument('--starts', type=int, default=2, help='(default: %(default)s)')
    parser.add_argument('--params-file', default='', help='default: the shipped YAML')
    parser.add_argument('--cache-home', default='', help='XDG_CACHE_HOME (default: fresh)')
    parser.add_argument('--frames', type=int, default=5, help='(default: %(default)s)')
    parser.add_argument('--rate', type=float, default=2.0, help='(default: %(default)s)')
    parser.add_argument('--timeout', type=float, default=600.0, help='seconds per start')
    parser.add_argument('--domain-id', type=int, default=None)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Start the node --starts times; print one JSON line per start."""
    args = build_parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix='dinov3-bench-start-') as folder:
        os.environ.update(ros_environment(resolve_domain_id(args.domain_id)))
        os.environ['XDG_CACHE_HOME'] = args.cache_home or os.path.join(folder, 'cache')
        rows: List[Dict[str, Any]] = []
        cpu = cpu_description()
        for index in range(args.starts):
            rows.append({**one_start(args, folder, index), 'cpu': cpu})
            print(json.dumps(rows[-1]), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
