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
"""

import argparse
import gc
import json
import math
import os
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image
from std_msgs.msg import Header
import yaml

from . import demo
from .image_codec import array_to_image, image_to_rgb, labels_to_image
from .image_publisher import parse_size, prepare_frame, sample_photo
from .params import NodeParams, split_paths
from ..core.errors import Dinov3SegError
from ..core.segmenter import Segmenter

NON_MODEL_STAGES = ('deserialize', 'decode', 'preprocess', 'postprocess', 'overlay',
                    'encode_serialize')


def camera_frame(size: str) -> Image:
    """Build a 'camera' message: the astronaut photo resized to WxH, rgb8."""
    return array_to_image(prepare_frame(sample_photo('astronaut'), 'rgb8', parse_size(size)),
                          'rgb8', Header(frame_id='camera'))


def node_params(args: argparse.Namespace, input_size: str) -> NodeParams:
    """Read the node's parameters: the YAML file plus the benchmark's overrides."""
    with open(args.params_file or demo.share_file('config', 'segmentation.yaml')) as stream:
        values = dict(yaml.safe_load(stream)['/**']['ros__parameters'])
    values.update({k: v for k, v in (('backbone', args.backbone), ('device', args.device),
                                     ('input_size', input_size)) if v})
    values['head_weights'] = split_paths(values['head_weights'])
    values['input_size'] = str(values['input_size'])
    return NodeParams(**values)


def time_stages(args: argparse.Namespace, msg: Image, frames: int) -> Dict[str, float]:
    """Median milliseconds of each step of the node's per-frame path, in this process."""
    segmenter = Segmenter(node_params(args, args.input_size).model_config())
    samples: Dict[str, List[float]] = {}
    wire = serialize_message(msg)
    for _ in range(2):  # first calls at a new size build kernels: not measured
        segmenter(image_to_rgb(msg)[0])
    for _ in range(frames):
        t0 = time.perf_counter()
        received = deserialize_message(wire, Image)
        t1 = time.perf_counter()
        rgb, _ = image_to_rgb(received)
        t2 = time.perf_counter()
        result = segmenter(rgb)
        t3 = time.perf_counter()
        serialize_message(labels_to_image(result.labels, received.header))
        t4 = time.perf_counter()
        steps = dict(result.timings_ms, deserialize=(t1 - t0) * 1e3, decode=(t2 - t1) * 1e3,
                     segmenter_call=(t3 - t2) * 1e3, encode_serialize=(t4 - t3) * 1e3)
        for key, value in steps.items():
            samples.setdefault(key, []).append(value)
    del segmenter
    gc.collect()
    return {key: float(np.median(values)) for key, values in samples.items()}


class BenchClient(Node):
    """Camera publisher + labels and /diagnostics subscriber driving a node subprocess."""

    def __init__(self, context) -> None:
        super().__init__('dinov3_seg_ros_bench', context=context)
        self.image_pub = self.create_publisher(
            Image, 'image', QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.arrivals: Dict[int, float] = {}
        self.diagnostics: Dict[str, str] = {}
        self.processing: List[Tuple[float, float]] = []  # (node ms per frame, frames)
        self.overlays = 0
        self.create_subscription(Image, 'segmentation/labels', self._on_labels,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        self.executor_ = SingleThreadedExecutor(context=context)
        self.executor_.add_node(self)

    def watch_overlays(self) -> None:
        """Subscribe to segmentation/overlay too, so that the node renders overlays."""
        self.create_subscription(Image, 'segmentation/overlay', self._on_overlay,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))

    def _on_overlay(self, msg: Image) -> None:
        self.overlays += 1

    def _on_labels(self, msg: Image) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.arrivals[stamp] = self.get_clock().now().nanoseconds

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if 'segmentation' in status.name:
                self.diagnostics = values = {kv.key: kv.value for kv in status.values}
                frames = float(values['output_rate_hz']) * float(values['window_s'])
                if frames > 0 and math.isfinite(float(values['processing_mean_ms'])):
                    self.processing.append((float(values['processing_mean_ms']), frames))

    def node_processing_ms(self) -> float:
        """Frame-weighted mean of the node's own per-frame time since processing was reset."""
        if not self.processing:
            return math.nan
        weights = sum(frames for _, frames in self.processing)
        return sum(ms * frames for ms, frames in self.processing) / weights

    def spin_until(self, condition, timeout: float, process) -> bool:
        """Spin until condition() holds; False on timeout, raises if the node process died."""
        deadline = time.monotonic() + timeout
        while not condition():
            if process.poll() is not None:
                raise Dinov3SegError(f'segmentation_node exited with code {process.returncode}')
            if time.monotonic() > deadline:
                return False
            self.executor_.spin_once(timeout_sec=0.01)
        return True

    def publish(self, msg: Image) -> int:
        """Stamp msg with now(), publish it and return the stamp in nanoseconds."""
        now = self.get_clock().now()
        msg.header.stamp = now.to_msg()
        self.image_pub.publish(msg)
        return now.nanoseconds

    def round_trip(self, msg: Image, process, timeout: float = 120.0) -> Optional[float]:
        """Publish one frame and wait for its labels; latency in ms, None if lost."""
        stamp = self.publish(msg)
        if not self.spin_until(lambda: stamp in self.arrivals, timeout, process):
            return None
        return (self.arrivals[stamp] - stamp) * 1e-6


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (VmRSS of /proc/<pid>/status)."""
    with open(f'/proc/{pid}/status') as stream:
        for line in stream:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise Dinov3SegError(f'no VmRSS for pid {pid}')


def run_node_phase(client: BenchClient, args, size: str, input_size: str, frames: int,
                   rss: bool) -> Dict[str, object]:
    """Start a node, drive it closed-loop, stop it; return the figures."""
    log_path = os.path.join(tempfile.gettempdir(), f'dinov3_seg_ros_bench_{size}_{input_size}.log')
    process = demo.start(demo.node_command(argparse.Namespace(
        params_file=args.params_file, input_size=input_size, backbone=args.backbone,
        device=args.device, backbone_weights='', head_weights='')), log_path)
    msg = camera_frame(size)
    if rss:  # the soak exercises the overlay path as well
        client.watch_overlays()
    try:
        if not client.spin_until(lambda: client.count_subscribers('image') > 0
                                 and client.count_publishers('segmentation/labels') > 0,
                                 300.0, process):
            raise Dinov3SegError('segmentation_node did not come up within 300 s')
        for _ in range(2):  # warm-up, not measured
            client.round_trip(msg, process)
        reports = len(client.processing)  # let the report covering the warm-up pass
        client.spin_until(lambda: len(client.processing) > reports, 5.0, process)
        client.processing.clear()
        latencies, rss_samples, start = [], [], time.monotonic()
        for index in range(frames):
            latency = client.round_trip(msg, process, timeout=15.0 if rss else 120.0)
            if latency is not None:
                latencies.append(latency)
            if rss and index % max(1, frames // 40) == 0:
                rss_samples.append(rss_kib(process.pid))
        elapsed = time.monotonic() - start
        if not latencies:
            raise Dinov3SegError(f'no labels came back; node log: {log_path}')
        result: Dict[str, object] = {
            'size': size, 'input_size': input_size or 'yaml',
            'frames': frames, 'lost': frames - len(latencies),
            'latency_ms': {'mean': float(np.mean(latencies)),
                           'p50': float(np.percentile(latencies, 50)),
                           'p95': float(np.percentile(latencies, 95)),
                           'max': float(np.max(latencies))},
            'closed_loop_fps': len(latencies) / elapsed}
        if rss:
            rss_samples.append(rss_kib(process.pid))
            baseline = rss_samples[min(2, len(rss_samples) - 1)]  # after warm-up
            result['rss_kib'] = {'after_warmup': baseline, 'last': rss_samples[-1],
                                 'max': max(rss_samples), 'samples': len(rss_samples)}
            result['rss_growth_pct'] = 100.0 * (rss_samples[-1] / baseline - 1.0)
            result['overlays_received'] = client.overlays
        else:
            count = len(client.processing)  # the report covering the last frames
            client.spin_until(lambda: len(client.processing) > count, 5.0, process)
            result['node_processing_ms'] = client.node_processing_ms()
        return result
    finally:
        demo.stop(process)


def build_parser() -> argparse.ArgumentParser:
    """Options of dinov3-seg-ros-bench."""
    parser = argparse.ArgumentParser(prog='dinov3-seg-ros-bench', description=__doc__.split(
        '\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', default='640x480', help='camera frame size WxH')
    parser.add_argument('--frames', type=int, default=30, help='closed-loop frames to time')
    parser.add_argument('--input-size', default='', help='node input_size (default: YAML)')
    parser.add_argument('--stage-frames', type=int, default=5,
                        help='frames for the in-process stage timings (0 = skip)')
    parser.add_argument('--rss-frames', type=int, default=0,
                        help='frames for the node memory soak (e.g. 2000; 0 = skip)')
    parser.add_argument('--rss-size', default='160x120', help='camera size for the soak')
    parser.add_argument('--rss-input-size', default='64', help='node input_size for the soak')
    parser.add_argument('--backbone', default='', help='override backbone')
    parser.add_argument('--device', default='', help='override device')
    parser.add_argument('--params-file', default='', help='node parameters YAML')
    parser.add_argument('--json', action='store_true', help='print only the JSON report')
    return parser


def run(args: argparse.Namespace) -> Dict[str, object]:
    """Run every phase and return the report."""
    demo.ros_environment()
    parse_size(args.size)
    report: Dict[str, object] = {'size': args.size, 'input_size': args.input_size or 'yaml'}
    if args.stage_frames > 0:
        stages = time_stages(args, camera_frame(args.size), args.stage_frames)
        report['stages_ms'] = stages
    context = rclpy.Context()
    rclpy.init(context=context)
    client = BenchClient(context)
    try:
        if args.frames > 0:
            report['end_to_end'] = run_node_phase(client, args, args.size, args.input_size,
                                                  args.frames, rss=False)
        if args.rss_frames > 0:
            report['memory'] = run_node_phase(client, args, args.rss_size, args.rss_input_size,
                                              args.rss_frames, rss=True)
    finally:
        client.destroy_node()
        rclpy.try_shutdown(context=context)
    if 'stages_ms' in report and 'end_to_end' in report:
        stages, e2e = report['stages_ms'], report['end_to_end']
        report['non_model_ms'] = parts = non_model_parts(stages, e2e)
        report['non_model_pct_of_backbone'] = non_model_share(stages, e2e, parts)
    return report


def non_model_share(stages: Dict[str, float], e2e: Dict[str, object],
                    parts: Dict[str, float]) -> float:
    """Non-model time in % of the backbone time, each ratio taken within one measurement.

    The machine's load differs between phases, so the in-process parts are divided by the
    in-process backbone, and the transport by the node's backbone share of its own frame time
    (node time x backbone / total of the in-process run).
    """
    in_process = sum(v for k, v in parts.items() if k in NON_MODEL_STAGES) / stages['backbone']
    node_backbone = e2e['node_processing_ms'] * stages['backbone'] / stages['segmenter_call']
    transport = parts['transport_and_scheduling']
    transport = max(0.0, transport) / node_backbone if math.isfinite(transport) else 0.0
    return 100.0 * (in_process + transport)


def non_model_parts(stages: Dict[str, float], e2e: Dict[str, object]) -> Dict[str, float]:
    """Per-frame milliseconds outside backbone and head, and their total.

    DDS transport + scheduling = end-to-end latency - the node's own per-frame time (from
    /diagnostics); the other parts are the in-process stage medians.
    """
    parts = {key: stages[key] for key in NON_MODEL_STAGES if key in stages}
    transport = e2e['latency_ms']['mean'] - e2e['node_processing_ms']
    parts['total'] = sum(parts.values()) + (max(0.0, transport) if math.isfinite(transport)
                                            else 0.0)
    parts['transport_and_scheduling'] = transport  # noisy when a frame takes a few ms
    return parts


def main(argv: Optional[List[str]] = None) -> int:
    """Console-script entry point (``dinov3-seg-ros-bench``)."""
    args = build_parser().parse_args(argv)
    try:
        report = run(args)
    except (Dinov3SegError, ValueError) as error:
        print(f'dinov3-seg-ros-bench: {error}', file=sys.stderr)
        return 1
    if not args.json:
        print(summary(report))
    print(json.dumps(report, indent=None if args.json else 2, default=float))
    return 0


def summary(report: Dict[str, object]) -> str:
    """Human-readable lines for the main figures of a report."""
    lines = ['dinov3-seg-ros-bench:']
    for key in ('end_to_end', 'memory'):
        if key in report:
            phase = report[key]
            lines.append(f'  {key} at {phase["size"]} (input_size {phase["input_size"]}): '
                         f'latency mean {phase["latency_ms"]["mean"]:.0f} ms, p95 '
                         f'{phase["latency_ms"]["p95"]:.0f} ms, {phase["closed_loop_fps"]:.2f} '
                         f'fps, {phase["lost"]}/{phase["frames"]} lost')
    if 'non_model_ms' in report:
        lines.append(f'  non-model {report["non_model_ms"]["total"]:.1f} ms/frame = '
                     f'{report["non_model_pct_of_backbone"]:.1f} % of the backbone '
                     f'({report["stages_ms"]["backbone"]:.0f} ms), target <= 10 %')
    if 'memory' in report:
        rss = report['memory']['rss_kib']
        lines.append(f'  node RSS {rss["after_warmup"] / 1024:.0f} -> {rss["last"] / 1024:.0f} '
                     f'MiB over the soak ({report["memory"]["rss_growth_pct"]:+.2f} %), '
                     f'target < 5 %')
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
