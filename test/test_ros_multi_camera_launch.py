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

"""launch/multi_camera.launch.py, checked statically (launch and launch_ros are not needed).

The pure helpers (camera list, remappings) are compiled out of the file's syntax tree and
run; the Node action and its parameters are read from the tree, the declared arguments from
the one table both launch files use (dinov3_seg_ros/ros/launch_arguments.py).
"""

import ast
import os

from dinov3_seg_ros.ros import launch_arguments as table
import launch_ast
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCH_FILE = os.path.join(ROOT, 'launch', 'multi_camera.launch.py')
PACKAGE = 'dinov3_seg_ros'


@pytest.fixture(scope='module')
def tree():
    with open(LAUNCH_FILE) as stream:
        return ast.parse(stream.read(), LAUNCH_FILE)


@pytest.fixture(scope='module')
def helpers(tree):
    """The module's constants and pure functions, executed without the launch imports."""
    keep = [n for n in tree.body if isinstance(n, ast.Assign)
            or (isinstance(n, ast.FunctionDef) and n.name in ('parse_cameras',
                                                              'camera_remappings'))]
    module = ast.Module(body=[ast.parse('from typing import List, Tuple').body[0], *keep],
                        type_ignores=[])
    namespace = {}
    exec(compile(module, LAUNCH_FILE, 'exec'), namespace)
    return namespace


_calls, _keywords, _strings = launch_ast.calls, launch_ast.keywords, launch_ast.strings


def _imports(tree):
    return {(node.module, alias.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) for alias in node.names}


def test_the_file_uses_real_launch_ros_actions(tree):
    imports = _imports(tree)
    assert ('launch_ros.actions', 'Node') in imports
    assert ('dinov3_seg_ros.ros.launch_arguments', 'declarations') in imports
    assert ('launch.actions', 'OpaqueFunction') in imports
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert 'generate_launch_description' in functions
    opaque = _calls(tree, 'OpaqueFunction')
    assert len(opaque) == 1 and _keywords(opaque[0])['function'].id == 'multi_camera_node'


def test_cameras_argument_is_a_comma_list_with_a_default(tree, helpers):
    declared = launch_ast.declared_names(tree, table)
    assert declared == table.MULTI_CAMERA
    assert {'cameras', 'image_topic_pattern', 'params_file', 'namespace', 'device',
            'head_weights', 'backbone', 'backbone_weights', 'onnx_model', 'log_level',
            'use_sim_time'} <= set(declared)
    for name in declared:
        assert len(table.ARGUMENTS[name].description) > 15, name
    assert table.ARGUMENTS['cameras'].default == table.DEFAULT_CAMERAS == 'front,left,rear'
    parse = helpers['parse_cameras']
    assert parse(table.DEFAULT_CAMERAS) == ['front', 'left', 'rear']
    assert parse(' front , rear,') == ['front', 'rear']
    assert parse('') == []


def test_each_camera_image_is_remapped_by_the_pattern(helpers):
    remap = helpers['camera_remappings']
    assert remap(['front', 'rear'], table.ARGUMENTS['image_topic_pattern'].default) == [
        ('front/image', '/front/image_raw'), ('rear/image', '/rear/image_raw')]
    assert remap(['left'], '/robot/{camera}/color/image_raw') == [
        ('left/image', '/robot/left/color/image_raw')]
    assert remap(['front'], ' ') == []


def test_both_files_share_one_declaration_of_the_common_arguments(tree):
    with open(os.path.join(ROOT, 'launch', 'segmentation.launch.py')) as stream:
        single = launch_ast.declared_names(ast.parse(stream.read()), table)
    shared = set(single) & set(table.MULTI_CAMERA)
    assert shared == set(table.SHARED) and len(shared) == 14
    assert not _calls(tree, 'DeclareLaunchArgument')  # no copy of a description here
    read = launch_ast.configurations(tree)
    assert read - set(table.NODE_OVERRIDES) <= set(table.MULTI_CAMERA)
    assert set(table.MULTI_CAMERA) == read | set(table.NODE_OVERRIDES)
    assert _calls(tree, 'non_empty_overrides') and _calls(tree, 'node_logger_name')


def test_node_gets_the_yaml_and_the_camera_list(tree):
    nodes = [_keywords(c) for c in _calls(tree, 'Node')]
    assert len(nodes) == 1
    node = nodes[0]
    assert node['package'].id == 'PACKAGE' and node['executable'].value == 'segmentation_node'
    assert node['name'].id == 'NODE_NAME' and table.NODE_NAME == 'segmentation'
    params = node['parameters'].elts
    assert _strings(params[0]) == ['params_file'] and params[1].id == 'overrides'
    assert node['remappings'].func.id == 'camera_remappings'
    # overrides['cameras'] = cameras: a list of str (a string array parameter)
    stores = [n for n in ast.walk(tree) if isinstance(n, ast.Assign)
              and isinstance(n.targets[0], ast.Subscript)
              and getattr(n.targets[0].value, 'id', '') == 'overrides'
              and _strings(n.targets[0].slice) == ['cameras']]
    assert len(stores) == 1 and stores[0].value.id == 'cameras'
    assert _strings(node['ros_arguments'])[0] == '--log-level'  # the node's logger only
    assert 'FASTDDS_DEFAULT_PROFILES_FILE' in _strings(node['additional_env'])


def test_the_file_is_scoped_and_sets_no_global_environment(tree):
    assert not _calls(tree, 'SetEnvironmentVariable')
    group = _calls(tree, 'GroupAction')
    assert len(group) == 1
    flags = {kw.arg: kw.value.value for kw in group[0].keywords}
    assert flags == {'scoped': True, 'forwarding': True}


def test_setup_installs_the_launch_file():
    captured = launch_ast.setup_kwargs()
    installed = {os.path.join(target, os.path.basename(source))
                 for target, sources in captured['data_files'] for source in sources}
    assert os.path.join('share', PACKAGE, 'launch', 'multi_camera.launch.py') in installed
