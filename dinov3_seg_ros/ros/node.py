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

"""SegmentationNode: camera image -> latest-frame slot -> worker -> segmenter -> publish.

The subscription callback only validates a message and drops it into a one-slot buffer
(a newer frame replaces an unprocessed one); a worker thread decodes the newest frame,
runs the core Segmenter and publishes labels, overlay and colored images with the input's
header. Overlay and colored images are computed only while someone subscribes.
"""

import logging
import re
import threading
import time
from typing import Any, List, Optional

from diagnostic_msgs.msg import DiagnosticArray
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.time import Time
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from . import image_codec as codec
from ..core.errors import Dinov3SegError, ImageError
from ..core.segmenter import Segmenter
from .diagnostics import build_status, WindowStats
from .frame_slot import FrameSlot
from .params import (apply_runtime_changes, declare_class_names, declare_parameters,
                     validate_runtime_changes)
from .qos import input_qos, latched_qos, output_qos

try:  # vision_msgs is optional: without it the node publishes no label_info topic
    from vision_msgs.msg import LabelInfo, VisionClass
except ImportError:  # pragma: no cover - depends on the ROS installation
    LabelInfo = VisionClass = None

NODE_NAME = 'segmentation'
THROTTLE_S = 5.0


class SegmentationNode(Node):
    """Semantic segmentation of a camera stream with a DINOv3 backbone and ASPP heads."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._log_bridge = _RosLogHandler(self.get_logger())
        logging.getLogger('dinov3_seg_ros').addHandler(self._log_bridge)
        logging.getLogger('dinov3_seg_ros').setLevel(logging.INFO)
        self._worker: Optional[threading.Thread] = None
        self._slot: FrameSlot[Any] = FrameSlot()
        try:
            self.params = declare_parameters(self)
            self.segmenter = Segmenter(self.params.model_config())  # loads before spinning
            declare_class_names(self, self.segmenter.class_names)
        except BaseException as exc:
            if isinstance(exc, Dinov3SegError):
                self.get_logger().error(f'cannot start: {exc}')
            self.destroy_node()
            raise
        self._stats = WindowStats()
        self._create_publishers()
        self.add_on_set_parameters_callback(validate_runtime_changes)
        self.add_post_set_parameters_callback(self._on_parameters_set)
        compressed = self.params.input_transport == 'compressed'
        self._check = codec.check_compressed if compressed else codec.check_image
        self._decode = codec.compressed_to_rgb if compressed else codec.image_to_rgb
        # image_transport convention: the compressed topic is <remapped 'image'>/compressed
        topic = self.resolve_topic_name('image') + '/compressed' if compressed else 'image'
        self._subscription = self.create_subscription(
            CompressedImage if compressed else Image, topic, self._on_image,
            input_qos(self.params.input_reliability, self.params.input_depth))
        self._diagnostics_timer = self.create_timer(self.params.diagnostics_period,
                                                    self._publish_diagnostics)
        self._worker = threading.Thread(target=self._work, name='segmentation-worker',
                                        daemon=True)
        self._worker.start()
        seg = self.segmenter
        self.get_logger().info(
            f'ready: {seg.backbone_name} on {seg.device} ({seg.backend}), '
            f'{seg.num_classes} classes, heads {", ".join(seg.head_names)}, input '
            f'{self._subscription.topic_name} ({self.params.input_transport}, '
            f'{self.params.input_reliability})' + (', UNTRAINED weights' if seg.untrained
                                                   else ''))

    def _create_publishers(self) -> None:
        qos = output_qos(self.params.output_depth)
        self._labels_pub = self.create_publisher(Image, 'segmentation/labels', qos)
        self._overlay_pub = self.create_publisher(Image, 'segmentation/overlay', qos)
        self._colored_pub = self.create_publisher(Image, 'segmentation/colored', qos)
        self._extra_pubs = {
            name: self.create_publisher(Image, f'segmentation/heads/{topic_token(name)}/labels',
                                        qos)
            for name in self.segmenter.head_names[1:]}
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._label_info_pub = None
        if LabelInfo is not None:
            self._label_info_pub = self.create_publisher(LabelInfo, 'segmentation/label_info',
                                                         latched_qos())
            self._label_info_pub.publish(LabelInfo(
                header=Header(stamp=self.get_clock().now().to_msg()), threshold=0.0,
                class_map=[VisionClass(class_id=i, class_name=name)
                           for i, name in enumerate(self.segmenter.class_names)]))

    def _on_parameters_set(self, changes: List[Parameter]) -> None:
        self.params = apply_runtime_changes(self.params, changes)

    def _on_image(self, msg: Any) -> None:
        """Validate and hand the message to the worker; never blocks on inference."""
        self._stats.count('input')
        if not self.params.enabled:
            return
        try:
            self._check(msg)
        except ImageError as exc:
            self._skip(exc)
            return
        if self._slot.put(msg):
            self._stats.count('dropped')

    def _skip(self, exc: ImageError) -> None:
        self._stats.count('malformed')
        self.get_logger().warning(f'skipping malformed image: {exc}',
                                  throttle_duration_sec=THROTTLE_S)

    def _work(self) -> None:
        while not self._slot.closed:
            msg = self._slot.get(timeout=0.5)
            if msg is None:
                continue
            try:
                self._process(msg)
            except ImageError as exc:
                self._skip(exc)
            except Exception as exc:  # noqa: BLE001 - keep the worker alive, report the error
                if self._slot.closed or not self.context.ok():
                    return
                self.get_logger().error(f'segmentation failed: {type(exc).__name__}: {exc}',
                                        throttle_duration_sec=THROTTLE_S)

    def _process(self, msg: Any) -> None:
        """Decode one message, segment it and publish every requested output."""
        started = time.perf_counter()
        params = self.params
        rgb, encoding = self._decode(msg)
        result = self.segmenter(
            rgb, alpha=params.overlay_alpha, draw_labels=params.draw_labels,
            overlay=params.publish_overlay and self._overlay_pub.get_subscription_count() > 0,
            colored=params.publish_colored and self._colored_pub.get_subscription_count() > 0)
        header = msg.header
        self._labels_pub.publish(codec.labels_to_image(result.labels, header))
        if result.overlay is not None:
            self._overlay_pub.publish(codec.rgb_to_image(
                result.overlay, codec.overlay_encoding(encoding), header))
        if result.colored is not None:
            self._colored_pub.publish(codec.rgb_to_image(result.colored, 'rgb8', header))
        for name, labels in result.extra_labels.items():
            if name in self._extra_pubs:
                self._extra_pubs[name].publish(codec.labels_to_image(labels, header))
        self._stats.count_output(self._latency_s(header), time.perf_counter() - started)

    def _latency_s(self, header: Header) -> Optional[float]:
        """Seconds from the header stamp to now (node clock); None for an unstamped frame."""
        stamp = Time.from_msg(header.stamp).nanoseconds
        if stamp == 0:
            return None
        return (self.get_clock().now().nanoseconds - stamp) * 1e-9

    def _publish_diagnostics(self) -> None:
        seg = self.segmenter
        info = {'device': seg.device, 'backbone': seg.backbone_name, 'backend': seg.backend,
                'num_classes': str(seg.num_classes), 'heads': ','.join(seg.head_names),
                'input_topic': self._subscription.topic_name,
                'input_transport': self.params.input_transport}
        name = f'{self.get_fully_qualified_name()}: segmentation'
        status = build_status(self._stats.report(), name, seg.device, info, seg.untrained,
                              self.params.enabled)
        self._diagnostics_pub.publish(DiagnosticArray(
            header=Header(stamp=self.get_clock().now().to_msg()), status=[status]))

    def destroy_node(self) -> None:
        """Stop and join the worker, then destroy the node."""
        self._slot.close()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=30.0)
        logging.getLogger('dinov3_seg_ros').removeHandler(self._log_bridge)
        super().destroy_node()


def topic_token(name: str) -> str:
    """Turn a head name into a valid ROS topic token ('my-head.v2' -> 'my_head_v2')."""
    token = re.sub(r'_+', '_', re.sub(r'[^A-Za-z0-9_]', '_', name)).strip('_')
    return token if token and not token[0].isdigit() else f'head_{token}'


class _RosLogHandler(logging.Handler):
    """Forwards the core's Python log records (e.g. the CPU fallback warning) to ROS logging."""

    def __init__(self, logger: Any) -> None:
        super().__init__()
        self._logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.ERROR:
            self._logger.error(message)
        elif record.levelno >= logging.WARNING:
            self._logger.warning(message)
        elif record.levelno >= logging.INFO:
            self._logger.info(message)
        else:
            self._logger.debug(message)


def main(args: Optional[List[str]] = None) -> int:
    """Run the node until SIGINT/SIGTERM (exit 0); bad weights or config exit 1, no traceback."""
    rclpy.init(args=args)
    node = None
    code = 0
    try:
        node = SegmentationNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Dinov3SegError:
        code = 1  # SegmentationNode logged the one-line reason
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == '__main__':
    raise SystemExit(main())
