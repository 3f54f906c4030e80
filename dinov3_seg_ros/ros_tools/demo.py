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

"""End-to-end demo: image_publisher -> segmentation_node -> overlays saved as PNG files.

``dinov3-seg-demo --frames 5 --out-dir demo_output`` keeps DDS on this machine (loopback
discovery, --domain-id or the exported ROS_DOMAIN_ID, else a private domain id, the
shared-memory Fast DDS profile), starts the node and the
test camera as subprocesses, saves the first N overlays and label images, prints the frame
rate and the stamp-to-receipt latency, then stops both processes by itself.
"""

import argparse
import os
import sys
import time
from typing import Dict, List, Optional

import cv2
import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import Image

from ..ros.image_codec import image_to_rgb, image_view
from ..ros.node_process import add_override_arguments, log_tail, node_command
from ..ros.node_process import PACKAGE, spin_until, start, stop
from ..core.errors import ConfigError, Dinov3SegError, ImageError
from .arguments import positive_float, positive_int
from .domain import tool_environment
from .image_publisher import list_images, size_text


def node_overrides(args: argparse.Namespace) -> Dict[str, str]:
    """Return the node parameters the demo overrides (empty = the params file's value)."""
    return {'input_size': args.input_size, 'backbone': args.backbone, 'device': args.device,
            'backbone_weights': args.backbone_weights, 'head_weights': args.head_weights}


def build_parser() -> argparse.ArgumentParser:
    """Options of dinov3-seg-demo."""
    parser = argparse.ArgumentParser(
        prog='dinov3-seg-demo',
        description='Run the segmentation node on a test camera and save overlay PNGs.')
    parser.add_argument('--frames', type=positive_int, default=5,
                        help='overlays to save (default: %(default)s)')
    parser.add_argument('--out-dir', default='demo_output',
                        help='folder for the PNG files and the logs (default: %(default)s)')
    parser.add_argument('--size', type=size_text, default='640x480',
                        help='camera frame size WxH (default: %(default)s)')
    parser.add_argument('--rate', type=positive_float, default=0.5,
                        help='camera rate in Hz (default: %(default)s; the CPU needs '
                             '~1-1.5 s per 640x480 frame)')
    parser.add_argument('--images', nargs='*', default=[],
                        help='image files/folders for the camera (default: sample photos)')
    add_override_arguments(parser)
    parser.add_argument('--backbone-weights', default='',
                        help="override backbone_weights (default: the params file's)")
    parser.add_argument('--head-weights', default='',
                        help="override head_weights (default: the params file's)")
    parser.add_argument('--domain-id', type=int, default=None,
                        help='ROS_DOMAIN_ID to use (default: the exported ROS_DOMAIN_ID, '
                             'else a private one per run)')
    parser.add_argument('--timeout', type=positive_float, default=150.0,
                        help='seconds to wait for all frames before giving up '
                             '(default: %(default)s)')
    return parser


class OverlayCollector:
    """Subscribe to segmentation/overlay and /labels; keep receipt times and latencies."""

    def __init__(self, node: Node, frames: int) -> None:
        self._node = node
        self._frames = frames
        self.overlays: List[Image] = []
        self.labels: List[Image] = []
        self.received_at: List[float] = []
        self.latencies_ms: List[float] = []
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        node.create_subscription(Image, 'segmentation/overlay', self._on_overlay, qos)
        node.create_subscription(Image, 'segmentation/labels', self._on_labels, qos)

    def _on_overlay(self, msg: Image) -> None:
        if len(self.overlays) >= self._frames:
            return
        latency = self._node.get_clock().now() - Time.from_msg(msg.header.stamp)
        self.overlays.append(msg)
        self.received_at.append(time.monotonic())
        self.latencies_ms.append(latency.nanoseconds * 1e-6)

    def _on_labels(self, msg: Image) -> None:
        if len(self.labels) < self._frames:
            self.labels.append(msg)

    def done(self) -> bool:
        """Return True once every overlay and label image has arrived."""
        return len(self.overlays) >= self._frames and len(self.labels) >= self._frames


def save_outputs(collector: OverlayCollector, out_dir: str) -> List[str]:
    """Write overlay_NNN.png (color) and labels_NNN.png (class ids); return the overlay paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for index, msg in enumerate(collector.overlays):
        rgb, _ = image_to_rgb(msg)
        path = os.path.join(out_dir, f'overlay_{index:03d}.png')
        cv2.imwrite(path, cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
        paths.append(f'{path} ({msg.width}x{msg.height})')
    for index, msg in enumerate(collector.labels):
        labels = np.ascontiguousarray(image_view(msg)[:, :, 0])
        cv2.imwrite(os.path.join(out_dir, f'labels_{index:03d}.png'), labels)
    return paths


def report(collector: OverlayCollector) -> str:
    """One line with the received rate and the stamp-to-receipt latency.

    One frame has a latency but no rate (a rate needs two receipt times): the line says so.
    """
    times, lat = collector.received_at, collector.latencies_ms
    if len(lat) == 1:
        return (f'1 frame: latency (camera stamp -> overlay received) {lat[0]:.0f} ms; '
                'no frame rate from a single frame (use --frames 2 or more)')
    fps = (len(times) - 1) / max(1e-9, times[-1] - times[0])
    return (f'{len(lat)} frames: {fps:.2f} fps received, latency (camera stamp -> overlay '
            f'received) mean {np.mean(lat):.0f} ms, min {min(lat):.0f}, max {max(lat):.0f}')


def make_out_dir(path: str) -> None:
    """Create the output folder; ConfigError naming --out-dir when it cannot be one."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f'--out-dir {path!r} is a file; name a folder (it is created)')
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise ConfigError(f'--out-dir {path!r} cannot be created: '
                          f'{error.strerror or error}') from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f'--out-dir {path!r} is not writable; name another folder')


def run(args: argparse.Namespace) -> int:
    """Start node + camera, collect the overlays, save them, stop everything."""
    environment = tool_environment(args.domain_id)
    make_out_dir(args.out_dir)
    try:
        list_images(args.images)  # the camera's files, checked before the node starts
    except ImageError as error:
        raise ConfigError(f'--images: {error}') from None
    print(f'dinov3-seg-demo: ROS_DOMAIN_ID={environment["ROS_DOMAIN_ID"]}, loopback only, '
          f'Fast DDS profile {environment["FASTDDS_DEFAULT_PROFILES_FILE"]}', flush=True)
    node_child = start('segmentation_node',
                       node_command(args.params_file, node_overrides(args)),
                       os.path.join(args.out_dir, 'segmentation_node.log'))
    # The camera runs from this interpreter (same package as the demo, never a stale script).
    camera = [sys.executable, '-m', f'{PACKAGE}.ros_tools.image_publisher']
    camera_child = start('image_publisher',
                         camera + list(args.images) + ['--rate', str(args.rate),
                                                       '--resize', args.size],
                         os.path.join(args.out_dir, 'image_publisher.log'))
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('dinov3_seg_demo', context=context)
    collector = OverlayCollector(node, args.frames)
    error = ''
    try:
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        if not spin_until(executor, collector.done, args.timeout, (node_child, camera_child),
                          period=0.1):
            tail = log_tail(node_child.log_path).strip()
            error = (f'timed out after {args.timeout:g} s with '
                     f'{len(collector.overlays)}/{args.frames} overlays; '
                     + (f'node log:\n{tail}' if tail else 'the node printed nothing yet '
                        '(still starting? raise --timeout)'))
    except Dinov3SegError as exc:  # a child exited
        error = str(exc)
    except (KeyboardInterrupt, ExternalShutdownException):
        error = 'interrupted'
    finally:
        stop(camera_child)
        stop(node_child)
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    if error:
        print(f'dinov3-seg-demo: {error}', file=sys.stderr)
        return 1
    for path in save_outputs(collector, args.out_dir):
        print(f'saved {path}')
    print(report(collector))
    print(f'logs: {node_child.log_path}, {camera_child.log_path}')
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Console-script entry point (``dinov3-seg-demo``)."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except ConfigError as error:  # --domain-id, ROS_DOMAIN_ID, --params-file or --out-dir
        print(f'dinov3-seg-demo: {error}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
