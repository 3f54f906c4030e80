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

"""Small recordings for the dinov3-seg-bag tests, written with rosbags (not with rclpy).

Two cameras (front: raw rgb8 Image on /front/image with /front/camera_info; rear: JPEG
CompressedImage on /rear/image/compressed, no camera_info) and a non-image topic /chatter,
in rosbag2 sqlite3 or mcap storage or a ROS 1 .bag. Header stamps differ from log times so
tests can tell which one a copy kept.
"""

from pathlib import Path
from typing import Dict, List, NamedTuple

import cv2
import numpy as np
from rosbags.typesys import get_typestore, Stores

WIDTH, HEIGHT = 64, 48
T0 = 1_700_000_000_000_000_000  # log time of the first message (ns)
STEP_NS = 50_000_000
STAMP_OFFSET_NS = 7_000_000  # header stamp = log time - this
# dinov3-seg-bag model options that keep the tests fast (random weights)
TINY_MODEL = ['--backbone', 'vits16', '--input-size', '64', '--backend', 'torch',
              '--dtype', 'float32', '--device', 'cpu', '-q']


class Recorded(NamedTuple):
    """What a fixture bag holds: frames by topic as (log time, stamp ns, frame_id, RGB)."""

    path: Path
    frames: Dict[str, List[tuple]]
    malformed: Dict[str, int]


def frame_rgb(index: int, camera: int) -> np.ndarray:
    """Return a deterministic (HEIGHT, WIDTH, 3) uint8 picture: gradients and a moving box."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    rgb = np.stack([x * 4 % 256, y * 5 % 256, (x + y + 40 * camera) % 256], -1).astype(np.uint8)
    rgb[10:30, 5 + 6 * index:25 + 6 * index] = (250, 30 * camera, 20)
    return rgb


def _header(ts, log_time: int, frame_id: str):
    stamp = log_time - STAMP_OFFSET_NS
    time = ts.types['builtin_interfaces/msg/Time'](sec=stamp // 10**9, nanosec=stamp % 10**9)
    extra = {'seq': 0} if 'seq' in _fields(ts, 'std_msgs/msg/Header') else {}
    return ts.types['std_msgs/msg/Header'](stamp=time, frame_id=frame_id, **extra)


def _fields(ts, msgtype: str) -> List[str]:
    return [name for name, _ in ts.fielddefs[msgtype][1]]


def _info(ts, **values):
    """Build a CameraInfo from lowercase field names (ROS 1 spells D, K, R, P in capitals)."""
    names = {name.lower(): name for name in _fields(ts, 'sensor_msgs/msg/CameraInfo')}
    return ts.types['sensor_msgs/msg/CameraInfo'](**{names[k]: v for k, v in values.items()})


def _messages(ts, frames: int, malformed: int) -> List[tuple]:
    """(topic, msgtype, log time, message) in log-time order; record the frames."""
    Image = ts.types['sensor_msgs/msg/Image']
    Compressed = ts.types['sensor_msgs/msg/CompressedImage']
    Info = ts.types['sensor_msgs/msg/CameraInfo']
    String = ts.types['std_msgs/msg/String']
    out, t = [], T0
    for i in range(frames):
        roi = ts.types['sensor_msgs/msg/RegionOfInterest'](
            x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
        info = _info(ts, header=_header(ts, t, 'front_optical'), height=HEIGHT, width=WIDTH,
                     distortion_model='plumb_bob', d=np.zeros(5), k=np.arange(9.0) + i,
                     r=np.eye(3).ravel(), p=np.zeros(12), binning_x=0, binning_y=0, roi=roi)
        out.append(('/front/camera_info', Info, t, info))
        rgb = frame_rgb(i, 0)
        out.append(('/front/image', Image, t + 1, Image(
            header=_header(ts, t + 1, 'front_optical'), height=HEIGHT, width=WIDTH,
            encoding='rgb8', is_bigendian=0, step=WIDTH * 3, data=rgb.ravel())))
        out.append(('/chatter', String, t + 2, String(data=f'hello {i}')))
        ok, jpeg = cv2.imencode('.jpg', frame_rgb(i, 1)[:, :, ::-1],
                                [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert ok
        out.append(('/rear/image/compressed', Compressed, t + 3, Compressed(
            header=_header(ts, t + 3, 'rear_optical'), format='rgb8; jpeg compressed bgr8',
            data=jpeg.ravel())))
        t += STEP_NS
    for _ in range(malformed):  # step smaller than a row: the node skips such frames
        out.append(('/front/image', Image, t, Image(
            header=_header(ts, t, 'front_optical'), height=HEIGHT, width=WIDTH,
            encoding='rgb8', is_bigendian=0, step=WIDTH, data=np.zeros(WIDTH * HEIGHT, np.uint8))))
        t += STEP_NS
    return out


def _record(messages: List[tuple], path: Path, malformed: int) -> Recorded:
    frames: Dict[str, List[tuple]] = {'/front/image': [], '/rear/image/compressed': []}
    for topic, _, log_time, msg in messages:
        if topic in frames and (topic != '/front/image' or msg.step == WIDTH * 3):
            stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
            if topic == '/front/image':
                rgb = msg.data.reshape(HEIGHT, WIDTH, 3)
            else:
                rgb = cv2.imdecode(msg.data, cv2.IMREAD_COLOR)[:, :, ::-1]
            frames[topic].append((log_time, stamp, msg.header.frame_id, rgb))
    return Recorded(path, frames, {'/front/image': malformed})


def write_rosbag2(path: Path, storage: str = 'mcap', frames: int = 3,
                  malformed: int = 0) -> Recorded:
    """Write the two-camera recording as a rosbag2 folder (storage 'mcap' or 'sqlite3')."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    ts = get_typestore(Stores.ROS2_KILTED)
    messages = _messages(ts, frames, malformed)
    plugin = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}[storage]
    with Writer(path, version=Writer.VERSION_LATEST, storage_plugin=plugin) as writer:
        connections = {}
        for topic, cls, log_time, msg in messages:
            msgtype = cls.__msgtype__
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=ts)
            writer.write(connections[topic], log_time, ts.serialize_cdr(msg, msgtype))
    return _record(messages, path, malformed)


def write_rosbag1(path: Path, frames: int = 2) -> Recorded:
    """Write the two-camera recording as a ROS 1 .bag (Noetic message definitions)."""
    from rosbags.rosbag1 import Writer
    ts = get_typestore(Stores.ROS1_NOETIC)
    messages = _messages(ts, frames, 0)
    with Writer(path) as writer:
        connections = {}
        for topic, cls, log_time, msg in messages:
            msgtype = cls.__msgtype__
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=ts)
            writer.write(connections[topic], log_time, ts.serialize_ros1(msg, msgtype))
    return _record(messages, path, 0)
