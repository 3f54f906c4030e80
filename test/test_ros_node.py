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

"""The installed segmentation_node over real DDS (loopback): outputs, params, failures, exit.

The node runs once per module as a subprocess (vits16 with random weights, input_size 64,
a 5-class head checkpoint written here); a client node in this process talks to it.
"""

import signal
import time

import cv2
from dinov3_seg_ros.ros import image_codec as codec
import numpy as np
import pytest
from rcl_interfaces.msg import ParameterType
from sensor_msgs.msg import CompressedImage, Image

from ros_node_inputs import camera_info, rgb_message, write_params
from ros_node_client import CLASSES, REPLY_S, ros_client, stamp_key, start_node, write_head

pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('segnode')
    head = write_head(tmp / 'demo_head.pth')
    second = write_head(tmp / 'second.head.pth', num_classes=3)  # a second head, same pass
    return tmp, head, write_params(tmp / 'params.yaml', f'{head}, {second}')


@pytest.fixture(scope='module')
def client():
    with ros_client('/cam/image', '/segmentation') as client:
        yield client


@pytest.fixture(scope='module')
def node(files, client):
    tmp, _, params = files
    process = start_node(client, ['/cam/image'], tmp, 'segmentation', params,
                         '-p', 'input_size:=64', '-r', 'image:=/cam/image')
    yield process
    process.stop()


@pytest.fixture(scope='module')
def photo(photos):
    return cv2.resize(photos['chelsea'], (64, 48), interpolation=cv2.INTER_AREA)


def test_outputs_have_the_input_header_size_and_encodings(node, client, photo):
    msg = rgb_message(photo)
    out = client.request(msg, ('labels', 'overlay', 'colored'), REPLY_S)
    labels, overlay, colored = out['labels'], out['overlay'], out['colored']
    for image in (labels, overlay, colored):
        assert (image.width, image.height) == (64, 48)
        assert stamp_key(image.header) == stamp_key(msg.header)
        assert image.header.frame_id == msg.header.frame_id
    assert (labels.encoding, overlay.encoding, colored.encoding) == ('mono8', 'rgb8', 'rgb8')
    ids = codec.image_view(labels)[:, :, 0]
    assert ids.max() < len(CLASSES)
    assert not np.array_equal(codec.image_to_rgb(overlay)[0], photo)  # colors blended in


@pytest.mark.parametrize('encoding,pad', [('bgr8', 0), ('rgba8', 6), ('bgra8', 2)])
def test_color_encodings_give_the_same_labels_as_rgb8(node, client, photo, encoding, pad):
    reference = client.request(rgb_message(photo), ('labels',), REPLY_S)['labels']
    out = client.request(rgb_message(photo, encoding, pad), ('labels', 'overlay'), REPLY_S)
    np.testing.assert_array_equal(codec.image_view(out['labels']),
                                  codec.image_view(reference))
    assert out['overlay'].encoding == codec.overlay_encoding(encoding)


@pytest.mark.parametrize('encoding', ['mono16', 'yuv422', 'bayer_grbg8', 'mono8'])
def test_other_encodings_are_segmented(node, client, photo, encoding):
    gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    if encoding == 'mono16':
        pixels, big = gray.astype(np.uint16) * 257, True
    elif encoding == 'yuv422':
        pixels, big = cv2.cvtColor(photo, cv2.COLOR_RGB2YUV_UYVY), False
    elif encoding == 'bayer_grbg8':
        pixels, big = np.ascontiguousarray(photo[:, :, 1]), False
    else:
        pixels, big = gray, False
    if pixels.dtype == np.uint16:
        pixels = pixels.astype('>u2')
    msg = Image(height=48, width=64, encoding=encoding, is_bigendian=int(big),
                step=pixels[0].nbytes)
    msg.data = pixels.tobytes()
    out = client.request(msg, ('labels', 'overlay'), REPLY_S)
    assert (out['labels'].width, out['labels'].height) == (64, 48)
    assert out['overlay'].encoding == 'rgb8'
    assert codec.image_view(out['labels']).max() < len(CLASSES)


def test_second_head_publishes_its_own_labels(node, client, photo):
    out = client.request(rgb_message(photo), ('labels', 'second_head'), REPLY_S)
    second = codec.image_view(out['second_head'])
    assert second.shape[:2] == (48, 64) and second.max() < 3


def test_params_file_overrides_and_class_names_parameter(node, client):
    values = client.get_parameters(['class_names', 'backbone', 'input_size', 'device'])
    assert values[0].type == ParameterType.PARAMETER_STRING_ARRAY
    assert list(values[0].string_array_value) == CLASSES
    assert values[1].string_value == 'vits16'  # from the params file
    assert values[2].integer_value == 64  # from -p input_size:=64
    assert values[3].string_value == 'cpu'


def test_input_is_remapped(node, client):
    assert client.node.count_subscribers('/cam/image') >= 1
    assert client.node.count_subscribers('/image') == 0
    assert client.node.count_publishers('/segmentation/labels') >= 1


def test_latest_frame_wins_under_a_burst(node, client, photo):
    sent = [rgb_message(photo) for _ in range(20)]
    for msg in sent:
        client.stamp(msg)
    keys = {stamp_key(m.header): i for i, m in enumerate(sent)}
    start = len(client.received['labels'])
    for msg in sent:
        client.publish(msg)
    client.request(sent[-1], ('labels',), REPLY_S)  # the newest frame is always answered
    answered = [keys[stamp_key(m.header)] for m in client.received['labels'][start:]
                if stamp_key(m.header) in keys]
    answered = [a for i, a in enumerate(answered) if i == 0 or a != answered[i - 1]]
    assert answered[-1] == 19
    assert all(a < b for a, b in zip(answered, answered[1:]))  # never an older frame later
    assert len(answered) < 20  # stale frames were skipped, not queued


def test_malformed_flood_is_survived_and_throttled(node, client, photo):
    good = rgb_message(photo)
    bad_kinds = [dict(encoding='32FC1'), dict(step=10), dict(height=480),
                 dict(width=0, height=0, step=0), dict(width=20000, step=60000),
                 dict(encoding='yuv422', width=63, step=126)]
    for index in range(200):
        bad = rgb_message(photo)
        for key, value in bad_kinds[index % len(bad_kinds)].items():
            setattr(bad, key, value)
        client.publish(bad)
        time.sleep(0.002)  # pacing only: lets the depth-1 subscription see most of them
    out = client.request(good, ('labels',), REPLY_S)
    assert stamp_key(out['labels'].header) == stamp_key(good.header)
    status = client.diagnostics(lambda s: int(s['malformed_messages_total']) > 0, REPLY_S)
    assert status['device'] == 'cpu'
    warnings = [line for line in node.output().splitlines() if 'malformed image' in line]
    assert 1 <= len(warnings) < 10, warnings  # throttled: one line per 5 s
    assert node.proc.poll() is None


def test_diagnostics_report_rates_latency_and_model(node, client, photo):
    client.request(rgb_message(photo), ('labels',), REPLY_S)
    status = client.diagnostics(lambda s: float(s['output_rate_hz']) > 0, REPLY_S)
    for key in ('input_rate_hz', 'latency_mean_ms', 'latency_max_ms', 'dropped_frames',
                'malformed_messages'):
        assert key in status
    assert float(status['latency_max_ms']) >= float(status['latency_mean_ms']) > 0
    assert (status['backbone'], status['backend'], status['untrained']) == (
        'vits16', 'torch', 'true')
    assert status['level'] == 1  # WARN: untrained backbone


def test_runtime_parameters_apply_and_invalid_ones_are_rejected(node, client, photo):
    ok = client.set_parameter('overlay_alpha', 0.2)
    assert ok.successful, ok.reason
    assert client.get_parameters(['overlay_alpha'])[0].double_value == 0.2
    for name, value in (('overlay_alpha', 1.5), ('enabled', 'yes'), ('backbone', 'vitb16')):
        result = client.set_parameter(name, value)
        assert not result.successful and result.reason, name
    assert client.get_parameters(['overlay_alpha'])[0].double_value == 0.2
    assert client.set_parameter('publish_colored', False).successful
    try:
        msg = rgb_message(photo)
        client.request(msg, ('labels', 'overlay'), REPLY_S)
        assert not client.wait_until(
            lambda: client.find('colored', stamp_key(msg.header)) is not None, 3.0)
    finally:
        assert client.set_parameter('publish_colored', True).successful
    client.request(rgb_message(photo), ('labels', 'colored'), REPLY_S)


def test_enable_service_is_the_enabled_parameter(node, client, photo):
    from std_srvs.srv import SetBool
    try:
        reply = client.call(SetBool, '/enable', SetBool.Request(data=False))
        assert reply.success and reply.message == 'disabled'
        assert client.get_parameters(['enabled'])[0].bool_value is False
        msg = rgb_message(photo)
        client.stamp(msg)
        client.publish(msg)
        assert not client.wait_until(
            lambda: client.find('labels', stamp_key(msg.header)) is not None, 3.0)
    finally:
        assert client.call(SetBool, '/enable', SetBool.Request(data=True)).success
    assert client.get_parameters(['enabled'])[0].bool_value is True
    client.request(rgb_message(photo), ('labels',), REPLY_S)


def send_camera_info(client, info, key):
    """Publish info on /cam/camera_info until the node's diagnostics report key."""
    assert client.wait_until(lambda: client.node.count_subscribers('/cam/camera_info'), 60)
    for _ in range(40):
        client.publish(info, '/cam/camera_info')
        try:
            return client.diagnostics(lambda s: key(s['camera_info']), 2.0)
        except AssertionError:
            pass
    raise AssertionError('camera_info never reached the node')


def test_confidence_camera_info_and_compressed_outputs(node, client, photo):
    from sensor_msgs.msg import CameraInfo
    client.request(rgb_message(photo), ('labels',), REPLY_S)  # labels flow without it
    status = client.diagnostics(lambda s: True, REPLY_S)
    assert status['camera_info'] == 'never received'
    assert 'no camera_info on /cam/camera_info' in status['message']
    send_camera_info(client, camera_info(640, 480), lambda v: '!=' in v)
    client.request(rgb_message(photo), ('labels',), REPLY_S)
    status = client.diagnostics(lambda s: '!=' in s['camera_info'], REPLY_S)
    assert status['camera_info'] == 'camera_info 640x480 != image 64x48'
    assert status['level'] == 1 and '640x480' in status['message']
    assert any('camera_info 640x480' in line and 'WARN' in line
               for line in node.output().splitlines())
    send_camera_info(client, camera_info(64, 48), lambda v: v == 'ok')

    client.subscribe('confidence', '/segmentation/confidence')
    client.subscribe('camera_info', '/segmentation/camera_info', CameraInfo)
    client.subscribe('overlay_c', '/segmentation/overlay/compressed', CompressedImage)
    client.subscribe('colored_c', '/segmentation/colored/compressed', CompressedImage)
    msg = rgb_message(photo)
    out = client.request(msg, ('labels', 'confidence', 'camera_info', 'overlay', 'colored',
                               'overlay_c', 'colored_c'), REPLY_S)
    for name, reply in out.items():
        assert reply.header == msg.header, name  # exactly the labels' (= input's) header
    info = out['camera_info']
    assert (info.width, info.height) == (64, 48) and list(info.k)[2] == 32.0
    conf = out['confidence']
    assert (conf.encoding, conf.width, conf.height) == ('mono8', 64, 48)
    values = codec.image_view(conf)[:, :, 0]
    assert values.min() >= 255 // len(CLASSES) - 1  # max softmax of 5 classes >= 1/5
    colored, _ = codec.compressed_to_rgb(out['colored_c'])
    np.testing.assert_array_equal(colored, codec.image_to_rgb(out['colored'])[0])  # PNG
    assert out['overlay_c'].format == 'rgb8; jpeg compressed bgr8'
    overlay, _ = codec.compressed_to_rgb(out['overlay_c'])
    raw = codec.image_to_rgb(out['overlay'])[0].astype(np.float32)
    assert overlay.shape == raw.shape and np.abs(overlay - raw).mean() < 6.0  # JPEG: close


def test_vision_msgs_missing_is_said_once(node):
    try:
        import vision_msgs.msg  # noqa: F401
    except ImportError:
        lines = [line for line in node.output().splitlines() if 'vision_msgs' in line]
        assert len(lines) == 1 and 'WARN' in lines[0] and 'label_info' in lines[0]
    else:
        pytest.skip('vision_msgs is installed')


def test_label_info_is_latched(node, client):
    pytest.importorskip('vision_msgs.msg')
    info = client.label_info(REPLY_S)
    assert [c.class_name for c in info.class_map] == CLASSES
    assert [c.class_id for c in info.class_map] == list(range(len(CLASSES)))


def test_sigint_stops_the_node_cleanly(node):
    assert node.proc.poll() is None
    assert node.stop(signal.SIGINT) == 0, node.output()
    assert 'Traceback' not in node.output()
