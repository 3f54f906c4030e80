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
discovery, a private domain id, the shared-memory Fast DDS profile), starts the node and the
test camera as subprocesses, saves the first N overlays and label images, prints the frame
rate and the stamp-to-receipt latency, then stops both processes by itself. The process
helpers here are shared with the ROS benchmark (bench.py).
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from .image_codec import image_to_rgb, image_view

PACKAGE = 'dinov3_seg_ros'
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def share_file(*parts: str) -> str:
    """Path of a config file: the source tree's copy, else the installed share directory."""
    path = os.path.join(SOURCE_ROOT, *parts)
    if os.path.exists(path):
        return path
    from ament_index_python.packages import get_package_share_directory
    return os.path.join(get_package_share_directory(PACKAGE), *parts)


def ros_environment(domain_id: Optional[int] = None) -> Dict[str, str]:
    """Set (in os.environ, before rclpy.init) and return the loopback-only DDS settings."""
    if domain_id is None:
        domain_id = 120 + os.getpid() % 90  # private per run, away from the default 0
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ['ROS_DOMAIN_ID'] = str(domain_id)
    os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = share_file('config', 'fastdds_shm_localhost.xml')
    return {key: os.environ[key] for key in ('ROS_AUTOMATIC_DISCOVERY_RANGE', 'ROS_DOMAIN_ID',
                                             'RMW_IMPLEMENTATION',
                                             'FASTDDS_DEFAULT_PROFILES_FILE')}


def console_command(script: str, module: str) -> List[str]:
    """Command running an installed console script, or its module with this interpreter."""
    candidates = [os.path.join(os.path.dirname(sys.executable), script), shutil.which(script)]
    prefix = os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)[0]
    if prefix:
        candidates.append(os.path.join(prefix, 'lib', PACKAGE, script))  # ros2 run's place
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return [path]
    return [sys.executable, '-m', module]


def start(command: Sequence[str], log_path: str) -> subprocess.Popen:
    """Start a process in its own session with stdout+stderr going to log_path."""
    with open(log_path, 'wb') as log:
        return subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def stop(process: subprocess.Popen, timeout: float = 15.0) -> Optional[int]:
    """SIGINT, wait up to timeout seconds, then SIGKILL; return the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def log_tail(path: str, lines: int = 15) -> str:
    """Return the last lines of a process log (for error messages)."""
    try:
        with open(path, errors='replace') as stream:
            return ''.join(stream.readlines()[-lines:])
    except OSError:
        return ''


def node_command(args: argparse.Namespace) -> List[str]:
    """segmentation_node with the params file and the demo's overrides."""
    command = console_command('segmentation_node', f'{PACKAGE}.ros.node')
    command += ['--ros-args', '--params-file', args.params_file or share_file(
        'config', 'segmentation.yaml')]
    overrides = {'input_size': args.input_size, 'backbone': args.backbone,
                 'device': args.device, 'backbone_weights': args.backbone_weights,
                 'head_weights': args.head_weights}
    for name, value in overrides.items():
        if value:
            command += ['-p', f'{name}:={value}']
    return command


def build_parser() -> argparse.ArgumentParser:
    """Options of dinov3-seg-demo."""
    parser = argparse.ArgumentParser(
        prog='dinov3-seg-demo',
        description='Run the segmentation node on a test camera and save overlay PNGs.')
    parser.add_argument('--frames', type=int, default=5, help='overlays to save')
    parser.add_argument('--out-dir', default='demo_output', help='folder for the PNG files')
    parser.add_argument('--size', default='640x480', help='camera frame size WxH')
    parser.add_argument('--rate', type=float, default=0.5,
                        help='camera rate in Hz (the CPU needs ~1-1.5 s per 640x480 frame)')
    parser.add_argument('--images', nargs='*', default=[],
                        help='image files/folders for the camera (default: sample photos)')
    parser.add_argument('--params-file', default='',
                        help='node parameters (default: config/segmentation.yaml)')
    parser.add_argument('--input-size', default='', help="override input_size (e.g. '320')")
    parser.add_argument('--backbone', default='', help='override backbone')
    parser.add_argument('--device', default='', help='override device')
    parser.add_argument('--backbone-weights', default='', help='override backbone_weights')
    parser.add_argument('--head-weights', default='', help='override head_weights')
    parser.add_argument('--domain-id', type=int, default=None, help='ROS_DOMAIN_ID to use')
    parser.add_argument('--timeout', type=float, default=150.0,
                        help='seconds to wait for all frames before giving up')
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
        now = self._node.get_clock().now().nanoseconds
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.overlays.append(msg)
        self.received_at.append(time.monotonic())
        self.latencies_ms.append((now - stamp) * 1e-6)

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
    """One line with the received rate and the stamp-to-receipt latency."""
    times, lat = collector.received_at, collector.latencies_ms
    fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else float('nan')
    return (f'{len(lat)} frames: {fps:.2f} fps received, latency (camera stamp -> overlay '
            f'received) mean {np.mean(lat):.0f} ms, min {min(lat):.0f}, max {max(lat):.0f}')


def run(args: argparse.Namespace) -> int:
    """Start node + camera, collect the overlays, save them, stop everything."""
    environment = ros_environment(args.domain_id)
    os.makedirs(args.out_dir, exist_ok=True)
    print(f'dinov3-seg-demo: ROS_DOMAIN_ID={environment["ROS_DOMAIN_ID"]}, loopback only, '
          f'Fast DDS profile {environment["FASTDDS_DEFAULT_PROFILES_FILE"]}', flush=True)
    node_log = os.path.join(args.out_dir, 'segmentation_node.log')
    camera_log = os.path.join(args.out_dir, 'image_publisher.log')
    node_proc = start(node_command(args), node_log)
    camera_proc = start(console_command('image_publisher', f'{PACKAGE}.ros.image_publisher')
                        + list(args.images) + ['--rate', str(args.rate), '--resize', args.size],
                        camera_log)
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('dinov3_seg_demo', context=context)
    collector = OverlayCollector(node, args.frames)
    error = ''
    try:
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + args.timeout
        while not collector.done():
            executor.spin_once(timeout_sec=0.1)
            if node_proc.poll() is not None:
                error = (f'segmentation_node exited with code {node_proc.returncode}:\n'
                         f'{log_tail(node_log)}')
                break
            if camera_proc.poll() is not None:
                error = f'image_publisher exited with code {camera_proc.returncode}:\n' + \
                    log_tail(camera_log)
                break
            if time.monotonic() > deadline:
                error = (f'timed out after {args.timeout:.0f} s with '
                         f'{len(collector.overlays)}/{args.frames} overlays; node log:\n'
                         f'{log_tail(node_log)}')
                break
    except (KeyboardInterrupt, ExternalShutdownException):
        error = 'interrupted'
    finally:
        stop(camera_proc)
        stop(node_proc)
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    if error:
        print(f'dinov3-seg-demo: {error}', file=sys.stderr)
        return 1
    for path in save_outputs(collector, args.out_dir):
        print(f'saved {path}')
    print(report(collector))
    print(f'logs: {node_log}, {camera_log}')
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Console-script entry point (``dinov3-seg-demo``)."""
    args = build_parser().parse_args(argv)
    if args.frames < 1 or args.rate <= 0:
        print('dinov3-seg-demo: --frames must be >= 1 and --rate > 0', file=sys.stderr)
        return 2
    return run(args)


if __name__ == '__main__':
    sys.exit(main())
