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

Failures never silence other cameras: a frame that cannot be decoded, segmented or published
is counted on its own camera (the `failed` counter and last reason in /diagnostics) and
logged naming the camera (failure_log.py); a failed batch is retried frame by frame.
"""

import gc
import sys
import threading
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from . import image_codec as codec
from ..core.errors import ImageError
from ..core.heap import trim_heap
from ..core.segmenter import SegmentationResult, Segmenter
from .camera_channel import CameraChannel
from .diagnostics import build_status, node_values, stamp_latency_s
from .failure_log import describe_error, FailureLog
from .frame_slot import FrameSlots
from .node_common import check_topic_tokens
from .outputs import head_class_names
from .params import NodeParams
from .worker_thread import JOIN_TIMEOUT_S, WorkerThread


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
        self._worker = WorkerThread()
        compressed = params().input_transport == 'compressed'
        self._check = codec.check_compressed if compressed else codec.check_image
        self._decode = codec.compressed_to_rgb if compressed else codec.image_to_rgb
        self._msg_type = CompressedImage if compressed else Image
        self._batch_lock = threading.Lock()
        self._batch_sizes: List[int] = []
        self._failures = FailureLog(node.get_logger())
        self._batch_failure_said = False
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
                + (', UNTRAINED weights' if seg.untrained else '') + self._batching())

    def _batching(self) -> str:
        """How the cameras' frames are batched when the model takes fewer at once."""
        per_call, cameras = self.segmenter.max_batch, len(self.channels)
        if not per_call or cameras <= per_call:
            return ''
        return (f'; the model takes {per_call} frame(s) per call: the {cameras} cameras\' '
                f'frames run in {-(-cameras // per_call)} calls')

    def _create_publishers(self) -> None:
        node, seg, params = self._node, self.segmenter, self._params()
        names = head_class_names(seg)
        check_topic_tokens(seg.head_names)  # before any publisher exists
        self.channels: Dict[str, CameraChannel] = {
            name: CameraChannel(node, name, params, seg.head_names, names)
            for name in (params.cameras or ('',))}
        self._diagnostics_pub = node.create_publisher(DiagnosticArray, '/diagnostics', 10)

    def activate(self) -> None:
        """Subscribe to the cameras and start the worker (no-op when active).

        Raises RuntimeError while the previous worker is still inside inference.
        """
        if self.active:
            return
        params = self._params()
        slots = FrameSlots(list(self.channels))
        self._worker.start(self._work, slots, self.segmenter)
        self._slots = slots
        for channel in self.channels.values():
            channel.subscribe(self._msg_type, lambda msg, ch=channel: self._on_image(ch, msg),
                              params)
        self._subscribed = True

    def deactivate(self) -> None:
        """Unsubscribe and stop the worker; nothing is published until activate().

        A worker still inside inference after JOIN_TIMEOUT_S is kept, and said.
        """
        for channel in self.channels.values():
            channel.unsubscribe()
        self._subscribed = False
        self._slots.close()
        if not self._worker.join():
            self._node.get_logger().warning(
                f'the segmentation worker is still inside inference after {JOIN_TIMEOUT_S:.0f}'
                ' s: it stops after this frame; no second worker starts before that')

    def destroy(self) -> None:
        """Deactivate, destroy publishers and timer, and free the model (and GPU memory).

        A worker still running keeps its own reference to the model: the model is freed when
        that frame ends, never under it.
        """
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
            torch.cuda.empty_cache()  # frees cached blocks only, never memory in use
        trim_heap()  # the freed model's memory back to the OS: RSS flat over cycles

    def _on_image(self, channel: CameraChannel, msg: Any) -> None:
        """Validate and hand the message to the worker; never blocks on inference."""
        channel.stats.count('input')
        if not self._params().enabled:
            channel.stats.count('ignored')
            return
        try:
            self._check(msg)
        except ImageError as exc:
            self._failures.malformed(channel, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a callback must not end the node
            self._failures.failed(channel, 'input check', exc)
            return
        if self._slots.put(channel.name, msg):
            channel.stats.count('dropped')

    def _work(self, slots: FrameSlots, segmenter: Segmenter) -> None:
        """Worker loop: holds its own reference to the model until it returns."""
        while not slots.closed:
            batch = slots.take_all(timeout=0.5)
            if not batch:
                continue
            try:
                self._process(batch, segmenter)
            except Exception as exc:  # noqa: BLE001 - keep the worker alive, report the error
                if slots.closed or not self._node.context.ok():
                    return
                for name in batch:
                    self._failures.failed(self.channels[name], 'processing', exc)

    def _process(self, batch: Dict[str, Any], segmenter: Segmenter) -> None:
        """Decode the newest frame of each camera, segment them as one batch, publish.

        A frame that fails (decode, model, publish) is counted and logged on its own camera;
        the other cameras of the batch are still published.
        """
        started = time.perf_counter()
        params = self._params()
        frames: List[Frame] = []
        for name, msg in batch.items():
            channel = self.channels[name]
            try:
                rgb, encoding = self._decode(msg)
            except ImageError as exc:
                self._failures.malformed(channel, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - one camera's frame only
                self._failures.failed(channel, 'decode', exc)
                continue
            frames.append(Frame(channel, msg.header, rgb, encoding))
        if not frames:
            return
        wants = [frame.channel.outputs.wants(params) for frame in frames]
        kwargs = {key: any(w[key] for w in wants) for key in wants[0]}
        results = self._segment(segmenter, frames, dict(
            kwargs, alpha=params.overlay_alpha, draw_labels=params.draw_labels))
        with self._batch_lock:
            self._batch_sizes.append(len(frames))
        for frame, result in zip(frames, results):
            if result is not None:
                self._publish(frame, result, started)

    def _publish(self, frame: Frame, result: SegmentationResult, started: float) -> None:
        """Publish one camera's outputs; a failure is counted on that camera only."""
        try:
            frame.channel.outputs.publish(result, frame.header, frame.encoding)
            frame.channel.camera_info.publish(frame.header, frame.rgb.shape[1],
                                              frame.rgb.shape[0])
        except Exception as exc:  # noqa: BLE001 - the other cameras still publish
            self._failures.failed(frame.channel, 'publish', exc)
            return
        now_ns = self._node.get_clock().now().nanoseconds
        frame.channel.stats.count_output(stamp_latency_s(frame.header.stamp, now_ns),
                                         time.perf_counter() - started)

    def _segment(self, segmenter: Segmenter, frames: List[Frame], kwargs: Dict[str, Any]
                 ) -> List[Optional[SegmentationResult]]:
        """Results of all frames in one batch; None for a frame that failed (counted).

        When the batch call fails, every frame is segmented alone, so one bad frame (or a
        model that cannot batch) never costs the other cameras their labels.
        """
        if len(frames) > 1:
            try:
                return list(segmenter.segment_batch([f.rgb for f in frames], **kwargs))
            except Exception as exc:  # noqa: BLE001 - find the bad frame: one by one
                if not isinstance(exc, ImageError) and not self._batch_failure_said:
                    self._batch_failure_said = True
                    self._node.get_logger().warning(
                        f'a batch of {len(frames)} frames failed ({describe_error(exc)}): '
                        'segmenting the frames one by one')
        results: List[Optional[SegmentationResult]] = []
        for frame in frames:
            try:
                results.append(segmenter(frame.rgb, **kwargs))
            except ImageError as exc:
                self._failures.malformed(frame.channel, exc)
                results.append(None)
            except Exception as exc:  # noqa: BLE001 - this camera's frame only
                self._failures.failed(frame.channel, 'segmentation', exc)
                results.append(None)
        return results

    def _publish_diagnostics(self) -> None:
        try:  # an exception in a timer callback would end spin(): the whole node
            self._diagnostics_pub.publish(DiagnosticArray(
                header=Header(stamp=self._node.get_clock().now().to_msg()),
                status=self.diagnostic_statuses()))
        except Exception as exc:  # noqa: BLE001 - said, and the next period tries again
            self._node.get_logger().error(f'diagnostics failed: {describe_error(exc)}',
                                          throttle_duration_sec=30.0)

    def diagnostic_statuses(self) -> List[Any]:
        """One DiagnosticStatus per camera for the window since the last call (resets it)."""
        seg, params, node = self.segmenter, self._params(), self._node
        with self._batch_lock:
            sizes, self._batch_sizes = self._batch_sizes, []
        base = node_values(seg, params.input_transport, self.active, params.cameras, sizes)
        statuses = []
        for channel in self.channels.values():
            info, problems, notes = channel.status()
            suffix = f'{channel.name}/segmentation' if channel.name else 'segmentation'
            statuses.append(build_status(
                channel.stats.report(), f'{node.get_fully_qualified_name()}: {suffix}',
                seg.device, dict(base, **info), seg.untrained, params.enabled and self.active,
                problems, notes))
        return statuses
