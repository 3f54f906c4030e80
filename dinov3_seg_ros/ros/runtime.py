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

"""SegmentationRuntime: the model, publishers, subscription and worker of one node.

Shared by the plain node and the lifecycle node: creating it loads the model and the
publishers (the lifecycle 'configure'), activate() subscribes and starts the worker,
deactivate() stops processing (model kept), destroy() frees everything (GPU memory too).
The subscription callback only validates a message and drops it into a one-slot buffer
(a newer frame replaces an unprocessed one); the worker segments the newest frame and
publishes labels, overlay and colored images with the input's header. Overlay and
colored images are computed only while someone subscribes.
"""

import gc
import sys
import threading
import time
from typing import Any, Callable, Optional

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from . import image_codec as codec
from ..core.errors import ImageError
from ..core.segmenter import Segmenter
from .diagnostics import build_status, WindowStats
from .frame_slot import FrameSlot
from .params import NodeParams
from .camera_info import CameraInfoRelay
from .outputs import CameraOutputs, head_class_names, label_info_publishers
from .qos import input_qos, output_qos

THROTTLE_S = 5.0


class SegmentationRuntime:
    """Everything a configured segmentation node holds; params() gives the current values."""

    def __init__(self, node: Node, params: Callable[[], NodeParams]) -> None:
        self._node, self._params = node, params
        self.segmenter: Optional[Segmenter] = Segmenter(params().model_config())
        self._stats = WindowStats()
        self._slot: FrameSlot[Any] = FrameSlot()
        self._worker: Optional[threading.Thread] = None
        self._subscription: Any = None
        compressed = params().input_transport == 'compressed'
        self._check = codec.check_compressed if compressed else codec.check_image
        self._decode = codec.compressed_to_rgb if compressed else codec.image_to_rgb
        self._msg_type = CompressedImage if compressed else Image
        # image_transport convention: the compressed topic is <remapped 'image'>/compressed
        self.input_topic = (node.resolve_topic_name('image') + '/compressed' if compressed
                            else node.resolve_topic_name('image'))
        self._create_publishers()
        self._timer = node.create_timer(params().diagnostics_period, self._publish_diagnostics)

    @property
    def active(self) -> bool:
        """True while subscribed and processing."""
        return self._subscription is not None

    def describe(self) -> str:
        """One line for the start-up log: model, device, heads, input."""
        seg, params = self.segmenter, self._params()
        return (f'{seg.backbone_name} on {seg.device} ({seg.backend}), {seg.num_classes} '
                f'classes, heads {", ".join(seg.head_names)}, input {self.input_topic} '
                f'({params.input_transport}, {params.input_reliability})'
                + (', UNTRAINED weights' if seg.untrained else ''))

    def _create_publishers(self) -> None:
        node, seg, params = self._node, self.segmenter, self._params()
        self.outputs = CameraOutputs(node, '', seg.head_names, params.output_depth)
        self.camera_info = CameraInfoRelay(
            node, node.resolve_topic_name('image'), '', input_qos(params.input_reliability, 1),
            output_qos(params.output_depth))
        self._diagnostics_pub = node.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._label_info_pubs = label_info_publishers(node, seg.head_names,
                                                      head_class_names(seg))

    def activate(self) -> None:
        """Subscribe to the camera and start the worker (no-op when active)."""
        if self.active:
            return
        params = self._params()
        self._slot = FrameSlot()
        self._worker = threading.Thread(target=self._work, args=(self._slot,),
                                        name='segmentation-worker', daemon=True)
        self._worker.start()
        self.camera_info.subscribe()
        self._subscription = self._node.create_subscription(
            self._msg_type, self.input_topic, self._on_image,
            input_qos(params.input_reliability, params.input_depth))

    def deactivate(self) -> None:
        """Unsubscribe and stop the worker; nothing is published until activate()."""
        if self._subscription is not None:
            self._node.destroy_subscription(self._subscription)
            self._subscription = None
        self.camera_info.unsubscribe()
        self._slot.close()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=30.0)
        self._worker = None

    def destroy(self) -> None:
        """Deactivate, destroy publishers and timer, and free the model (and GPU memory)."""
        self.deactivate()
        node = self._node
        node.destroy_timer(self._timer)
        self.outputs.destroy()
        self.camera_info.destroy()
        for pub in (self._diagnostics_pub, *self._label_info_pubs):
            node.destroy_publisher(pub)
        self._label_info_pubs = []
        on_cuda = self.segmenter is not None and 'cuda' in str(self.segmenter.device)
        self.segmenter = None
        gc.collect()
        torch = sys.modules.get('torch')
        if on_cuda and torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _on_image(self, msg: Any) -> None:
        """Validate and hand the message to the worker; never blocks on inference."""
        self._stats.count('input')
        if not self._params().enabled:
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
        self._node.get_logger().warning(f'skipping malformed image: {exc}',
                                        throttle_duration_sec=THROTTLE_S)

    def _work(self, slot: FrameSlot) -> None:
        while not slot.closed:
            msg = slot.get(timeout=0.5)
            if msg is None:
                continue
            try:
                self._process(msg)
            except ImageError as exc:
                self._skip(exc)
            except Exception as exc:  # noqa: BLE001 - keep the worker alive, report the error
                if slot.closed or not self._node.context.ok():
                    return
                self._node.get_logger().error(
                    f'segmentation failed: {type(exc).__name__}: {exc}',
                    throttle_duration_sec=THROTTLE_S)

    def _process(self, msg: Any) -> None:
        """Decode one message, segment it and publish every requested output."""
        started = time.perf_counter()
        params = self._params()
        rgb, encoding = self._decode(msg)
        result = self.segmenter(rgb, alpha=params.overlay_alpha,
                                draw_labels=params.draw_labels, **self.outputs.wants(params))
        header = msg.header
        self.outputs.publish(result, header, encoding)
        self.camera_info.publish(header, rgb.shape[1], rgb.shape[0])
        self._stats.count_output(self._latency_s(header), time.perf_counter() - started)

    def _latency_s(self, header: Header) -> Optional[float]:
        """Seconds from the header stamp to now (node clock); None for an unstamped frame."""
        stamp = Time.from_msg(header.stamp).nanoseconds
        if stamp == 0:
            return None
        return (self._node.get_clock().now().nanoseconds - stamp) * 1e-9

    def _publish_diagnostics(self) -> None:
        seg, params, node = self.segmenter, self._params(), self._node
        info = {'device': seg.device, 'backbone': seg.backbone_name, 'backend': seg.backend,
                'num_classes': str(seg.num_classes), 'heads': ','.join(seg.head_names),
                'input_topic': self.input_topic, 'input_transport': params.input_transport,
                'active': str(self.active).lower()}
        info['camera_info'], problems, notes = self.camera_info.status()
        info['camera_info_topic'] = self.camera_info.topic
        name = f'{node.get_fully_qualified_name()}: segmentation'
        status = build_status(self._stats.report(), name, seg.device, info, seg.untrained,
                              params.enabled and self.active, problems, notes)
        self._diagnostics_pub.publish(DiagnosticArray(
            header=Header(stamp=node.get_clock().now().to_msg()), status=[status]))
