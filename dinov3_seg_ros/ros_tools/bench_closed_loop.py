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

"""ROS benchmark over DDS: a client driving a segmentation_node subprocess in closed loop.

One frame in flight: latency = label receipt - camera stamp, throughput = frames / time. The
node's own per-frame time comes from /diagnostics (processing_mean_ms). With rss=True the run
is a memory soak instead: VmRSS of the node process sampled over the frames.
"""

import math
import os
import tempfile
import time
from typing import Dict, List, Mapping, Optional, Tuple

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from ..benchmark.machine import rss_kib
from ..ros.image_codec import array_to_image
from .image_publisher import prepare_frame, sample_photo
from ..ros.node_process import Child, node_command, spin_until, start, stop
from ..core.config import FrameSize
from ..core.errors import Dinov3SegError


def camera_frame(size: str) -> Image:
    """Build a 'camera' message: the astronaut photo resized to WxH, rgb8."""
    frame = prepare_frame(sample_photo('astronaut'), 'rgb8', FrameSize.parse(size, '--size'))
    return array_to_image(frame, 'rgb8', Header(frame_id='camera'))


def node_rss_kib(pid: int) -> int:
    """Resident set size of the node process in KiB (Dinov3SegError once it is gone)."""
    kib = rss_kib(pid)
    if not kib:
        raise Dinov3SegError(f'no VmRSS for pid {pid}')
    return kib


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
        stamp = Time.from_msg(msg.header.stamp).nanoseconds
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

    def spin_until(self, condition, timeout: float, node: Child) -> bool:
        """Spin until condition() holds; False on timeout, raises if the node process died."""
        return spin_until(self.executor_, condition, timeout, (node,))

    def publish(self, msg: Image) -> int:
        """Stamp msg with now(), publish it and return the stamp in nanoseconds."""
        now = self.get_clock().now()
        msg.header.stamp = now.to_msg()
        self.image_pub.publish(msg)
        return now.nanoseconds

    def round_trip(self, msg: Image, node: Child, timeout: float = 120.0) -> Optional[float]:
        """Publish one frame and wait for its labels; latency in ms, None if lost."""
        stamp = self.publish(msg)
        if not self.spin_until(lambda: stamp in self.arrivals, timeout, node):
            return None
        return (self.arrivals[stamp] - stamp) * 1e-6


def run_node_phase(client: BenchClient, parameters: str, overrides: Mapping[str, str],
                   size: str, frames: int, rss: bool) -> Dict[str, object]:
    """Start a node (params file + overrides), drive it closed-loop, stop it; the figures."""
    input_size = overrides.get('input_size') or 'yaml'
    log_path = os.path.join(tempfile.gettempdir(), f'dinov3_seg_ros_bench_{size}_{input_size}.log')
    node = start('segmentation_node', node_command(parameters, overrides), log_path)
    msg = camera_frame(size)
    if rss:  # the soak exercises the overlay path as well
        client.watch_overlays()
    try:
        if not client.spin_until(lambda: client.count_subscribers('image') > 0
                                 and client.count_publishers('segmentation/labels') > 0,
                                 300.0, node):
            raise Dinov3SegError('segmentation_node did not come up within 300 s')
        for _ in range(2):  # warm-up, not measured
            client.round_trip(msg, node)
        reports = len(client.processing)  # let the report covering the warm-up pass
        client.spin_until(lambda: len(client.processing) > reports, 5.0, node)
        client.processing.clear()
        latencies, rss_samples, started = [], [], time.monotonic()
        for index in range(frames):
            latency = client.round_trip(msg, node, timeout=15.0 if rss else 120.0)
            if latency is not None:
                latencies.append(latency)
            if rss and index % max(1, frames // 40) == 0:
                rss_samples.append(node_rss_kib(node.process.pid))
        elapsed = time.monotonic() - started
        if not latencies:
            raise Dinov3SegError(f'no labels came back; node log: {log_path}')
        result: Dict[str, object] = {
            'size': size, 'input_size': input_size, 'frames': frames,
            'lost': frames - len(latencies),
            'latency_ms': {'mean': float(np.mean(latencies)),
                           'p50': float(np.percentile(latencies, 50)),
                           'p95': float(np.percentile(latencies, 95)),
                           'max': float(np.max(latencies))},
            'closed_loop_fps': len(latencies) / elapsed}
        if rss:
            rss_samples.append(node_rss_kib(node.process.pid))
            baseline = rss_samples[min(2, len(rss_samples) - 1)]  # after warm-up
            result['rss_kib'] = {'after_warmup': baseline, 'last': rss_samples[-1],
                                 'max': max(rss_samples), 'samples': len(rss_samples)}
            result['rss_growth_pct'] = 100.0 * (rss_samples[-1] / baseline - 1.0)
            result['overlays_received'] = client.overlays
        else:
            count = len(client.processing)  # the report covering the last frames
            client.spin_until(lambda: len(client.processing) > count, 5.0, node)
            result['node_processing_ms'] = client.node_processing_ms()
        return result
    finally:
        stop(node)
