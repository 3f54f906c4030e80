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

"""Many cameras, one node: per-camera topics, headers, sizes, diagnostics and bad input.

One segmentation_node subprocess (vits16 with random weights, input_size 64, a 5-class head)
serves cameras front (64x48), left (48x64) and rear (80x40, remapped) over real DDS on
loopback; a client node in this process publishes and listens (the camera list and the
per-camera frame slots without DDS: test_ros_cameras.py, test_ros_frame_slot.py).
"""

import time

import cv2
from dinov3_seg_ros.core.segmenter import Segmenter
from dinov3_seg_ros.ros import image_codec as codec
from dinov3_seg_ros.ros.params import params_from_values
import numpy as np
import pytest
import rclpy
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

from ros_node_client import (NodeProcess, REPLY_S, ros_client, stamp_key, start_error,
                             start_node, write_head)

pytestmark = pytest.mark.ros

NS = '/mc'
SIZES = {'front': (64, 48), 'left': (48, 64), 'rear': (80, 40)}  # (width, height)
INPUTS = {'front': f'{NS}/front/image', 'left': f'{NS}/left/image',
          'rear': '/robot/rear_cam/image_raw'}  # rear/image is remapped


# --- one node, three cameras, over DDS --------------------------------------------------------

MODEL = {'backbone': 'vits16', 'device': 'cpu', 'warmup': 0, 'input_size': '64'}


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('multicam')
    head = write_head(tmp / 'head.pth')
    params = tmp / 'params.yaml'
    params.write_text('/**:\n  ros__parameters:\n    backbone: vits16\n    device: cpu\n'
                      f"    head_weights: '{head}'\n    warmup: 0\n    input_size: '64'\n"
                      '    diagnostics_period: 0.5\n    cameras: [front, left, rear]\n')
    return tmp, head, str(params)


@pytest.fixture(scope='module')
def client():
    labels = {f'{camera}_labels': f'{NS}/{camera}/segmentation/labels' for camera in SIZES}
    with ros_client(INPUTS['front'], f'{NS}/segmentation', labels) as client:
        yield client


@pytest.fixture(scope='module')
def node(files, client):
    tmp, _, params = files
    process = start_node(client, list(INPUTS.values()), tmp, 'multicam', params,
                         '-r', f'__ns:={NS}', '-r', f'rear/image:={INPUTS["rear"]}')
    yield process
    process.stop()


@pytest.fixture(scope='module')
def images(photos):
    names = {'front': 'chelsea', 'left': 'astronaut', 'rear': 'coffee'}
    return {camera: cv2.resize(photos[names[camera]], size, interpolation=cv2.INTER_AREA)
            for camera, size in SIZES.items()}


def message(client, rgb, camera):
    msg = client.stamp(codec.rgb_to_image(rgb, 'rgb8', Header()))
    msg.header.frame_id = f'{camera}_optical_{msg.header.frame_id}'
    return msg


def request_all(client, msgs, timeout=REPLY_S):
    """Publish {camera: msg} together until every camera's labels answer its own frame."""
    keys = {camera: stamp_key(msg.header) for camera, msg in msgs.items()}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for camera, msg in msgs.items():
            client.publish(msg, INPUTS[camera])
        if client.wait_until(lambda: all(client.find(f'{c}_labels', k)
                                         for c, k in keys.items()), 3.0):
            return {c: client.find(f'{c}_labels', k) for c, k in keys.items()}
    raise AssertionError(f'no labels for {keys} within {timeout} s')


def statuses(client, since=0):
    """Every diagnostics status of the node received after index since, as dicts."""
    found = []
    for array in client.received['diagnostics'][since:]:
        for status in array.status:
            if status.name.startswith(f'{NS}/segmentation:'):
                values = {kv.key: kv.value for kv in status.values}
                values.update(name=status.name, level=ord(status.level),
                              message=status.message)
                found.append(values)
    return found


def camera_status(client, camera, predicate, timeout=REPLY_S):
    start = len(client.received['diagnostics'])
    hits = []
    assert client.wait_until(lambda: hits.extend(
        s for s in statuses(client, start) if s.get('camera') == camera and predicate(s))
        or hits, timeout), f'no matching diagnostics of {camera}'
    return hits[0]


@pytest.mark.slow
def test_each_camera_keeps_its_header_and_size_and_single_frame_labels(files, node, client,
                                                                       images):
    msgs = {camera: message(client, rgb, camera) for camera, rgb in images.items()}
    out = request_all(client, msgs)
    reference = Segmenter(params_from_values(dict(MODEL, head_weights=files[1])).model_config())
    for camera, labels in out.items():
        assert labels.header == msgs[camera].header, camera
        assert (labels.width, labels.height) == SIZES[camera]
        assert labels.encoding == 'mono8'
        expected = reference(images[camera]).labels
        np.testing.assert_array_equal(codec.image_view(labels)[:, :, 0], expected,
                                      err_msg=camera)


@pytest.mark.slow
def test_newest_frames_of_all_cameras_run_as_one_batch(node, client, images):
    start = len(client.received['diagnostics'])
    deadline = time.monotonic() + REPLY_S
    while time.monotonic() < deadline:
        request_all(client, {c: message(client, rgb, c) for c, rgb in images.items()})
        if any(s.get('batch_size_max') == '3' for s in statuses(client, start)):
            break
        client.wait_until(lambda: False, 0.6)  # one diagnostics period
    batches = [s.get('batch_size_max') for s in statuses(client, start)]
    assert '3' in batches, batches
    assert all(int(b) <= 3 for b in batches)


@pytest.mark.slow
def test_topics_are_per_camera_and_remappable(node, client):
    graph = client.node
    assert graph.count_subscribers('/robot/rear_cam/image_raw') >= 1
    assert graph.count_subscribers(f'{NS}/rear/image') == 0
    assert graph.count_subscribers(f'{NS}/image') == 0
    for camera in SIZES:
        for output in ('labels', 'overlay', 'colored', 'confidence', 'camera_info',
                       'overlay/compressed'):
            assert graph.count_publishers(f'{NS}/{camera}/segmentation/{output}') == 1
    assert graph.count_publishers(f'{NS}/segmentation/labels') == 0
    names = [name for name, _ in graph.get_topic_names_and_types()]
    assert '/robot/rear_cam/camera_info' in names  # camera_info is the image's sibling


@pytest.mark.slow
def test_diagnostics_and_camera_info_are_per_camera(node, client, images):
    request_all(client, {c: message(client, rgb, c) for c, rgb in images.items()})
    for camera in SIZES:
        status = camera_status(client, camera, lambda s: int(s['frames_out_total']) > 0)
        assert status['name'] == f'{NS}/segmentation: {camera}/segmentation'
        assert status['input_topic'] == INPUTS[camera]
        assert status['cameras'] == 'front,left,rear'
        for key in ('latency_mean_ms', 'dropped_frames_total', 'malformed_messages_total'):
            assert key in status
    assert client.wait_until(lambda: client.node.count_subscribers(f'{NS}/front/camera_info'),
                             60)
    width, height = SIZES['front']
    info = CameraInfo(width=width, height=height, k=[40.0, 0, 32, 0, 40.0, 24, 0, 0, 1])
    status = None
    for _ in range(40):
        client.publish(info, f'{NS}/front/camera_info')
        try:
            status = camera_status(client, 'front', lambda s: s['camera_info'] == 'ok', 2.0)
            break
        except AssertionError:
            pass
    assert status is not None, 'camera_info never reached the node'
    left = camera_status(client, 'left', lambda s: True)
    assert left['camera_info'] == 'never received'
    assert f'no camera_info on {NS}/left/camera_info' in left['message']
    client.subscribe('front_info', f'{NS}/front/segmentation/camera_info', CameraInfo)
    msgs = {c: message(client, rgb, c) for c, rgb in images.items()}
    out = request_all(client, msgs)
    key = stamp_key(msgs['front'].header)
    assert client.wait_until(lambda: client.find('front_info', key), REPLY_S)
    assert client.find('front_info', key).header == out['front'].header


@pytest.mark.slow
def test_malformed_frame_on_one_camera_does_not_stop_the_others(node, client, images):
    for _ in range(5):
        bad = message(client, images['left'], 'left')
        bad.encoding = '32FC1'
        client.publish(bad, INPUTS['left'])
        bad = message(client, images['left'], 'left')
        bad.step = 10
        client.publish(bad, INPUTS['left'])
    good = {c: message(client, images[c], c) for c in ('front', 'rear')}
    out = request_all(client, good)
    assert set(out) == {'front', 'rear'}
    status = camera_status(client, 'left', lambda s: int(s['malformed_messages_total']) > 0)
    assert status['level'] == 1
    front = camera_status(client, 'front', lambda s: True)
    assert front['malformed_messages_total'] == '0'
    warnings = [line for line in node.output().splitlines() if 'malformed image' in line]
    assert warnings and all(INPUTS['left'] in line for line in warnings), warnings
    assert len(warnings) < 5  # throttled
    request_all(client, {'left': message(client, images['left'], 'left')})  # left recovers
    assert node.proc.poll() is None


@pytest.mark.slow
@pytest.mark.parametrize('cameras,word', [('[front, left, front]', 'twice'),
                                          ('[front, 2nd]', "'2nd'")])
def test_bad_camera_list_fails_startup_with_one_clear_line(files, cameras, word):
    tmp, _, params = files
    name = 'duplicate' if word == 'twice' else 'invalid'
    error = start_error(NodeProcess(tmp, f'bad_{name}', params, '-r', f'__ns:=/bad_{name}',
                                    '-p', f'cameras:={cameras}'))
    assert 'cameras' in error and word in error


def test_lifecycle_configure_fails_on_a_duplicate_camera():
    from dinov3_seg_ros.ros.lifecycle_node import SegmentationLifecycleNode
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = SegmentationLifecycleNode(
            context=context, namespace='/lifecycle_multicam',
            parameter_overrides=[Parameter('cameras', value=['front', 'front'])])
        try:
            assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
            assert node.runtime is None
        finally:
            node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


@pytest.mark.slow
def test_sigint_stops_the_node_cleanly(node):
    assert node.stop() == 0, node.output()
    assert 'Traceback' not in node.output()
