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
"""Memory over lifecycle cycles: RSS after each configure/activate/deactivate/cleanup.

Runs the lifecycle node in this process (no DDS peer: the transitions are triggered
directly), feeds a few frames while active, and prints the RSS after every cleanup and
the growth per cycle after the first. Example:
python -m dinov3_seg_ros.ros_tools.bench_lifecycle --cycles 20 --backend openvino
"""

import argparse
import gc
import json
import time
from typing import List, Optional, Sequence

import numpy as np

from ..benchmark.machine import cpu_description, rss_kib


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser."""
    parser = argparse.ArgumentParser(prog='bench_lifecycle',
                                     description=__doc__.split('\n')[0])
    parser.add_argument('--cycles', type=int, default=20, help='(default: %(default)s)')
    parser.add_argument('--backend', default='auto', help='node parameter backend')
    parser.add_argument('--onnx-model', default='', help='node parameter onnx_model')
    parser.add_argument('--backbone', default='vits16', help='(default: %(default)s)')
    parser.add_argument('--input-size', default='160', help='(default: %(default)s)')
    parser.add_argument('--cache-dir', default='', help="node parameter cache_dir")
    parser.add_argument('--frames', type=int, default=3, help='frames per active phase')
    parser.add_argument('--json', action='store_true', help='print one JSON line')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Cycle the node and print RSS after every cleanup."""
    args = build_parser().parse_args(argv)
    import rclpy
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter
    from ..ros.lifecycle_node import SegmentationLifecycleNode
    rclpy.init()
    overrides = [Parameter('backbone', value=args.backbone),
                 Parameter('input_size', value=args.input_size),
                 Parameter('backend', value=args.backend),
                 Parameter('onnx_model', value=args.onnx_model),
                 Parameter('cache_dir', value=args.cache_dir), Parameter('device', value='cpu')]
    node = SegmentationLifecycleNode(parameter_overrides=overrides)
    frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    after: List[float] = []
    configure_s: List[float] = []
    try:
        for _ in range(args.cycles):
            started = time.perf_counter()
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise SystemExit('configure failed')
            configure_s.append(time.perf_counter() - started)
            node.trigger_activate()
            for _ in range(args.frames):
                node.segmenter(frame)
            node.trigger_deactivate()
            node.trigger_cleanup()
            gc.collect()
            after.append(rss_kib() / 1024.0)
            if not args.json:
                print(f'cycle {len(after):2d}: configure {configure_s[-1]:.2f} s, RSS after '
                      f'cleanup {after[-1]:.1f} MiB', flush=True)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    per_cycle = (after[-1] - after[0]) / max(1, len(after) - 1)
    summary = {'cpu': cpu_description(), 'backend': args.backend, 'cycles': len(after),
               'first_mib': after[0], 'last_mib': after[-1], 'per_cycle_mib': per_cycle,
               'configure_s_median': float(np.median(configure_s))}
    print(json.dumps(summary) if args.json else
          f'{args.backend}: {after[0]:.1f} -> {after[-1]:.1f} MiB after cleanup, '
          f'{per_cycle:+.2f} MiB per cycle after the first ({summary["cpu"]})')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
