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

"""BagFrames: segment every camera frame of a bag in order and queue what goes out.

The same frame path as the node (dinov3_seg_ros.ros): a message is deserialized by rclpy,
validated and decoded by ros.image_codec, segmented by Segmenter.segment_batch (up to
`batch` frames at once, any mix of cameras) and turned into messages by
ros.output_messages, camera_info by ros.camera_info.restamped. Every output is written at
its input frame's log time, right after that frame; the input's other messages keep their
place. A malformed frame is skipped and counted with its reason.
"""

import collections
import time
from typing import Any, Callable, Collection, Dict, List, NamedTuple, Optional

from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from ..core.errors import ImageError, one_line
from ..core.segmenter import SegmentationResult, Segmenter
from ..ros import image_codec as codec
from ..ros.camera_info import restamped, size_mismatch
from ..ros.output_messages import output_messages, segmenter_options
from .bag_topics import Camera, CAMERA_INFO, COMPRESSED, IMAGE

TYPE_NAMES = {Image: IMAGE, CompressedImage: COMPRESSED, CameraInfo: CAMERA_INFO}


class Frame(NamedTuple):
    """A decoded frame waiting for its batch: camera, log time, header, RGB, camera_info."""

    camera: Camera
    log_time: int
    header: Any
    rgb: Any  # (H, W, 3) uint8
    encoding: str
    info: Optional[CameraInfo]


class Copy(NamedTuple):
    """An input message copied unchanged: output connection, log time, bytes."""

    connection: Any
    log_time: int
    data: Any


class BagFrames:
    """Queue, segment and write the frames of the cameras; counts for the summary."""

    def __init__(self, segmenter: Segmenter, writer: Any, typestore: Any,
                 outputs: Collection[str], batch: int, overlay: Dict[str, Any],
                 on_frame: Callable[[], None]) -> None:
        self._segmenter, self._writer, self._typestore = segmenter, writer, typestore
        self._outputs, self._batch, self._on_frame = set(outputs), max(1, batch), on_frame
        self._kwargs = dict(segmenter_options(self._outputs), **overlay)
        self._queue: List[Any] = []
        self._frames = 0
        self._connections: Dict[str, Any] = {}
        self._infos: Dict[str, CameraInfo] = {}
        self.segmented: Dict[str, int] = collections.Counter()
        self.written: Dict[str, int] = collections.Counter()
        self.skipped: Dict[str, Dict[str, int]] = collections.defaultdict(collections.Counter)
        self.notes: Dict[str, str] = {}
        self.model_s = 0.0

    def copy(self, connection: Any, log_time: int, data: Any) -> None:
        """Queue an input message to be written unchanged, in its place."""
        self._queue.append(Copy(connection, log_time, data))

    def camera_info(self, topic: str, cdr: Any) -> None:
        """Keep the newest camera_info of a topic (as the node's relay does)."""
        try:
            self._infos[topic] = deserialize_message(bytes(cdr), CameraInfo)
        except Exception as exc:  # noqa: BLE001 - rclpy raises several types on bad CDR
            self.notes[topic] = f'unreadable camera_info skipped: {one_line(exc)}'

    def frame(self, camera: Camera, log_time: int, cdr: Any) -> None:
        """Decode one frame and queue it; a full batch is segmented and written."""
        compressed = camera.msgtype == COMPRESSED
        try:
            try:
                msg = deserialize_message(bytes(cdr), CompressedImage if compressed else Image)
            except Exception as exc:  # noqa: BLE001 - rclpy raises several types on bad CDR
                raise ImageError(f'cannot deserialize: {one_line(exc)}') from None
            rgb, encoding = (codec.compressed_to_rgb if compressed else codec.image_to_rgb)(msg)
        except ImageError as exc:
            self._skip(camera, str(exc))
            return
        self._queue.append(Frame(camera, log_time, msg.header, rgb, encoding,
                                 self._infos.get(camera.camera_info)))
        self._frames += 1
        if self._frames >= self._batch:
            self.flush()

    def flush(self) -> None:
        """Segment the queued frames as one batch, then write the queue in bag order."""
        frames = [item for item in self._queue if isinstance(item, Frame)]
        results = self._segment(frames) if frames else []
        by_frame = dict(zip(map(id, frames), results))
        for item in self._queue:
            if isinstance(item, Copy):
                self._writer.write(item.connection, item.log_time, item.data)
                continue
            result = by_frame[id(item)]
            if result is not None:
                self._write_outputs(item, result)
        self._queue, self._frames = [], 0

    def _segment(self, frames: List[Frame]) -> List[Optional[SegmentationResult]]:
        started = time.perf_counter()
        try:
            try:
                return list(self._segmenter.segment_batch([f.rgb for f in frames],
                                                          **self._kwargs))
            except ImageError:
                pass  # find the frame the segmenter rejects: one by one
            results: List[Optional[SegmentationResult]] = []
            for frame in frames:
                try:
                    results.append(self._segmenter.segment_batch([frame.rgb],
                                                                 **self._kwargs)[0])
                except ImageError as exc:
                    self._skip(frame.camera, str(exc))
                    results.append(None)
            return results
        finally:
            self.model_s += time.perf_counter() - started

    def _write_outputs(self, frame: Frame, result: SegmentationResult) -> None:
        cam = frame.camera
        messages = output_messages(result, frame.header, frame.encoding, self._outputs)
        if 'camera_info' in self._outputs and frame.info is not None:
            height, width = frame.rgb.shape[:2]
            mismatch = size_mismatch(frame.info, width, height)
            if mismatch:
                self.notes.setdefault(cam.camera_info, f'{mismatch} (republished unchanged)')
            messages['camera_info'] = restamped(frame.info, frame.header)
        for name, msg in messages.items():
            topic = cam.output_topic(name)
            self._writer.write(self._connection(topic, type(msg)), frame.log_time,
                               serialize_message(msg))
            self.written[topic] += 1
        self.segmented[cam.topic] += 1
        self._on_frame()

    def _connection(self, topic: str, msg_class: type) -> Any:
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(
                topic, TYPE_NAMES[msg_class], typestore=self._typestore)
        return self._connections[topic]

    def _skip(self, camera: Camera, reason: str) -> None:
        self.skipped[camera.topic][reason] += 1
        self._on_frame()
