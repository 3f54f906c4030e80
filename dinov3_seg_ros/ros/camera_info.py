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

"""CameraInfoRelay: the camera's camera_info, republished with exactly the labels' header.

The node subscribes the sibling of its image topic (image_transport convention:
/cam/image -> /cam/camera_info), keeps the newest message and, for every labels image,
publishes a copy stamped with that image's header on segmentation/camera_info, so mapping
stacks get exact-stamp (labels, camera_info) pairs. No camera_info yet: labels still flow
and diagnostics say so; a size different from the image's: a throttled warning.
"""

import copy
import threading
from typing import Any, List, Optional, Tuple

from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

THROTTLE_S = 5.0


def camera_info_topic(image_topic: str) -> str:
    """Return the camera_info topic next to an image topic ('/cam/image' -> '/cam/camera_info')."""
    parent = image_topic.rsplit('/', 1)[0]
    return f'{parent}/camera_info'


def restamped(info: CameraInfo, header: Header) -> CameraInfo:
    """Return a shallow copy of info with the given header (the labels image's)."""
    copied = copy.copy(info)
    copied.header = header
    return copied


def size_mismatch(info: CameraInfo, width: int, height: int) -> Optional[str]:
    """Describe a camera_info whose size differs from the image's, else None."""
    return _mismatch(info, (width, height))


class CameraInfoRelay:
    """Subscribe (while active) to camera_info and republish it per labels image."""

    def __init__(self, node: Node, image_topic: str, prefix: str, input_qos: QoSProfile,
                 output_qos: QoSProfile) -> None:
        self._node, self._qos = node, input_qos
        self.topic = camera_info_topic(image_topic)
        self._lock = threading.Lock()
        self._latest: Optional[CameraInfo] = None
        self._image_size: Optional[Tuple[int, int]] = None  # of the last labels image
        self._subscription: Any = None
        self._pub = node.create_publisher(CameraInfo, f'{prefix}segmentation/camera_info',
                                          output_qos)

    def subscribe(self) -> None:
        """Start listening to the camera's camera_info."""
        if self._subscription is None:
            self._subscription = self._node.create_subscription(
                CameraInfo, self.topic, self._on_info, self._qos)

    def unsubscribe(self) -> None:
        """Stop listening (the last message is kept)."""
        if self._subscription is not None:
            self._node.destroy_subscription(self._subscription)
            self._subscription = None

    def destroy(self) -> None:
        """Unsubscribe and destroy the publisher."""
        self.unsubscribe()
        self._node.destroy_publisher(self._pub)

    def _on_info(self, msg: CameraInfo) -> None:
        with self._lock:
            self._latest = msg

    def publish(self, header: Header, width: int, height: int) -> bool:
        """Publish the newest camera_info with header; False if none arrived yet."""
        with self._lock:
            latest, self._image_size = self._latest, (width, height)
        if latest is None:
            return False
        mismatch = _mismatch(latest, (width, height))
        if mismatch:
            self._node.get_logger().warning(f'{self.topic}: {mismatch} (republished unchanged)',
                                            throttle_duration_sec=THROTTLE_S)
        self._pub.publish(restamped(latest, header))
        return True

    def status(self) -> Tuple[str, List[str], List[str]]:
        """(diagnostics value, problems (WARN), notes) of the camera_info input."""
        with self._lock:
            latest, size = self._latest, self._image_size
        if latest is None:
            return 'never received', [], [f'no camera_info on {self.topic}']
        mismatch = _mismatch(latest, size) if size else None
        if mismatch:
            return mismatch, [mismatch], []
        return 'ok', [], []


def _mismatch(info: CameraInfo, size: Tuple[int, int]) -> Optional[str]:
    """Describe a camera_info whose size differs from the image's, else None."""
    if (info.width, info.height) == size:
        return None
    return f'camera_info {info.width}x{info.height} != image {size[0]}x{size[1]}'
