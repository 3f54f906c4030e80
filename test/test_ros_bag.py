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

"""dinov3-seg-bag: every frame segmented, named and stamped as the node publishes it, read
back with independent readers (mcap + mcap-ros2-support, sqlite3). Failures:
test_ros_bag_errors.py."""

import os
import sqlite3

import numpy as np
import pytest
from rosbags.highlevel import AnyReader

import bag_fixture
from bag_fixture import TINY_MODEL as MODEL
from dinov3_seg_ros.core.config import ModelConfig
from dinov3_seg_ros.core.segmenter import Segmenter
from dinov3_seg_ros.ros_tools import bag

mcap_reader = pytest.importorskip('mcap.reader')
mcap_decoder = pytest.importorskip('mcap_ros2.decoder')

OUTPUTS = 'labels,overlay/compressed,camera_info,confidence'
CAMERAS = {'/front/image': '/front/segmentation/', '/rear/image/compressed': '/rear/segmentation/'}


@pytest.fixture(scope='module')
def segmenter():
    return Segmenter(ModelConfig(backbone='vits16', input_size='64', backend='torch',
                                 dtype='float32', device='cpu'))


def read_mcap(folder):
    """(topic, schema name, log time, raw bytes, decoded message) with the mcap library."""
    (path,) = [os.path.join(folder, n) for n in os.listdir(folder) if n.endswith('.mcap')]
    with open(path, 'rb') as stream:
        reader = mcap_reader.make_reader(
            stream, decoder_factories=[mcap_decoder.DecoderFactory()])
        return [(channel.topic, schema.name, message.log_time, message.data, decoded)
                for schema, channel, message, decoded in reader.iter_decoded_messages()]


def read_input(path):
    with AnyReader([path]) as reader:
        return [(c.topic, t, bytes(raw)) for c, t, raw in reader.messages()]


def stamp_ns(header):
    return header.stamp.sec * 10**9 + header.stamp.nanosec


@pytest.fixture(scope='module', params=['mcap', 'sqlite3'])
def converted(request, tmp_path_factory):
    """A two-camera bag (one malformed frame) in the given storage, through the tool."""
    tmp = tmp_path_factory.mktemp(f'bag_{request.param}')
    recorded = bag_fixture.write_rosbag2(tmp / 'in', request.param, frames=3, malformed=1)
    out = tmp / 'out'
    capture = pytest.MonkeyPatch()
    lines = []
    capture.setattr('builtins.print', lambda *a, **k: lines.append(' '.join(map(str, a))))
    try:
        code = bag.main([str(recorded.path), '--out', str(out), '--outputs', OUTPUTS,
                         '--batch', '1', *MODEL])
    finally:
        capture.undo()
    assert code == 0, lines
    return recorded, out, read_mcap(out), '\n'.join(lines)


def test_every_frame_gives_the_nodes_topics_and_types(converted):
    recorded, out, messages, summary = converted
    counts = {}
    for topic, schema, *_ in messages:
        counts[(topic, schema)] = counts.get((topic, schema), 0) + 1
    front, rear = (len(recorded.frames[t]) for t in CAMERAS)
    assert front == rear == 3
    assert {k: v for k, v in counts.items() if '/segmentation/' in k[0]} == {
        ('/front/segmentation/labels', 'sensor_msgs/msg/Image'): front,
        ('/front/segmentation/confidence', 'sensor_msgs/msg/Image'): front,
        ('/front/segmentation/overlay/compressed', 'sensor_msgs/msg/CompressedImage'): front,
        ('/front/segmentation/camera_info', 'sensor_msgs/msg/CameraInfo'): front,
        ('/rear/segmentation/labels', 'sensor_msgs/msg/Image'): rear,
        ('/rear/segmentation/confidence', 'sensor_msgs/msg/Image'): rear,
        ('/rear/segmentation/overlay/compressed', 'sensor_msgs/msg/CompressedImage'): rear}
    assert counts[('/chatter', 'std_msgs/msg/String')] == 3
    assert '6 frames segmented, 1 skipped' in summary
    assert 'skipped 1: step 64 < width 64' in summary  # the malformed frame, named
    assert not os.path.exists(str(out) + '.partial')


def test_headers_log_times_and_labels_match_the_segmenter(converted, segmenter):
    recorded, _, messages, _ = converted
    for topic, space in CAMERAS.items():
        labels = [(t, m) for top, _, t, _, m in messages if top == space + 'labels']
        overlays = [(t, m) for top, _, t, _, m in messages if top == space + 'overlay/compressed']
        assert len(labels) == len(overlays) == len(recorded.frames[topic])
        for (log_time, stamp, frame_id, rgb), (t, msg), (t2, ov) in zip(
                recorded.frames[topic], labels, overlays):
            assert t == t2 == log_time and stamp_ns(msg.header) == stamp_ns(ov.header) == stamp
            assert msg.header.frame_id == frame_id and stamp != log_time
            assert (msg.encoding, msg.width, msg.height) == ('mono8', 64, 48)
            assert msg.step == 64 and ov.format == 'rgb8; jpeg compressed bgr8'
            got = np.frombuffer(msg.data, np.uint8).reshape(48, 64)
            expected = segmenter.segment_batch([np.ascontiguousarray(rgb)])[0].labels
            np.testing.assert_array_equal(got, expected)


def test_camera_info_is_republished_with_the_labels_header(converted):
    _, _, messages, _ = converted
    infos = {t: m for top, _, t, _, m in messages if top == '/front/camera_info'}
    labels = [(t, m) for top, _, t, _, m in messages if top == '/front/segmentation/labels']
    relayed = [(t, m) for top, _, t, _, m in messages if top == '/front/segmentation/camera_info']
    assert [t for t, _ in relayed] == [t for t, _ in labels]
    for (t, info), (_, label) in zip(relayed, labels):
        source = max(k for k in infos if k <= t)  # the newest camera_info before the frame
        assert list(info.k) == list(infos[source].k)
        assert stamp_ns(info.header) == stamp_ns(label.header) != stamp_ns(infos[source].header)
        assert info.header.frame_id == label.header.frame_id


def test_input_topics_are_copied_byte_identical(converted):
    recorded, _, messages, _ = converted
    copied = [(top, t, bytes(raw)) for top, _, t, raw, _ in messages
              if '/segmentation/' not in top]
    assert sorted(copied) == sorted(read_input(recorded.path))


def read_sqlite(folder):
    (path,) = [os.path.join(folder, n) for n in os.listdir(folder) if n.endswith('.db3')]
    with sqlite3.connect(path) as db:
        return db.execute('SELECT topics.name, topics.type, messages.timestamp, messages.data '
                          'FROM messages JOIN topics ON messages.topic_id = topics.id '
                          'ORDER BY messages.timestamp').fetchall()


def test_ros1_bag_to_sqlite3_outputs_only(tmp_path):
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Image
    recorded = bag_fixture.write_rosbag1(tmp_path / 'in.bag', frames=2)
    out = tmp_path / 'out'
    assert bag.main([str(recorded.path), '--out', str(out), '--outputs-only',
                     '--storage', 'sqlite3', '--outputs', 'labels', *MODEL]) == 0
    rows = read_sqlite(out)
    assert sorted({(name, kind) for name, kind, _, _ in rows}) == [
        ('/front/segmentation/labels', 'sensor_msgs/msg/Image'),
        ('/rear/segmentation/labels', 'sensor_msgs/msg/Image')]
    front = [(t, deserialize_message(data, Image)) for name, _, t, data in rows
             if name == '/front/segmentation/labels']
    assert [(t, stamp_ns(m.header), m.header.frame_id) for t, m in front] == [
        (log_time, stamp, frame_id)
        for log_time, stamp, frame_id, _ in recorded.frames['/front/image']]


def test_ros1_bag_topics_become_ros2_messages(tmp_path):
    recorded = bag_fixture.write_rosbag1(tmp_path / 'in.bag', frames=2)
    out = tmp_path / 'out'
    assert bag.main([str(recorded.path), '--out', str(out), '--outputs', 'labels,camera_info',
                     *MODEL]) == 0
    messages = read_mcap(out)  # ROS 2 schemas: the mcap ROS 2 decoder parses every one
    topics = {top: schema for top, schema, *_ in messages}
    assert topics['/front/camera_info'] == topics['/front/segmentation/camera_info'] == (
        'sensor_msgs/msg/CameraInfo')
    assert topics['/chatter'] == 'std_msgs/msg/String'
    infos = [m for top, _, _, _, m in messages if top == '/front/camera_info']
    relayed = [m for top, _, _, _, m in messages if top == '/front/segmentation/camera_info']
    images = [m for top, _, _, _, m in messages if top == '/front/image']
    assert [list(m.k) for m in relayed] == [list(m.k) for m in infos] == [
        [float(v + i) for v in range(9)] for i in range(2)]
    assert [(stamp_ns(m.header), m.encoding) for m in images] == [
        (stamp, 'rgb8') for _, stamp, _, _ in recorded.frames['/front/image']]


@pytest.mark.parametrize('converted', ['mcap'], indirect=True)
def test_bare_mcap_with_batches_into_an_existing_out(converted, tmp_path):
    recorded, first, first_messages, _ = converted
    (bare,) = [recorded.path / n for n in os.listdir(recorded.path) if n.endswith('.mcap')]
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'old.txt').write_text('old')
    args = [str(bare), '--out', str(out), '--outputs', OUTPUTS, '--batch', '4', *MODEL]
    assert bag.main(args) == 2 and (out / 'old.txt').exists()  # refused without --overwrite
    assert bag.main(args + ['--overwrite']) == 0
    assert not (out / 'old.txt').exists()
    again = {(top, t): m for top, _, t, _, m in read_mcap(out) if top.endswith('/labels')}
    before = {(top, t): m for top, _, t, _, m in first_messages if top.endswith('/labels')}
    assert again.keys() == before.keys()
    for key, msg in again.items():  # batched (4 frames, both cameras) vs one by one
        got, one_by_one = (np.frombuffer(m.data, np.uint8) for m in (msg, before[key]))
        agree = np.mean(got == one_by_one)
        assert agree > 0.99, key


def test_extra_heads_and_raw_outputs(tmp_path):
    import torch
    from dinov3_seg_ros.core.checkpoint import HeadCheckpoint, save_head_checkpoint
    from dinov3_seg_ros.core.heads import build_head, HeadConfig
    heads = []
    for seed, name in enumerate(('first', 'second')):
        torch.manual_seed(seed)
        config = HeadConfig(in_channels=384, num_classes=3)
        save_head_checkpoint(str(tmp_path / f'{name}.pth'), HeadCheckpoint(
            build_head(config).state_dict(), config, ['a', 'b', 'c'], backbone='vits16'))
        heads += ['--head-weights', str(tmp_path / f'{name}.pth')]
    recorded = bag_fixture.write_rosbag2(tmp_path / 'in', 'mcap', frames=2)
    out = tmp_path / 'out'
    assert bag.main([str(recorded.path), '--out', str(out), '--outputs-only', '--topics',
                     '/front/image', '--outputs', 'heads,overlay,colored/compressed', *heads,
                     *MODEL]) == 0
    messages = read_mcap(out)
    assert sorted({(top, schema) for top, schema, *_ in messages}) == [
        ('/front/segmentation/colored/compressed', 'sensor_msgs/msg/CompressedImage'),
        ('/front/segmentation/heads/second/labels', 'sensor_msgs/msg/Image'),
        ('/front/segmentation/labels', 'sensor_msgs/msg/Image'),
        ('/front/segmentation/overlay', 'sensor_msgs/msg/Image')]
    segmenter = Segmenter(ModelConfig(backbone='vits16', input_size='64', backend='torch',
                                      dtype='float32', device='cpu',
                                      head_weights=tuple(heads[1::2])))
    second = [m for top, _, _, _, m in messages if top.endswith('heads/second/labels')]
    assert len(second) == len(recorded.frames['/front/image']) == 2
    for (_, _, _, rgb), msg in zip(recorded.frames['/front/image'], second):
        expected = segmenter.segment_batch([np.ascontiguousarray(rgb)])[0]
        np.testing.assert_array_equal(np.frombuffer(msg.data, np.uint8).reshape(48, 64),
                                      expected.extra_labels['second'])
    assert {m.encoding for top, _, _, _, m in messages if top.endswith('/overlay')} == {'rgb8'}
    assert {m.format for top, _, _, _, m in messages if top.endswith('colored/compressed')} == {
        'rgb8; png compressed bgr8'}
