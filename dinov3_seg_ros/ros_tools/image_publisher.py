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

"""A test camera: publish image files, a folder or bundled photos as sensor_msgs/Image.

Usage: ``image_publisher [PATH ...] [--rate HZ] [--topic image] [--encoding rgb8]
[--resize WxH] [--count N] [--reliable]``. Without paths it cycles through photos shipped
with scikit-image. The pure helpers (file list, loading, resizing, encoding) come first and
never touch ROS; the node class only stamps and publishes prepared frames.
"""

import argparse
import os
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

import cv2
import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.utilities import remove_ros_args
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from ..core.errors import Dinov3SegError, ImageError
from ..core.quiet_opencv import quiet_opencv
from ..ros.image_codec import array_to_image
from .arguments import non_negative_float, non_negative_int, positive_float

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')
SAMPLE_PHOTOS = ('astronaut', 'chelsea', 'coffee', 'rocket')
ENCODINGS = ('rgb8', 'bgr8', 'mono8')


def parse_size(text: str) -> Tuple[int, int]:
    """Parse 'WxH' into (width, height); raises ValueError on anything else."""
    parts = text.lower().split('x')
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f'expected WxH (e.g. 640x480), got {text!r}')
    width, height = int(parts[0]), int(parts[1])
    if width < 1 or height < 1:
        raise ValueError(f'size must be positive, got {text!r}')
    return width, height


def _size_argument(text: str) -> Tuple[int, int]:
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def size_text(text: str) -> str:
    """Check a WxH option with parse_size for argparse and keep it as the text 'WxH'."""
    width, height = _size_argument(text)
    return f'{width}x{height}'


def list_images(paths: Sequence[str]) -> List[str]:
    """Expand files and folders into a list of image files (folders sorted by name).

    Raises ImageError for a missing path or a folder without images.
    """
    files: List[str] = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(os.path.join(path, name) for name in os.listdir(path)
                           if name.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                raise ImageError(f'no image files in folder: {path}')
            files.extend(found)
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise ImageError(f'no such file or folder: {path}')
    return files


def load_rgb(path: str) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB; raises ImageError if unreadable."""
    with quiet_opencv():
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageError(f'cannot read image {path} (missing or corrupt)')
    return np.ascontiguousarray(bgr[:, :, ::-1])


def sample_photo(name: str) -> np.ndarray:
    """Return a photo bundled with scikit-image as (H, W, 3) uint8 RGB."""
    from skimage import data
    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3], dtype=np.uint8)


def prepare_frame(rgb: np.ndarray, encoding: str = 'rgb8',
                  size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Resize (H, W, 3) RGB to size=(W, H) if given and convert it to the encoding.

    Returns a C-contiguous (H, W, 3) array for rgb8/bgr8 or (H, W) for mono8.
    """
    if encoding not in ENCODINGS:
        raise ImageError(f'encoding must be one of {", ".join(ENCODINGS)}, got {encoding!r}')
    if size is not None and (rgb.shape[1], rgb.shape[0]) != tuple(size):
        shrinking = size[0] * size[1] < rgb.shape[0] * rgb.shape[1]
        rgb = cv2.resize(rgb, tuple(size),
                         interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    if encoding == 'bgr8':
        return np.ascontiguousarray(rgb[:, :, ::-1])
    if encoding == 'mono8':
        return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(rgb)


def frame_loaders(paths: Sequence[str]) -> List[Tuple[str, Callable[[], np.ndarray]]]:
    """(name, loader) pairs for the given files/folders, or the sample photos if none."""
    if not paths:
        return [(name, lambda name=name: sample_photo(name)) for name in SAMPLE_PHOTOS]
    return [(path, lambda path=path: load_rgb(path)) for path in list_images(paths)]


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the image_publisher console script."""
    parser = argparse.ArgumentParser(
        prog='image_publisher',
        description='Publish image files, a folder (sorted) or sample photos as '
                    'sensor_msgs/Image, looping, with a camera-like QoS.')
    parser.add_argument('paths', nargs='*',
                        help='image files or folders (default: photos from skimage.data)')
    parser.add_argument('--rate', type=positive_float, default=10.0,
                        help='frames per second in Hz (default: %(default)s)')
    parser.add_argument('--topic', default='image',
                        help='topic name, relative so it can be remapped (default: %(default)s)')
    parser.add_argument('--frame-id', default='camera',
                        help='header.frame_id of every frame (default: %(default)s)')
    parser.add_argument('--encoding', choices=ENCODINGS, default='rgb8',
                        help='pixel encoding of the messages (default: %(default)s)')
    parser.add_argument('--resize', type=_size_argument, default=None, metavar='WxH',
                        help="resize every frame to WxH (default: each file's own size)")
    parser.add_argument('--count', type=non_negative_int, default=0,
                        help='stop after N frames (default: 0, run until interrupted)')
    parser.add_argument('--reliable', action='store_true',
                        help='reliable QoS (default: best effort, keep last 1, like a camera)')
    parser.add_argument('--wait-subscribers', type=non_negative_float, default=0.0,
                        metavar='SECONDS',
                        help='wait up to SECONDS for a subscriber before the first frame '
                             '(default: 0, publish at once)')
    return parser


class ImagePublisherNode(Node):
    """Publish prepared frames in a loop; stamps and publishes, no image logic."""

    def __init__(self, args: argparse.Namespace,
                 loaders: List[Tuple[str, Callable[[], np.ndarray]]]) -> None:
        super().__init__('image_publisher')
        self._args = args
        self._loaders = loaders
        self._cache: Dict[int, Image] = {}
        self._cacheable = len(loaders) <= 64
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=1,
            reliability=(ReliabilityPolicy.RELIABLE if args.reliable
                         else ReliabilityPolicy.BEST_EFFORT),
            durability=DurabilityPolicy.VOLATILE)
        self.publisher = self.create_publisher(Image, args.topic, qos)
        self.published = 0
        self._next = 0  # index of the next frame to try
        self._unreadable: Set[int] = set()

    def message(self, index: int) -> Image:
        """Image message of frame index; its data is converted once per file when cached."""
        if index in self._cache:
            return self._cache[index]
        frame = prepare_frame(self._loaders[index][1](), self._args.encoding, self._args.resize)
        msg = array_to_image(frame, self._args.encoding, Header(frame_id=self._args.frame_id))
        if self._cacheable:
            self._cache[index] = msg
        return msg

    def rewind(self) -> None:
        """Start again from the first readable frame."""
        self._next = 0

    def wait_for_subscribers(self, timeout: float) -> bool:
        """Spin until a subscriber is matched or timeout seconds pass."""
        deadline = time.monotonic() + timeout
        while self.publisher.get_subscription_count() == 0:
            if time.monotonic() >= deadline:
                return False
            rclpy.spin_once(self, timeout_sec=0.05)
        return True

    def next_message(self) -> Image:
        """Message of the next readable frame; an unreadable file is skipped with a warning.

        Raises ImageError when no file is readable (the file's own error for a single file;
        then no skip warning, the error alone names the files).
        """
        count = len(self._loaders)
        skipped: List[str] = []
        for _ in range(count):
            index, self._next = self._next, (self._next + 1) % count
            if index in self._unreadable:
                continue
            try:
                msg = self.message(index)
            except ImageError as error:
                if count == 1:
                    raise
                self._unreadable.add(index)
                skipped.append(f'{error}; skipping it')
                continue
            for warning in skipped:
                self.get_logger().warning(warning)
            return msg
        names = [self._loaders[index][0] for index in sorted(self._unreadable)]
        listed = ', '.join(names[:5]) + (f' and {len(names) - 5} more' if len(names) > 5 else '')
        raise ImageError(f'none of the {count} image files is readable (missing or '
                         f'corrupt): {listed}')

    def publish_next(self) -> None:
        """Stamp the next readable frame with now() and publish it."""
        msg = self.next_message()
        msg.header.stamp = self.get_clock().now().to_msg()
        self.publisher.publish(msg)
        self.published += 1

    def done(self) -> bool:
        """Return True once --count frames have been published."""
        return 0 < self._args.count <= self.published


def run(args: argparse.Namespace, ros_args: List[str]) -> int:
    """Create the node and publish at args.rate until done or interrupted."""
    loaders = frame_loaders(args.paths)
    rclpy.init(args=ros_args)
    node = None
    try:
        node = ImagePublisherNode(args, loaders)
        node.next_message()  # fail early when nothing is readable (warn for skipped files)
        node.rewind()
        if args.wait_subscribers > 0 and not node.wait_for_subscribers(args.wait_subscribers):
            node.get_logger().warning('no subscriber yet; publishing anyway')
        node.get_logger().info(
            f'publishing {len(loaders)} image(s) on {node.publisher.topic_name} '
            f'at {args.rate:g} Hz ({"reliable" if args.reliable else "best effort"})')
        period = 1.0 / args.rate
        next_time = time.monotonic()
        while rclpy.ok() and not node.done():
            node.publish_next()
            next_time += period
            if time.monotonic() - next_time > period:  # fell behind: no burst to catch up
                next_time = time.monotonic()
            rclpy.spin_once(node, timeout_sec=0.0)
            while rclpy.ok() and time.monotonic() < next_time:
                rclpy.spin_once(node, timeout_sec=max(0.0, next_time - time.monotonic()))
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Console-script entry point (``image_publisher``)."""
    argv = sys.argv if argv is None else argv
    args = build_parser().parse_args(remove_ros_args(args=argv)[1:])
    try:
        return run(args, argv)
    except Dinov3SegError as error:  # a missing, empty or unreadable image path
        print(f'image_publisher: {error}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
