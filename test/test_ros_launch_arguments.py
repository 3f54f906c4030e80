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

"""The one table of launch arguments (dinov3_seg_ros/ros/launch_arguments.py), run directly."""

from dinov3_seg_ros.ros import launch_arguments as table
from dinov3_seg_ros.ros import params
import launch_ast

OVERRIDES = ('device', 'backbone', 'backbone_weights', 'head_weights', 'onnx_model',
             'input_size', 'backend', 'dtype', 'input_transport')


def test_override_arguments_describe_the_parameter_they_set():
    specs = {spec.name: spec for spec in params.SPECS}
    assert table.NODE_OVERRIDES == OVERRIDES
    for name in OVERRIDES:
        description = table.ARGUMENTS[name].description
        assert description.startswith(f'Override the {name} parameter: '
                                      + params.node_description(specs[name])), name
        assert description.endswith('Empty keeps the value of params_file.'), name
    backend = ' '.join(table.ARGUMENTS['backend'].description.split())
    assert 'One of: auto, torch, onnxruntime, openvino.' in backend
    assert table.non_empty_overrides({'device': ' cpu ', 'dtype': '', 'image': 'x'}) == {
        'device': 'cpu'}
    assert table.node_logger_name('/robot/front/') == 'robot.front.segmentation'
    assert table.node_logger_name('') == 'segmentation'


def test_declarations_build_one_launch_argument_each(monkeypatch):
    recorded = launch_ast.fake_launch(monkeypatch)
    actions = table.declarations(table.SINGLE_CAMERA, '/share/dinov3_seg_ros')
    assert [a.args[0] for a in actions] == list(table.SINGLE_CAMERA)
    by_name = {a.args[0]: a.kwargs for a in actions}
    assert by_name['image'] == {'default_value': '/camera/image_raw',
                                'description': table.ARGUMENTS['image'].description}
    assert by_name['params_file']['default_value'] == \
        '/share/dinov3_seg_ros/config/segmentation.yaml'
    profile = by_name['fastdds_profile']['default_value']
    assert isinstance(profile, recorded) and profile.args == ('FASTDDS_DEFAULT_PROFILES_FILE',)
    assert profile.kwargs == {'default_value': '/share/dinov3_seg_ros/config/fastdds_shm.xml'}


def test_overrides_are_node_parameters():
    assert set(OVERRIDES) <= set(params.parameter_names())
