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

"""CameraChannel: the topics and statistics of one camera of the segmentation node.

The single-camera node has one channel (name '') on `image`; with the `cameras` parameter
every camera <name> has its own: input <name>/image (or <name>/image/compressed), its
camera_info relay, its outputs under <name>/segmentation/, its LabelInfo topics and its
own frame, drop, latency and malformed counters.
"""

from typing import Any, Callable, Dict, List, Sequence, Tuple

from rclpy.node import Node

from .camera_info import CameraInfoRelay
from .cameras import camera_prefix
from .diagnostics import WindowStats
from .outputs import CameraOutputs, label_info_publishers
from .params import NodeParams
from .qos import input_qos, output_qos


class CameraChannel:
    """Publishers, subscriptions and counters of one camera (name '' = the only one)."""

    def __init__(self, node: Node, name: str, params: NodeParams, head_names: Sequence[str],
                 class_names: Sequence[Sequence[str]]) -> None:
        self._node, self.name = node, name
        prefix = camera_prefix(name)
        image_topic = node.resolve_topic_name(prefix + 'image')
        # image_transport convention: the compressed topic is <remapped image>/compressed
        compressed = params.input_transport == 'compressed'
        self.input_topic = image_topic + '/compressed' if compressed else image_topic
        self.stats = WindowStats()
        self.outputs = CameraOutputs(node, prefix, head_names, params.output_depth)
        self.camera_info = CameraInfoRelay(
            node, image_topic, prefix, input_qos(params.input_reliability, 1),
            output_qos(params.output_depth))
        self._label_info_pubs = label_info_publishers(node, head_names, class_names, prefix)
        self._subscription: Any = None

    def subscribe(self, msg_type: type, callback: Callable[[Any], None],
                  params: NodeParams) -> None:
        """Subscribe to the camera image (callback(msg)) and its camera_info."""
        self.camera_info.subscribe()
        if self._subscription is None:
            self._subscription = self._node.create_subscription(
                msg_type, self.input_topic, callback,
                input_qos(params.input_reliability, params.input_depth))

    def unsubscribe(self) -> None:
        """Stop listening to the image and camera_info."""
        if self._subscription is not None:
            self._node.destroy_subscription(self._subscription)
            self._subscription = None
        self.camera_info.unsubscribe()

    def destroy(self) -> None:
        """Unsubscribe and destroy every publisher of this camera."""
        self.unsubscribe()
        self.outputs.destroy()
        self.camera_info.destroy()
        for pub in self._label_info_pubs:
            self._node.destroy_publisher(pub)
        self._label_info_pubs = []

    def status(self) -> Tuple[Dict[str, str], List[str], List[str]]:
        """Diagnostics values of this camera's inputs, problems (WARN) and notes."""
        info = {'input_topic': self.input_topic}
        if self.name:
            info['camera'] = self.name
        info['camera_info'], problems, notes = self.camera_info.status()
        info['camera_info_topic'] = self.camera_info.topic
        return info, problems, notes
