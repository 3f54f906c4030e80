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

"""ROS benchmark: end-to-end latency, throughput, non-model share and node memory.

``dinov3-seg-ros-bench --size 640x480 --frames 30 [--rss-frames 2000]``. Method:

1. stages (in this process, before the node starts): the node's per-frame path timed piece by
   piece on the same configuration: CDR deserialize + decode (image_codec), the core's own
   preprocess / backbone / head / postprocess timings, label encoding + CDR serialize;
2. end to end (segmentation_node subprocess, loopback DDS with the SHM profile): closed loop,
   one frame in flight: latency = label receipt - camera stamp, throughput = frames / time
   (the node segments one frame at a time). The node's own per-frame time comes from /diagnostics
   (processing_mean_ms); non-model work = DDS transport + scheduling (latency - node time) +
   the step-1 medians of deserialize, decode, preprocess, postprocess, overlay and
   encode + serialize. Target: <= 10 % of the backbone time at 640x480 (see non_model_share);
3. memory: VmRSS of the node process (/proc/<pid>/status) over --rss-frames closed-loop frames
   (small --rss-size / --rss-input-size keep it fast); growth = last sample / sample after
   warm-up - 1 (target < 5 %).

Step 1 lives in bench_stages.py, steps 2 and 3 in bench_closed_loop.py, the non-model
accounting and the summary in bench_report.py.
"""

import argparse
import json
import sys
from typing import Dict, List, Optional

import rclpy

from .arguments import non_negative_int
from .bench_closed_loop import BenchClient, camera_frame, run_node_phase
from .bench_report import add_non_model, summary
from .bench_stages import node_params, time_stages
from .image_publisher import size_text
from ..ros.node_process import add_override_arguments
from ..benchmark.machine import cpu_description
from ..core.errors import ConfigError, Dinov3SegError
from .domain import tool_environment


def build_parser() -> argparse.ArgumentParser:
    """Options of dinov3-seg-ros-bench."""
    parser = argparse.ArgumentParser(prog='dinov3-seg-ros-bench', description=__doc__.split(
        '\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', type=size_text, default='640x480',
                        help='camera frame size WxH (default: %(default)s)')
    parser.add_argument('--frames', type=non_negative_int, default=30,
                        help='closed-loop frames to time (default: %(default)s)')
    parser.add_argument('--stage-frames', type=non_negative_int, default=5,
                        help='frames for the in-process stage timings (0 = skip; '
                             'default: %(default)s)')
    parser.add_argument('--rss-frames', type=non_negative_int, default=0,
                        help='frames for the node memory soak (e.g. 2000; 0 = skip; '
                             'default: %(default)s)')
    parser.add_argument('--rss-size', type=size_text, default='160x120',
                        help='camera size for the soak (default: %(default)s)')
    parser.add_argument('--rss-input-size', default='64',
                        help='node input_size for the soak (default: %(default)s)')
    add_override_arguments(parser)
    parser.add_argument('--domain-id', type=int, default=None,
                        help='ROS_DOMAIN_ID to use (default: the exported ROS_DOMAIN_ID, '
                             'else a private one per run)')
    parser.add_argument('--json', action='store_true',
                        help='print only the JSON report (default: a summary, then the JSON)')
    return parser


def node_overrides(args: argparse.Namespace, input_size: str) -> Dict[str, str]:
    """Return the node parameters the benchmark overrides (empty = the params file's value)."""
    return {'backbone': args.backbone, 'device': args.device, 'input_size': input_size}


def run(args: argparse.Namespace) -> Dict[str, object]:
    """Run every phase and return the report."""
    tool_environment(args.domain_id)
    report: Dict[str, object] = {'cpu': cpu_description(), 'size': args.size,
                                 'input_size': args.input_size or 'yaml'}
    if args.stage_frames > 0:
        params = node_params(args.params_file, node_overrides(args, args.input_size))
        report['stages_ms'] = time_stages(params, camera_frame(args.size), args.stage_frames)
    context = rclpy.Context()
    rclpy.init(context=context)
    client = BenchClient(context)
    try:
        if args.frames > 0:
            report['end_to_end'] = run_node_phase(
                client, args.params_file, node_overrides(args, args.input_size), args.size,
                args.frames, rss=False)
        if args.rss_frames > 0:
            report['memory'] = run_node_phase(
                client, args.params_file, node_overrides(args, args.rss_input_size),
                args.rss_size, args.rss_frames, rss=True)
    finally:
        client.destroy_node()
        rclpy.try_shutdown(context=context)
    add_non_model(report)
    return report


def main(argv: Optional[List[str]] = None) -> int:
    """Console-script entry point (``dinov3-seg-ros-bench``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not (args.frames or args.stage_frames or args.rss_frames):
        parser.error('nothing to measure: --frames, --stage-frames and --rss-frames are all 0')
    try:
        report = run(args)
    except ConfigError as error:  # ROS_DOMAIN_ID, --domain-id, --params-file, --input-size...
        print(f'dinov3-seg-ros-bench: {error}', file=sys.stderr)
        return 2
    except (Dinov3SegError, ValueError) as error:  # the node died or never answered
        print(f'dinov3-seg-ros-bench: {error}', file=sys.stderr)
        return 1
    if not args.json:
        print(summary(report))
    print(json.dumps(report, indent=None if args.json else 2, default=float))
    return 0


if __name__ == '__main__':
    sys.exit(main())
