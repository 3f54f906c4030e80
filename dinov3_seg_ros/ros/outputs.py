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
"""

from typing import Any, Dict, List, Optional, Sequence

import cv2
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from . import image_codec as codec
from ..core.confidence import confidence_to_uint8
from ..core.segmenter import SegmentationResult
from .node_common import head_topic_tokens
from .params import NodeParams
from .qos import latched_qos, output_qos

try:  # vision_msgs is optional: without it the node publishes no label_info topic
    from vision_msgs.msg import LabelInfo, VisionClass
except ImportError:  # pragma: no cover - depends on the ROS installation
    LabelInfo = VisionClass = None

JPEG_QUALITY = 90


def compress(rgb: np.ndarray, encoding: str, fmt: str, header: Header) -> CompressedImage:
    """(H, W, 3) uint8 RGB -> CompressedImage 'jpeg' or 'png' (image_transport format)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if fmt == 'jpeg' else []
    ok, data = cv2.imencode('.jpg' if fmt == 'jpeg' else '.png', rgb[:, :, ::-1], params)
    if not ok:
        raise ValueError(f'cv2.imencode failed for {fmt}')
    return CompressedImage(header=header, format=f'{encoding}; {fmt} compressed bgr8',
                           data=data.tobytes())


class CameraOutputs:
    """Publishers of one camera's outputs (prefix '' or '<camera>/')."""

    def __init__(self, node: Node, prefix: str, head_names: Sequence[str], depth: int) -> None:
        self._node = node
        qos = output_qos(depth)
        base = f'{prefix}segmentation/'
        self.labels = node.create_publisher(Image, base + 'labels', qos)
        self.overlay = node.create_publisher(Image, base + 'overlay', qos)
        self.colored = node.create_publisher(Image, base + 'colored', qos)
        self.confidence = node.create_publisher(Image, base + 'confidence', qos)
        self.overlay_compressed = node.create_publisher(
            CompressedImage, base + 'overlay/compressed', qos)
        self.colored_compressed = node.create_publisher(
            CompressedImage, base + 'colored/compressed', qos)
        tokens = head_topic_tokens(head_names)
        self.heads = {name: node.create_publisher(Image, f'{base}heads/{token}/labels', qos)
                      for name, token in zip(head_names[1:], tokens[1:])}

    def wants(self, params: NodeParams) -> Dict[str, bool]:
        """Which optional outputs have subscribers (keyword arguments of Segmenter calls)."""
        def subscribed(*pubs: Any) -> bool:
            return any(pub.get_subscription_count() > 0 for pub in pubs)
        return {'overlay': params.publish_overlay
                and subscribed(self.overlay, self.overlay_compressed),
                'colored': params.publish_colored
                and subscribed(self.colored, self.colored_compressed),
                'confidence': subscribed(self.confidence)}

    def publish(self, result: SegmentationResult, header: Header, encoding: str) -> None:
        """Publish labels and every computed output with the input's header."""
        self.labels.publish(codec.labels_to_image(result.labels, header))
        if result.overlay is not None:
            color = codec.overlay_encoding(encoding)
            if self.overlay.get_subscription_count() > 0:
                self.overlay.publish(codec.rgb_to_image(result.overlay, color, header))
            if self.overlay_compressed.get_subscription_count() > 0:
                self.overlay_compressed.publish(compress(result.overlay, color, 'jpeg', header))
        if result.colored is not None:
            if self.colored.get_subscription_count() > 0:
                self.colored.publish(codec.rgb_to_image(result.colored, 'rgb8', header))
            if self.colored_compressed.get_subscription_count() > 0:
                self.colored_compressed.publish(compress(result.colored, 'rgb8', 'png', header))
        if result.confidence is not None and self.confidence.get_subscription_count() > 0:
            self.confidence.publish(codec.array_to_image(
                confidence_to_uint8(result.confidence), 'mono8', header))
        for name, labels in result.extra_labels.items():
            if name in self.heads:
                self.heads[name].publish(codec.labels_to_image(labels, header))

    def destroy(self) -> None:
        """Destroy every publisher."""
        for pub in (self.labels, self.overlay, self.colored, self.confidence,
                    self.overlay_compressed, self.colored_compressed, *self.heads.values()):
            self._node.destroy_publisher(pub)
        self.heads = {}


_missing_said = False


def label_info_topics(head_names: Sequence[str], prefix: str = '') -> List[str]:
    """<prefix>segmentation/label_info, then heads/<token>/label_info of every head."""
    return [f'{prefix}segmentation/label_info'] + [
        f'{prefix}segmentation/heads/{token}/label_info'
        for token in head_topic_tokens(head_names)]


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
    topics = label_info_topics(head_names, prefix)
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
