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

"""The test camera: pure helpers, CLI errors, and frames received over DDS (incl. 1080p)."""

import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from dinov3_seg_ros.core.errors import ImageError
from dinov3_seg_ros.ros_tools import image_publisher as ip
from test_core_quiet_opencv import corrupt_png

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _write_png(path, rgb):
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))


def test_parse_size():
    assert ip.parse_size('640x480') == (640, 480)
    assert ip.parse_size('64X48') == (64, 48)
    for bad in ('640', '640x', 'ax480', '0x10', '640x480x3', ''):
        with pytest.raises(ValueError):
            ip.parse_size(bad)


def test_list_images_sorts_folders_and_filters(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    for name in ('b.png', 'a.jpg', 'c.PNG'):
        _write_png(tmp_path / name, rgb)
    (tmp_path / 'notes.txt').write_text('not an image')
    single = tmp_path / 'a.jpg'
    files = ip.list_images([str(tmp_path), str(single)])
    assert [os.path.basename(f) for f in files] == ['a.jpg', 'b.png', 'c.PNG', 'a.jpg']


def test_list_images_errors(tmp_path):
    with pytest.raises(ImageError, match='no such file'):
        ip.list_images([str(tmp_path / 'missing.png')])
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ImageError, match='no image files'):
        ip.list_images([str(empty)])


def test_load_rgb_round_trip_and_unreadable(tmp_path, photos):
    rgb = photos['chelsea'][:40, :50]
    _write_png(tmp_path / 'cat.png', rgb)
    np.testing.assert_array_equal(ip.load_rgb(str(tmp_path / 'cat.png')), rgb)
    (tmp_path / 'broken.png').write_bytes(b'definitely not a png')
    with pytest.raises(ImageError, match='cannot read image'):
        ip.load_rgb(str(tmp_path / 'broken.png'))


def test_prepare_frame_encodings_and_resize(photos):
    rgb = photos['astronaut']
    out = ip.prepare_frame(rgb, 'rgb8', (64, 48))
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    bgr = ip.prepare_frame(rgb, 'bgr8', (64, 48))
    np.testing.assert_array_equal(bgr, out[:, :, ::-1])
    assert bgr.flags.c_contiguous
    mono = ip.prepare_frame(rgb, 'mono8')
    assert mono.shape == rgb.shape[:2]
    np.testing.assert_array_equal(mono, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    np.testing.assert_array_equal(ip.prepare_frame(rgb, 'rgb8'), rgb)
    with pytest.raises(ImageError):
        ip.prepare_frame(rgb, 'rgba8')


def test_default_frames_are_sample_photos():
    loaders = ip.frame_loaders([])
    assert [name for name, _ in loaders] == list(ip.SAMPLE_PHOTOS)
    first = loaders[0][1]()
    assert first.ndim == 3 and first.shape[2] == 3 and first.dtype == np.uint8


def test_cli_bad_path_is_one_line_error(tmp_path):
    result = subprocess.run(
        [sys.executable, '-m', 'dinov3_seg_ros.ros_tools.image_publisher',
         str(tmp_path / 'nope.png')],
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2  # bad input
    assert 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f'image_publisher: no such file or folder: {tmp_path / "nope.png"}']


def _receive(topic, argv, count, qos_depth=1, timeout=60.0, with_output=False):
    """Run image_publisher with argv in a subprocess and collect what arrives on topic."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('image_publisher_test', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    received = []
    qos = QoSProfile(depth=qos_depth, reliability=ReliabilityPolicy.BEST_EFFORT)
    node.create_subscription(Image, topic, received.append, qos)
    proc = subprocess.Popen(
        [sys.executable, '-m', 'dinov3_seg_ros.ros_tools.image_publisher', '--topic', topic,
         '--count', str(count), '--wait-subscribers', '20', *argv],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        for _ in range(20):  # drain what is still in flight
            executor.spin_once(timeout_sec=0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate()[0]
        node.destroy_node()
        executor.shutdown()
        rclpy.shutdown(context=context)
    assert proc.returncode == 0, output
    return (received, output) if with_output else received


@pytest.mark.ros
def test_publishes_sorted_folder_as_mono8(tmp_path, photos):
    for index, name in enumerate(('astronaut', 'chelsea', 'coffee')):
        _write_png(tmp_path / f'{index:02d}_{name}.png', photos[name][:48, :64])
    received = _receive('test_camera_mono', [str(tmp_path), '--rate', '20', '--encoding',
                                             'mono8', '--frame-id', 'cam0', '--reliable'],
                        count=6, qos_depth=10)
    assert len(received) >= 3
    expected = [cv2.cvtColor(photos[name][:48, :64], cv2.COLOR_RGB2GRAY)
                for name in ('astronaut', 'chelsea', 'coffee')]
    for msg in received:
        assert (msg.width, msg.height, msg.encoding, msg.step) == (64, 48, 'mono8', 64)
        assert msg.header.frame_id == 'cam0'
        assert msg.header.stamp.sec > 0
        frame = np.frombuffer(msg.data, np.uint8).reshape(48, 64)
        assert any(np.array_equal(frame, e) for e in expected)
    first = np.frombuffer(received[0].data, np.uint8).reshape(48, 64)
    second = np.frombuffer(received[1].data, np.uint8).reshape(48, 64)
    order = [next(i for i, e in enumerate(expected) if np.array_equal(f, e))
             for f in (first, second)]
    assert order[1] == (order[0] + 1) % 3  # folder order, looping


@pytest.mark.ros
def test_unreadable_file_in_a_folder_is_skipped_with_a_warning(tmp_path, photos):
    _write_png(tmp_path / '00_chelsea.png', photos['chelsea'][:48, :64])
    (tmp_path / '01_broken.png').write_bytes(corrupt_png())
    _write_png(tmp_path / '02_coffee.png', photos['coffee'][:48, :64])
    received, output = _receive('test_camera_skip', [str(tmp_path), '--rate', '20',
                                                     '--reliable'],
                                count=4, qos_depth=10, with_output=True)
    assert len(received) >= 2
    expected = [photos[name][:48, :64] for name in ('chelsea', 'coffee')]
    for msg in received:
        frame = np.frombuffer(msg.data, np.uint8).reshape(48, 64, 3)
        assert any(np.array_equal(frame, e) for e in expected)
    warnings = [line for line in output.splitlines() if 'skipping' in line]
    assert len(warnings) == 1 and '01_broken.png' in warnings[0]  # warned once, not per loop
    assert '[ WARN' not in output and '[ERROR' not in output  # no OpenCV line beside it


@pytest.mark.parametrize('argv,message', [
    (['--count', '-1'], "argument --count: must be >= 0, got '-1'"),
    (['--rate', '0'], "argument --rate: must be > 0, got '0'"),
    (['--wait-subscribers', 'soon'], "argument --wait-subscribers: expected a number, got "
                                     "'soon'"),
    (['--resize', '0x5'], "argument --resize: size must be positive, got '0x5'")])
def test_bad_numbers_are_usage_errors_naming_the_option(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        ip.main(['image_publisher', *argv])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f'image_publisher: error: {message}'


def test_folder_without_a_readable_image_is_one_line_error(tmp_path):
    (tmp_path / 'a.png').write_bytes(corrupt_png())  # OpenCV itself would log 2 lines
    (tmp_path / 'b.jpg').write_bytes(b'garbage')
    result = subprocess.run(
        [sys.executable, '-m', 'dinov3_seg_ros.ros_tools.image_publisher', str(tmp_path)],
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2  # bad input
    assert result.stderr.splitlines() == [  # one line for one event, no skip warnings
        'image_publisher: none of the 2 image files is readable (missing or corrupt): '
        f'{tmp_path / "a.png"}, {tmp_path / "b.jpg"}']


@pytest.mark.ros
@pytest.mark.slow
def test_full_hd_best_effort_frames_arrive_with_shm_profile():
    """1920x1080 rgb8 (6.2 MB) over best effort: the SHM profile must deliver them."""
    assert os.environ['FASTDDS_DEFAULT_PROFILES_FILE'].endswith('fastdds_shm_localhost.xml')
    received = _receive('test_camera_hd', ['--rate', '10', '--resize', '1920x1080'], count=10)
    assert len(received) >= 5, f'only {len(received)} of 10 full-HD frames arrived'
    msg = received[0]
    assert (msg.width, msg.height, msg.encoding, msg.step) == (1920, 1080, 'rgb8', 5760)
    assert len(msg.data) == 1920 * 1080 * 3
