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

"""ROS benchmark: N cameras on one segmentation_node against N single-camera nodes.

``dinov3-seg-ros-bench-multicam --cameras 1 2 4 --size 320x240 --backbone vits16``. For each
N, one node with cameras [cam0..camN-1] and then N separate nodes (one per namespace; N=1 is
the same setup, run once) are started as subprocesses on loopback DDS. A client publishes
every camera at --rate Hz (best effort, open loop: the nodes drop what they cannot process)
and, after every camera has answered twice (warm-up), counts labels for --seconds:
aggregate fps = labels of all cameras / time; latency = label receipt - camera stamp;
RSS = sum of the nodes' VmRSS (/proc/<pid>/status), sampled once a second (max reported).
"""

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Dict, List, NamedTuple, Optional, Sequence

import cv2
import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from ..benchmark.machine import cpu_description, rss_kib
from ..core.config import FrameSize
from ..core.errors import ConfigError, Dinov3SegError
from ..ros import image_codec as codec
from ..ros.node_process import (add_override_arguments, Child, node_command, spin_until,
                                start, stop)
from .arguments import positive_float, positive_int
from .domain import tool_environment
from .image_publisher import size_text


class Setup(NamedTuple):
    """What one configuration runs: node commands and (image, labels) topics per camera."""

    name: str
    commands: List[List[str]]
    cameras: List[Dict[str, str]]


def camera_message(width: int, height: int) -> Image:
    """Build an rgb8 'camera' frame (the astronaut photo, else a gradient) of WxH."""
    try:
        from skimage import data
        rgb = cv2.resize(data.astronaut(), (width, height), interpolation=cv2.INTER_AREA)
    except ImportError:  # pragma: no cover - skimage ships with the test dependencies
        ramp = np.linspace(0, 255, width, dtype=np.uint8)
        rgb = np.dstack([np.tile(ramp, (height, 1))] * 3)
    return codec.rgb_to_image(np.ascontiguousarray(rgb), 'rgb8', Header())


def setups(count: int, parameters: str, overrides: Dict[str, str]) -> List[Setup]:
    """Build the one-node setup for count cameras and, for count > 1, the separate nodes."""
    names = [f'cam{i}' for i in range(count)]
    ns = f'/mcbench_one_{count}'
    one = Setup(f'one node, {count} camera(s)', [node_command(parameters, dict(
        overrides, cameras=','.join(names))) + ['-r', f'__ns:={ns}']],
        [{'image': f'{ns}/{n}/image', 'labels': f'{ns}/{n}/segmentation/labels'}
         for n in names])
    if count == 1:
        return [one]
    spaces = [f'/mcbench_sep_{count}_{i}' for i in range(count)]
    separate = Setup(f'{count} separate nodes', [
        node_command(parameters, overrides) + ['-r', f'__ns:={s}'] for s in spaces],
        [{'image': f'{s}/image', 'labels': f'{s}/segmentation/labels'} for s in spaces])
    return [one, separate]


def run_setup(context, setup: Setup, msg: Image, rate: float, seconds: float,
              start_timeout: float) -> Dict[str, object]:
    """Start the setup's nodes, drive every camera at rate Hz, stop them; the figures."""
    node = rclpy.create_node(f'mcbench_client_{os.getpid()}', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    arrivals: List[List[float]] = [[] for _ in setup.cameras]  # latencies in ms
    counting = {'on': False}

    def on_labels(index: int, labels: Image) -> None:
        stamp = Time.from_msg(labels.header.stamp).nanoseconds
        latency = (node.get_clock().now().nanoseconds - stamp) * 1e-6
        arrivals[index].append(latency if counting['on'] else -latency)

    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    best_effort = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
    pubs = []
    for index, camera in enumerate(setup.cameras):
        node.create_subscription(Image, camera['labels'],
                                 lambda m, i=index: on_labels(i, m), reliable)
        pubs.append(node.create_publisher(Image, camera['image'], best_effort))

    def publish() -> None:
        msg.header.stamp = node.get_clock().now().to_msg()
        for pub in pubs:
            pub.publish(msg)

    children: List[Child] = []
    log_dir = tempfile.mkdtemp(prefix='dinov3_seg_mcbench_')
    try:
        for index, command in enumerate(setup.commands):
            children.append(start(f'segmentation_node {index}', command,
                                  os.path.join(log_dir, f'node{index}.log')))
        started = time.monotonic()
        if not spin_until(executor, lambda: all(node.count_subscribers(c['image']) > 0
                                                for c in setup.cameras),
                          start_timeout, children):
            raise Dinov3SegError(f'{setup.name}: nodes not up within {start_timeout} s '
                                 f'(logs in {log_dir})')
        node.create_timer(1.0 / rate, publish)
        if not spin_until(executor, lambda: all(len(a) >= 2 for a in arrivals),
                          start_timeout, children):
            raise Dinov3SegError(f'{setup.name}: no labels from every camera (logs in '
                                 f'{log_dir})')
        startup_s = time.monotonic() - started
        for values in arrivals:
            values.clear()
        counting['on'] = True
        rss, begin = [], time.monotonic()
        next_sample = begin
        while time.monotonic() - begin < seconds:
            if time.monotonic() >= next_sample:
                rss.append(sum(rss_kib(c.process.pid) for c in children))
                next_sample += 1.0
            spin_until(executor, lambda: False, 0.05, children)
        elapsed = time.monotonic() - begin
        counting['on'] = False
        latencies = [v for values in arrivals for v in values if v >= 0]
        if not latencies:
            raise Dinov3SegError(f'{setup.name}: no labels in the measured window')
        return {
            'setup': setup.name, 'cameras': len(setup.cameras), 'nodes': len(children),
            'seconds': elapsed, 'startup_and_warmup_s': startup_s,
            'aggregate_fps': len(latencies) / elapsed,
            'fps_per_camera': [sum(v >= 0 for v in values) / elapsed for values in arrivals],
            'latency_ms': {'mean': float(np.mean(latencies)),
                           'p50': float(np.percentile(latencies, 50)),
                           'p95': float(np.percentile(latencies, 95))},
            'rss_mib': {'max': max(rss) / 1024, 'last': rss[-1] / 1024}}
    finally:
        for child in children:
            stop(child)
        executor.shutdown()
        node.destroy_node()


def summary(results: Sequence[Dict[str, object]]) -> str:
    """One line per setup."""
    lines = [f'dinov3-seg-ros-bench-multicam ({cpu_description()}):']
    for r in results:
        lines.append(f'  {r["setup"]:<24} {r["aggregate_fps"]:6.2f} fps aggregate, latency '
                     f'mean {r["latency_ms"]["mean"]:6.0f} ms p95 {r["latency_ms"]["p95"]:6.0f}'
                     f' ms, RSS {r["rss_mib"]["max"]:6.0f} MiB ({r["nodes"]} process(es))')
    return '\n'.join(lines)


def build_parser() -> argparse.ArgumentParser:
    """Options of dinov3-seg-ros-bench-multicam."""
    parser = argparse.ArgumentParser(prog='dinov3-seg-ros-bench-multicam',
                                     description=__doc__.split('\n')[0])
    parser.add_argument('--cameras', type=positive_int, nargs='+', default=[1, 2, 4],
                        help='camera counts to measure (default: 1 2 4)')
    parser.add_argument('--size', type=size_text, default='320x240',
                        help='camera frame size WxH (default: %(default)s)')
    parser.add_argument('--rate', type=positive_float, default=30.0,
                        help='frames/s per camera (default: %(default)s)')
    parser.add_argument('--seconds', type=positive_float, default=10.0,
                        help='measured seconds (default: %(default)s)')
    parser.add_argument('--start-timeout', type=positive_float, default=300.0,
                        help='seconds for the nodes to start and answer every camera '
                             '(default: %(default)s)')
    parser.add_argument('--json', default='',
                        help='write the figures to this file (default: print them only)')
    add_override_arguments(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Measure every camera count; print the summary (exit 1 with one line on failure)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    width, height = FrameSize.parse(args.size, '--size')  # already checked by size_text
    json_dir = os.path.dirname(os.path.abspath(args.json)) if args.json else ''
    if json_dir and not (os.path.isdir(json_dir) and os.access(json_dir, os.W_OK)):
        parser.error(f'argument --json: folder {json_dir!r} does not exist or is not writable')
    if args.json and os.path.isdir(args.json):
        parser.error(f'argument --json: {args.json!r} is a folder; name a file')
    try:
        tool_environment(None)  # loopback DDS; the exported ROS_DOMAIN_ID, else a private one
    except Dinov3SegError as exc:
        print(f'dinov3-seg-ros-bench-multicam: {exc}', file=sys.stderr)
        return 2
    overrides = {'input_size': args.input_size, 'backbone': args.backbone,
                 'device': args.device}
    context = rclpy.Context()
    rclpy.init(context=context)
    results = []
    try:
        msg = camera_message(width, height)
        for count in args.cameras:
            for setup in setups(count, args.params_file, overrides):
                results.append(run_setup(context, setup, msg, args.rate, args.seconds,
                                         args.start_timeout))
                print(summary(results[-1:]).splitlines()[1], flush=True)
    except ConfigError as exc:  # --params-file, --input-size, ...
        print(f'dinov3-seg-ros-bench-multicam: {exc}', file=sys.stderr)
        return 2
    except Dinov3SegError as exc:  # a node died or never answered
        print(f'dinov3-seg-ros-bench-multicam: {exc}', file=sys.stderr)
        return 1
    finally:
        rclpy.try_shutdown(context=context)
    print(summary(results))
    if args.json:
        with open(args.json, 'w') as stream:
            json.dump({'size': args.size, 'rate_hz': args.rate, 'results': results}, stream,
                      indent=2)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
