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

"""SegmentationRuntime: the model, cameras, publishers and worker of one node.

Shared by the plain node and the lifecycle node: creating it loads the model and the
publishers (the lifecycle 'configure'), activate() subscribes and starts the worker,
deactivate() stops processing (model kept), destroy() frees everything (GPU memory too).
A subscription callback only validates a message and drops it into its camera's one-slot
buffer (a newer frame replaces an unprocessed one); the worker takes the newest frame of
every camera that has one, segments them as one batch (Segmenter.segment_batch; a single
frame goes through Segmenter.__call__) and publishes each camera's labels, overlay and
colored images with that camera's header. Overlay and colored images are computed only
while someone subscribes (to any camera's).
"""

import gc
import sys
import threading
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from . import image_codec as codec
from ..core.errors import ImageError
from ..core.segmenter import SegmentationResult, Segmenter
from .camera_channel import CameraChannel
from .diagnostics import build_status
from .frame_slot import FrameSlots
from .outputs import head_class_names
from .params import NodeParams

THROTTLE_S = 5.0


class Frame(NamedTuple):
    """A decoded camera frame: its camera, message header, (H, W, 3) RGB and encoding."""

    channel: CameraChannel
    header: Header
    rgb: Any
    encoding: str


class SegmentationRuntime:
    """Everything a configured segmentation node holds; params() gives the current values."""

    def __init__(self, node: Node, params: Callable[[], NodeParams]) -> None:
        self._node, self._params = node, params
        self.segmenter: Optional[Segmenter] = Segmenter(params().model_config())
        self._worker: Optional[threading.Thread] = None
        compressed = params().input_transport == 'compressed'
        self._check = codec.check_compressed if compressed else codec.check_image
        self._decode = codec.compressed_to_rgb if compressed else codec.image_to_rgb
        self._msg_type = CompressedImage if compressed else Image
        self._batch_lock = threading.Lock()
        self._batch_sizes: List[int] = []
        self._create_publishers()
        self._slots: FrameSlots[Any] = FrameSlots(list(self.channels))
        self._subscribed = False
        self._timer = node.create_timer(params().diagnostics_period, self._publish_diagnostics)

    @property
    def active(self) -> bool:
        """True while subscribed and processing."""
        return self._subscribed

    def describe(self) -> str:
        """One line for the start-up log: model, device, heads, inputs."""
        seg, params = self.segmenter, self._params()
        inputs = ', '.join(ch.input_topic for ch in self.channels.values())
        return (f'{seg.backbone_name} on {seg.device} ({seg.backend}, {seg.precision}), '
                f'{seg.num_classes} '
                f'classes, heads {", ".join(seg.head_names)}, input {inputs} '
                f'({params.input_transport}, {params.input_reliability})'
                + (', UNTRAINED weights' if seg.untrained else ''))

    def _create_publishers(self) -> None:
        node, seg, params = self._node, self.segmenter, self._params()
        names = head_class_names(seg)
        self.channels: Dict[str, CameraChannel] = {
            name: CameraChannel(node, name, params, seg.head_names, names)
            for name in (params.cameras or ('',))}
        self._diagnostics_pub = node.create_publisher(DiagnosticArray, '/diagnostics', 10)

    def activate(self) -> None:
        """Subscribe to the cameras and start the worker (no-op when active)."""
        if self.active:
            return
        params = self._params()
        self._slots = FrameSlots(list(self.channels))
        self._worker = threading.Thread(target=self._work, args=(self._slots,),
                                        name='segmentation-worker', daemon=True)
        self._worker.start()
        for channel in self.channels.values():
            channel.subscribe(self._msg_type, lambda msg, ch=channel: self._on_image(ch, msg),
                              params)
        self._subscribed = True

    def deactivate(self) -> None:
        """Unsubscribe and stop the worker; nothing is published until activate()."""
        for channel in self.channels.values():
            channel.unsubscribe()
        self._subscribed = False
        self._slots.close()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=30.0)
        self._worker = None

    def destroy(self) -> None:
        """Deactivate, destroy publishers and timer, and free the model (and GPU memory)."""
        self.deactivate()
        node = self._node
        node.destroy_timer(self._timer)
        for channel in self.channels.values():
            channel.destroy()
        node.destroy_publisher(self._diagnostics_pub)
        on_cuda = self.segmenter is not None and 'cuda' in str(self.segmenter.device)
        self.segmenter = None
        gc.collect()
        torch = sys.modules.get('torch')
        if on_cuda and torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _on_image(self, channel: CameraChannel, msg: Any) -> None:
        """Validate and hand the message to the worker; never blocks on inference."""
        channel.stats.count('input')
        if not self._params().enabled:
            return
        try:
            self._check(msg)
        except ImageError as exc:
            self._skip(channel, exc)
            return
        if self._slots.put(channel.name, msg):
            channel.stats.count('dropped')

    def _skip(self, channel: CameraChannel, exc: ImageError) -> None:
        channel.stats.count('malformed')
        where = f' on {channel.input_topic}' if channel.name else ''
        self._node.get_logger().warning(f'skipping malformed image{where}: {exc}',
                                        throttle_duration_sec=THROTTLE_S)

    def _work(self, slots: FrameSlots) -> None:
        while not slots.closed:
            batch = slots.take_all(timeout=0.5)
            if not batch:
                continue
            try:
                self._process(batch)
            except Exception as exc:  # noqa: BLE001 - keep the worker alive, report the error
                if slots.closed or not self._node.context.ok():
                    return
                self._node.get_logger().error(
                    f'segmentation failed: {type(exc).__name__}: {exc}',
                    throttle_duration_sec=THROTTLE_S)

    def _process(self, batch: Dict[str, Any]) -> None:
        """Decode the newest frame of each camera, segment them as one batch, publish."""
        started = time.perf_counter()
        params = self._params()
        frames: List[Frame] = []
        for name, msg in batch.items():
            channel = self.channels[name]
            try:
                rgb, encoding = self._decode(msg)
            except ImageError as exc:
                self._skip(channel, exc)
                continue
            frames.append(Frame(channel, msg.header, rgb, encoding))
        if not frames:
            return
        wants = [frame.channel.outputs.wants(params) for frame in frames]
        kwargs = {key: any(w[key] for w in wants) for key in wants[0]}
        results = self._segment(frames, dict(kwargs, alpha=params.overlay_alpha,
                                             draw_labels=params.draw_labels))
        with self._batch_lock:
            self._batch_sizes.append(len(frames))
        for frame, result in zip(frames, results):
            if result is None:
                continue
            frame.channel.outputs.publish(result, frame.header, frame.encoding)
            frame.channel.camera_info.publish(frame.header, frame.rgb.shape[1],
                                              frame.rgb.shape[0])
            frame.channel.stats.count_output(self._latency_s(frame.header),
                                             time.perf_counter() - started)

    def _segment(self, frames: List[Frame], kwargs: Dict[str, Any]
                 ) -> List[Optional[SegmentationResult]]:
        """Results of all frames in one batch; None for a frame the segmenter rejects."""
        if len(frames) > 1:
            try:
                return list(self.segmenter.segment_batch([f.rgb for f in frames], **kwargs))
            except ImageError:
                pass  # find the bad frame: segment one by one, the others still publish
        results: List[Optional[SegmentationResult]] = []
        for frame in frames:
            try:
                results.append(self.segmenter(frame.rgb, **kwargs))
            except ImageError as exc:
                self._skip(frame.channel, exc)
                results.append(None)
        return results

    def _latency_s(self, header: Header) -> Optional[float]:
        """Seconds from the header stamp to now (node clock); None for an unstamped frame."""
        stamp = Time.from_msg(header.stamp).nanoseconds
        if stamp == 0:
            return None
        return (self._node.get_clock().now().nanoseconds - stamp) * 1e-9

    def _publish_diagnostics(self) -> None:
        seg, params, node = self.segmenter, self._params(), self._node
        with self._batch_lock:
            sizes, self._batch_sizes = self._batch_sizes, []
        base = {'device': seg.device, 'backbone': seg.backbone_name, 'backend': seg.backend,
                'precision': seg.precision,
                'precision_reason': seg.precision_reason,
                'num_classes': str(seg.num_classes), 'heads': ','.join(seg.head_names),
                'input_transport': params.input_transport,
                'active': str(self.active).lower()}
        if params.cameras:
            base.update(cameras=','.join(params.cameras),
                        batch_size_mean=f'{sum(sizes) / len(sizes):.2f}' if sizes else 'nan',
                        batch_size_max=str(max(sizes, default=0)))
        statuses = []
        for channel in self.channels.values():
            info, problems, notes = channel.status()
            suffix = f'{channel.name}/segmentation' if channel.name else 'segmentation'
            statuses.append(build_status(
                channel.stats.report(), f'{node.get_fully_qualified_name()}: {suffix}',
                seg.device, dict(base, **info), seg.untrained, params.enabled and self.active,
                problems, notes))
        self._diagnostics_pub.publish(DiagnosticArray(
            header=Header(stamp=node.get_clock().now().to_msg()), status=statuses))
