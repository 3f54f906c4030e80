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

"""The output topics of one camera and the per-head LabelInfo topics.

CameraOutputs publishes, under <prefix>segmentation/: labels, heads/<name>/labels,
overlay, colored, confidence (mono8) and the image_transport-style compressed overlay
(JPEG) and colored (PNG) images. Everything but labels is computed only while subscribed.
The messages themselves come from output_messages (shared with the recordings tool).
"""

from typing import Any, Dict, List, Optional, Sequence

from rclpy.node import Node
from std_msgs.msg import Header

from ..core.segmenter import SegmentationResult
from .node_common import topic_token
from .output_messages import head_outputs, output_messages, output_type
from .params import NodeParams
from .qos import latched_qos, output_qos

try:  # vision_msgs is optional: without it the node publishes no label_info topic
    from vision_msgs.msg import LabelInfo, VisionClass
except ImportError:  # pragma: no cover - depends on the ROS installation
    LabelInfo = VisionClass = None

_OPTIONAL = ('overlay', 'overlay/compressed', 'colored', 'colored/compressed', 'confidence')


class CameraOutputs:
    """Publishers of one camera's outputs (prefix '' or '<camera>/')."""

    def __init__(self, node: Node, prefix: str, head_names: Sequence[str], depth: int) -> None:
        self._node = node
        qos = output_qos(depth)
        base = f'{prefix}segmentation/'
        names = ['labels', *_OPTIONAL, *head_outputs(head_names).values()]
        self._pubs: Dict[str, Any] = {
            name: node.create_publisher(output_type(name), base + name, qos) for name in names}

    def _subscribed(self, *names: str) -> bool:
        return any(self._pubs[name].get_subscription_count() > 0 for name in names)

    def wants(self, params: NodeParams) -> Dict[str, bool]:
        """Which optional outputs have subscribers (keyword arguments of Segmenter calls)."""
        return {'overlay': params.publish_overlay
                and self._subscribed('overlay', 'overlay/compressed'),
                'colored': params.publish_colored
                and self._subscribed('colored', 'colored/compressed'),
                'confidence': self._subscribed('confidence')}

    def publish(self, result: SegmentationResult, header: Header, encoding: str) -> None:
        """Publish labels, every head and every computed output with a subscriber."""
        wanted = {name for name in _OPTIONAL if self._subscribed(name)} | {'heads'}
        for name, msg in output_messages(result, header, encoding, wanted).items():
            self._pubs[name].publish(msg)

    def destroy(self) -> None:
        """Destroy every publisher."""
        for pub in self._pubs.values():
            self._node.destroy_publisher(pub)
        self._pubs = {}


_missing_said = False


def label_info_publishers(node: Node, head_names: Sequence[str],
                          class_names: Sequence[Sequence[str]], prefix: str = '') -> List[Any]:
    """Latched LabelInfo: <prefix>segmentation/label_info (first head), heads/<name>/label_info.

    Without vision_msgs: no topic, and a warning once per process.
    """
    global _missing_said
    if LabelInfo is None:
        if not _missing_said:
            node.get_logger().warning('vision_msgs is not installed: no label_info topics '
                                      '(class names: ros2 param get <node> class_names)')
            _missing_said = True
        return []
    stamp = node.get_clock().now().to_msg()
    topics = [f'{prefix}segmentation/label_info'] + [
        f'{prefix}segmentation/heads/{topic_token(name)}/label_info' for name in head_names]
    names = [class_names[0]] + list(class_names)
    publishers = []
    for topic, classes in zip(topics, names):
        pub = node.create_publisher(LabelInfo, topic, latched_qos())
        pub.publish(LabelInfo(header=Header(stamp=stamp), threshold=0.0, class_map=[
            VisionClass(class_id=i, class_name=str(n)) for i, n in enumerate(classes)]))
        publishers.append(pub)
    return publishers


def head_class_names(segmenter: Any) -> List[List[str]]:
    """Class names per head (the first head's names as the node reports them)."""
    names: Optional[List[List[str]]] = getattr(segmenter, 'head_class_names', None)
    names = [list(n) for n in names] if names else [list(segmenter.class_names)]
    names[0] = list(segmenter.class_names)
    return names
