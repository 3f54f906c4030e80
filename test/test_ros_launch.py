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

"""launch/segmentation.launch.py (its arguments: test_ros_launch_arguments.py; the shipped
YAML, rviz2 and Fast DDS files: test_ros_config_files.py).

Static checks of the syntax tree (launch and launch_ros are not installed in this venv); the
real LaunchService runs are in test_ros_launch_service.py.
"""

import ast
import os

from dinov3_seg_ros.ros import launch_arguments as table
import launch_ast
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCH_FILE = os.path.join(ROOT, 'launch', 'segmentation.launch.py')
PACKAGE = 'dinov3_seg_ros'
EXPECTED_DEFAULTS = {
    'image': '/camera/image_raw', 'namespace': '', 'device': '', 'backbone_weights': '',
    'head_weights': '', 'use_rviz': 'false', 'log_level': 'info', 'use_sim_time': 'false',
    'input_size': '', 'backend': '', 'dtype': '', 'input_transport': '', 'lifecycle': 'false',
    'autostart': 'true', 'onnx_model': '',
}
OVERRIDES = ('device', 'backbone_weights', 'head_weights', 'onnx_model', 'input_size',
             'backend', 'dtype', 'input_transport')


@pytest.fixture(scope='module')
def launch_tree():
    with open(LAUNCH_FILE) as stream:
        return ast.parse(stream.read(), LAUNCH_FILE)


@pytest.fixture(scope='module')
def setup_kwargs():
    return launch_ast.setup_kwargs()


_calls, _keywords, _strings = launch_ast.calls, launch_ast.keywords, launch_ast.strings


def _value(node, tree):
    """Value of a constant, a module-level NAME = 'constant' or a name from the table."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in launch_ast.declared_imports(tree):
        return getattr(table, node.id)
    for statement in tree.body:
        if (isinstance(statement, ast.Assign) and isinstance(node, ast.Name)
                and getattr(statement.targets[0], 'id', None) == node.id):
            return statement.value.value
    raise AssertionError(f'not a constant: {ast.dump(node)}')


def _declared_arguments(tree):
    """{name: LaunchArgument} of the table entries the file declares."""
    return {name: table.ARGUMENTS[name] for name in launch_ast.declared_names(tree, table)}


def _installed_files(setup_kwargs):
    """Map each installed path (relative to the install prefix) to its source path."""
    installed = {}
    for target, sources in setup_kwargs['data_files']:
        for source in sources:
            installed[os.path.join(target, os.path.basename(source))] = source
    return installed


def test_declared_arguments_have_defaults_and_descriptions(launch_tree):
    declared = _declared_arguments(launch_tree)
    assert set(EXPECTED_DEFAULTS) | {'params_file', 'rviz_config', 'fastdds_profile'} \
        <= set(declared)
    for name, expected in EXPECTED_DEFAULTS.items():
        assert declared[name].default == expected and not declared[name].share_file, name
    for name, argument in declared.items():
        assert len(argument.description) > 15, name
    share_calls = _calls(launch_tree, 'get_package_share_directory')
    assert share_calls and all(_value(c.args[0], launch_tree) == PACKAGE
                               for c in share_calls)


def test_every_argument_the_file_reads_is_declared_and_every_one_is_used(launch_tree):
    declared = set(launch_ast.declared_names(launch_tree, table))
    read = launch_ast.configurations(launch_tree)
    assert read - set(table.NODE_OVERRIDES) <= declared, read - declared
    assert declared == read | set(table.NODE_OVERRIDES), declared ^ read
    # the overrides are read by name from the table's tuple
    assert _calls(launch_tree, 'non_empty_overrides')
    assert "Name(id='NODE_OVERRIDES'" in ast.dump(_function(launch_tree, 'NonEmptyOverrides'))


def test_installed_files_referenced_by_the_launch_file_exist(launch_tree, setup_kwargs):
    declared = _declared_arguments(launch_tree)
    installed = _installed_files(setup_kwargs)
    for name, expected in (('params_file', 'config/segmentation.yaml'),
                           ('rviz_config', 'config/segmentation.rviz'),
                           ('fastdds_profile', 'config/fastdds_shm.xml')):
        path = os.path.join('share', PACKAGE, *declared[name].share_file)
        assert path == os.path.join('share', PACKAGE, expected), name
        assert path in installed, f'{path} is not installed by setup.py data_files'
        assert os.path.isfile(os.path.join(ROOT, installed[path]))
    launch_path = os.path.join('share', PACKAGE, 'launch', 'segmentation.launch.py')
    assert installed.get(launch_path) == 'launch/segmentation.launch.py'


def _function(tree, name):
    functions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                 and n.name == name]
    assert len(functions) == 1, name
    return functions[0]


def _node_options(tree):
    """Keyword arguments of the dict(...) node_options() returns (shared by both nodes)."""
    returned = [n.value for n in ast.walk(_function(tree, 'node_options'))
                if isinstance(n, ast.Return)]
    assert len(returned) == 1 and returned[0].func.id == 'dict'
    return _keywords(returned[0])


def _uses_node_options(call):
    return any(kw.arg is None and kw.value.func.id == 'node_options' for kw in call.keywords)


def test_node_action_runs_the_console_script(launch_tree, setup_kwargs):
    nodes = [c for c in _calls(launch_tree, 'Node')
             if _keywords(c)['executable'].value == 'segmentation_node']
    assert len(nodes) == 1 and _uses_node_options(nodes[0])
    condition = _keywords(nodes[0])['condition']
    assert condition.func.id == 'UnlessCondition' and _strings(condition) == ['lifecycle']
    options = _node_options(launch_tree)
    assert _value(options['package'], launch_tree) == PACKAGE
    assert _value(options['name'], launch_tree) == 'segmentation'
    scripts = dict(entry.split(' = ') for entry in
                   setup_kwargs['entry_points']['console_scripts'])
    assert scripts['segmentation_node'] == 'dinov3_seg_ros.ros.node:main'
    remap = options['remappings'].elts[0]
    assert remap.elts[0].value == 'image' and _strings(remap.elts[1]) == ['image']
    params = options['parameters'].elts
    assert _strings(params[0]) == ['params_file']
    assert params[1].func.id == 'NonEmptyOverrides'
    # use_sim_time is typed as a bool parameter (node and rviz2)
    bool_values = [c for c in _calls(launch_tree, 'ParameterValue')
                   if _strings(c) == ['use_sim_time'] and c.keywords[0].value.id == 'bool']
    assert len(bool_values) == 2
    declared = _declared_arguments(launch_tree)
    assert all(declared[name].default == '' for name in OVERRIDES)


def test_log_level_applies_to_the_node_logger_only(launch_tree):
    options = _node_options(launch_tree)
    assert 'arguments' not in options  # no global --ros-args --log-level <level>
    ros_arguments = options['ros_arguments']
    assert ros_arguments.elts[0].value == '--log-level'
    name, separator, level = ros_arguments.elts[1].elts  # [<logger>, ':=', <level>]
    assert name.func.id == 'NodeLoggerName' and separator.value == ':='
    assert _strings(level) == ['log_level']
    logger = [n for n in launch_tree.body if isinstance(n, ast.ClassDef)
              and n.name == 'NodeLoggerName']
    assert len(logger) == 1  # namespace /a/b -> logger a.b.segmentation
    assert _calls(logger[0], 'node_logger_name') and 'namespace' in _strings(logger[0])
    assert table.node_logger_name('/a/b') == 'a.b.segmentation'  # the table's helper


def test_everything_is_scoped_and_the_fastdds_profile_is_per_process(launch_tree):
    assert not _calls(launch_tree, 'SetEnvironmentVariable')
    assert not _calls(launch_tree, 'OpaqueFunction')  # --print-description shows the nodes
    returned = [n.value for n in ast.walk(_function(launch_tree, 'generate_launch_description'))
                if isinstance(n, ast.Return)]
    assert len(returned) == 1 and returned[0].func.id == 'LaunchDescription'
    entities = returned[0].args[0].elts
    assert len(entities) == 2 and entities[0].func.id == 'GroupAction'
    assert entities[1].id == 'cleanup'  # the override files' removal at shutdown
    group = _keywords(entities[0])
    assert group['scoped'].value is True and group['forwarding'].value is True
    inside = ast.dump(entities[0].args[0])
    assert "Name(id='arguments'" in inside  # the declarations live in the scope
    for name in ('plain', 'managed', 'rviz'):
        assert f"Name(id='{name}'" in inside
    assert not _calls(launch_tree, 'DeclareLaunchArgument')  # only the table declares
    profile = _node_options(launch_tree)['additional_env']
    assert profile.keys[0].value == 'FASTDDS_DEFAULT_PROFILES_FILE'
    assert _strings(profile.values[0]) == ['fastdds_profile']


def test_lifecycle_node_shares_the_options_and_autostarts(launch_tree, setup_kwargs):
    managed = _calls(launch_tree, 'LifecycleNode')
    assert len(managed) == 1 and _uses_node_options(managed[0])
    assert _keywords(managed[0])['executable'].value == 'segmentation_lifecycle_node'
    scripts = dict(entry.split(' = ') for entry in
                   setup_kwargs['entry_points']['console_scripts'])
    assert scripts['segmentation_lifecycle_node'] == 'dinov3_seg_ros.ros.lifecycle_node:main'
    groups = {_strings(_keywords(c)['condition'])[0]: c
              for c in _calls(launch_tree, 'GroupAction') if 'condition' in _keywords(c)}
    assert set(groups) == {'lifecycle', 'autostart'}
    transitions = [n.attr for n in ast.walk(_function(launch_tree, 'managed_segmentation_node'))
                   if isinstance(n, ast.Attribute) and n.attr.startswith('TRANSITION_')]
    assert sorted(transitions) == ['TRANSITION_ACTIVATE', 'TRANSITION_CONFIGURE']


def test_rviz_node_is_conditional(launch_tree):
    rviz = [_keywords(c) for c in _calls(launch_tree, 'Node')
            if _keywords(c)['executable'].value == 'rviz2']
    assert len(rviz) == 1
    assert _strings(rviz[0]['arguments']) == ['-d', 'rviz_config']
    condition = rviz[0]['condition']
    assert condition.func.id == 'IfCondition' and _strings(condition) == ['use_rviz']
    profile = _strings(rviz[0]['additional_env'])
    assert profile == ['FASTDDS_DEFAULT_PROFILES_FILE', 'fastdds_profile']


def test_override_files_are_removed_at_shutdown(launch_tree, tmp_path):
    handler = _calls(launch_tree, 'OnShutdown')
    assert len(handler) == 1 and _keywords(handler[0])['on_shutdown'].id == 'remove_override_files'
    perform = ast.dump(_function(launch_tree, 'NonEmptyOverrides'))
    assert "attr='append'" in perform and "Name(id='WRITTEN'" in perform
    written = [str(tmp_path / f'overrides_{i}.yaml') for i in range(2)]
    for path in written:
        open(path, 'w').close()
    module = ast.Module(body=[_function(launch_tree, 'remove_override_files')], type_ignores=[])
    space = {'os': os, 'LaunchContext': object, 'WRITTEN': list(written) + [written[0]]}
    exec(compile(module, 'segmentation.launch.py', 'exec'), space)
    space['remove_override_files'](None, None)  # a file already gone is no error
    assert not any(os.path.exists(p) for p in written) and space['WRITTEN'] == []
