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

"""The cameras parameter and the multi-camera benchmark setups (frame slots: test_ros_frame_slot).

No DDS traffic: names are checked, rcl's parameter merging read through a Node, and the
benchmark's commands built (its runs are in bench_multi_camera.py).
"""

import os

from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.ros.cameras import camera_names
from dinov3_seg_ros.ros.params import params_from_values
import pytest
import rclpy

pytestmark = pytest.mark.ros

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize('value,expected', [
    ('', ()), ([], ()), ('front', ('front',)), ('front, left ,rear', ('front', 'left', 'rear')),
    (['front', 'rear_2', '_aux'], ('front', 'rear_2', '_aux'))])
def test_camera_names_accept_lists_and_comma_strings(value, expected):
    assert camera_names(value) == expected
    assert params_from_values({'cameras': value}).cameras == expected


@pytest.mark.parametrize('value,word', [
    (['front', 'front'], 'twice'), ('left,rear,left', 'twice'), (['2nd'], 'not a valid'),
    (['front-left'], 'not a valid'), (['a/b'], 'not a valid'), (['front', ''], 'not a valid'),
    ('front,,rear', 'not a valid'), (['a__b'], 'not a valid'), ([3], 'not a valid'),
    (7, 'expected a list')])
def test_bad_camera_lists_raise_one_config_error(value, word):
    with pytest.raises(ConfigError, match='^cameras: ') as info:
        params_from_values({'cameras': value})
    assert word in str(info.value)


@pytest.mark.parametrize('extra,expected', [
    (['-p', 'cameras:=front,rear'], ('front', 'rear')),
    (['--params-file', 'NODE_YAML'], ('left', 'right'))])
def test_cameras_override_the_shipped_yaml(tmp_path, extra, expected):
    from dinov3_seg_ros.ros.params import declare_parameters
    from rclpy.node import Node
    node_yaml = tmp_path / 'node.yaml'  # node-specific, as launch_ros writes a dict
    node_yaml.write_text('/yaml_ns/segmentation:\n  ros__parameters:\n'
                         '    cameras: [left, right]\n')
    shipped = os.path.join(ROOT, 'config', 'segmentation.yaml')
    args = ['--ros-args', '--params-file', shipped,
            *[str(node_yaml) if a == 'NODE_YAML' else a for a in extra]]
    context = rclpy.Context()
    rclpy.init(context=context, args=['x', *args])
    try:
        node = Node('segmentation', namespace='/yaml_ns', context=context)
        try:
            assert declare_parameters(node).cameras == expected
        finally:
            node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_benchmark_setups_and_bad_arguments(capsys):
    from dinov3_seg_ros.ros_tools import bench_multi_camera as bench
    one, separate = bench.setups(2, '', {'backbone': 'vits16', 'device': ''})
    assert len(one.commands) == 1 and len(separate.commands) == 2
    command = one.commands[0]
    assert command[command.index('cameras:=cam0,cam1') - 1] == '-p'
    assert [c['image'] for c in one.cameras] == ['/mcbench_one_2/cam0/image',
                                                 '/mcbench_one_2/cam1/image']
    assert [c['labels'] for c in separate.cameras] == ['/mcbench_sep_2_0/segmentation/labels',
                                                       '/mcbench_sep_2_1/segmentation/labels']
    assert not any('cameras' in arg for cmd in separate.commands for arg in cmd)
    assert len(bench.setups(1, '', {})) == 1
    for argv, message in ((['--size', 'big'], "argument --size: expected WxH (e.g. 640x480), "
                                              "got 'big'"),
                          (['--cameras', '0'], "argument --cameras: must be >= 1, got '0'"),
                          (['--rate', '0'], "argument --rate: must be > 0, got '0'"),
                          (['--json', '/nonexistent/x.json'], "argument --json: folder "
                                                              "'/nonexistent' does not exist")):
        with pytest.raises(SystemExit) as exit_info:  # a usage error before any node starts
            bench.main(argv)
        err = capsys.readouterr().err.splitlines()
        assert exit_info.value.code == 2 and 'Traceback' not in err
        assert err[-1].startswith(f'dinov3-seg-ros-bench-multicam: error: {message}'), err
