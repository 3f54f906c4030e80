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

"""dinov3-seg-bag's failures: one error line and exit 2 for bad input, no OUT and no
OUT.partial after an error, Ctrl-C or a crash; the topic rule, its names and refusals."""

import os
import subprocess
import sys

import pytest

import bag_fixture
from bag_fixture import TINY_MODEL as MODEL
from dinov3_seg_ros.ros_tools import bag
from dinov3_seg_ros.ros_tools.bag_frames import BagFrames


@pytest.mark.parametrize('failure', [KeyboardInterrupt, RuntimeError])
def test_interrupted_or_crashed_run_leaves_no_output(tmp_path, monkeypatch, failure):
    recorded = bag_fixture.write_rosbag2(tmp_path / 'in', 'mcap', frames=2)
    calls = []

    def fail_second_batch(self):
        calls.append(1)
        if len(calls) == 2:  # after one batch was written to OUT.partial
            raise failure('stop')
        flush(self)

    flush = BagFrames.flush
    monkeypatch.setattr(BagFrames, 'flush', fail_second_batch)
    args = [str(recorded.path), '--out', str(tmp_path / 'out'), '--batch', '1', *MODEL]
    if failure is KeyboardInterrupt:
        assert bag.main(args) == 130
    else:
        with pytest.raises(RuntimeError):  # a bug keeps its traceback
            bag.main(args)
    assert len(calls) == 2
    assert sorted(os.listdir(tmp_path)) == ['in']  # neither out nor out.partial


def _error(args, capsys):
    code = bag.main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith('error: '), err
    return err[0]


def test_bad_inputs_give_one_error_line(tmp_path, capsys):
    recorded = bag_fixture.write_rosbag2(tmp_path / 'in', 'mcap', frames=1)
    out = str(tmp_path / 'out')
    text = tmp_path / 'notes.txt'
    text.write_text('not a bag')
    assert 'is not a bag' in _error([str(text), '--out', out], capsys)
    fake = tmp_path / 'fake.bag'
    fake.write_text('not a bag either')
    assert 'cannot read bag' in _error([str(fake), '--out', out], capsys)
    (tmp_path / 'folder').mkdir()
    assert 'no metadata.yaml' in _error([str(tmp_path / 'folder'), '--out', out], capsys)
    assert 'no such bag' in _error([str(tmp_path / 'missing'), '--out', out], capsys)
    line = _error([str(recorded.path), '--out', out, '--topics', '/nope'], capsys)
    assert "'/nope' is not in the bag" in line
    assert '/front/image, /rear/image/compressed' in line
    line = _error([str(recorded.path), '--out', out, '--topics', '/chatter'], capsys)
    assert 'std_msgs/msg/String, not an image' in line
    line = _error([str(recorded.path), '--out', out, '--outputs', 'labels,bogus'], capsys)
    assert 'unknown bogus' in line
    (bare,) = [recorded.path / n for n in os.listdir(recorded.path) if n.endswith('.mcap')]
    cut = tmp_path / 'cut.mcap'
    cut.write_bytes(bare.read_bytes()[:bare.stat().st_size * 2 // 3])
    assert 'cannot read bag' in _error([str(cut), '--out', out, *MODEL], capsys)
    assert sorted(os.listdir(tmp_path)) == ['cut.mcap', 'fake.bag', 'folder', 'in', 'notes.txt']


def test_console_module_exit_code_and_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
         os.environ.get('PYTHONPATH', '')]))
    result = subprocess.run([sys.executable, '-m', 'dinov3_seg_ros.ros_tools.bag',
                             str(tmp_path / 'x.txt'), '--out', str(tmp_path / 'o')],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: no such bag: '{tmp_path / 'x.txt'}'"]


def test_topic_rule_names_outputs_like_the_node():
    from dinov3_seg_ros.ros_tools.bag_topics import camera, COMPRESSED, IMAGE
    front = camera('/robot/front/image_raw', IMAGE)
    assert front.output_topic('labels') == '/robot/front/segmentation/labels'
    assert front.camera_info == '/robot/front/camera_info'
    rear = camera('/rear/image/compressed', COMPRESSED)
    assert rear.output_topic('overlay/compressed') == '/rear/segmentation/overlay/compressed'
    assert rear.camera_info == '/rear/camera_info'
    assert camera('/image', IMAGE).output_topic('labels') == '/segmentation/labels'


def test_topic_choice_refuses_shared_namespaces_and_skips_outputs():
    from dinov3_seg_ros.core.errors import ConfigError
    from dinov3_seg_ros.ros_tools.bag_topics import check_no_clash, choose_cameras
    types = {'/cam/image': 'sensor_msgs/msg/Image',
             '/cam/image/compressed': 'sensor_msgs/msg/CompressedImage',
             '/cam/segmentation/overlay': 'sensor_msgs/msg/Image'}
    with pytest.raises(ConfigError, match='/cam/image and /cam/image/compressed would both'):
        choose_cameras(types, [])
    (cam,) = choose_cameras(types, ['/cam/image/compressed'])
    assert cam.topic == '/cam/image/compressed'
    with pytest.raises(ConfigError, match='/cam/segmentation/overlay where the outputs go'):
        check_no_clash([cam], list(types))
    check_no_clash([cam], [])  # --outputs-only
