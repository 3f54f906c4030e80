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

"""Launch file, parameter YAML, rviz2 config and Fast DDS profile.

Static checks run everywhere; a real LaunchService run where launch/launch_ros are installed.
"""

import ast
import asyncio
import filecmp
import os
import time
import xml.etree.ElementTree as ET

from dinov3_seg_ros.ros import params as node_params
from dinov3_seg_ros.ros_tools import image_publisher
import launch_ast
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCH_FILE = os.path.join(ROOT, 'launch', 'segmentation.launch.py')
PACKAGE = 'dinov3_seg_ros'
EXPECTED_DEFAULTS = {
    'image': '/camera/image_raw', 'namespace': '', 'device': '', 'backbone_weights': '',
    'head_weights': '', 'use_rviz': 'false', 'log_level': 'info', 'use_sim_time': 'false',
    'input_size': '', 'backend': '', 'dtype': '', 'input_transport': '', 'lifecycle': 'false',
    'autostart': 'true',
}
OVERRIDES = ('device', 'backbone_weights', 'head_weights', 'input_size', 'backend', 'dtype',
             'input_transport')
FASTDDS_NS = '{http://www.eprosima.com}'


@pytest.fixture(scope='module')
def launch_tree():
    with open(LAUNCH_FILE) as stream:
        return ast.parse(stream.read(), LAUNCH_FILE)


@pytest.fixture(scope='module')
def setup_kwargs():
    return launch_ast.setup_kwargs()


_calls, _keywords, _strings = launch_ast.calls, launch_ast.keywords, launch_ast.strings


def _value(node, tree):
    """Value of a constant, or of a module-level NAME = 'constant' assignment."""
    if isinstance(node, ast.Constant):
        return node.value
    for statement in tree.body:
        if (isinstance(statement, ast.Assign) and isinstance(node, ast.Name)
                and getattr(statement.targets[0], 'id', None) == node.id):
            return statement.value.value
    raise AssertionError(f'not a constant: {ast.dump(node)}')


def _text(node):
    """Text of a string constant or f-string (placeholders as {})."""
    if isinstance(node, ast.JoinedStr):
        return ''.join(v.value if isinstance(v, ast.Constant) else '{}' for v in node.values)
    assert isinstance(node, ast.Constant) and isinstance(node.value, str), ast.dump(node)
    return node.value


def _declared_arguments(tree):
    declared = {}
    for call in _calls(tree, 'DeclareLaunchArgument'):
        kwargs = _keywords(call)
        name = call.args[0].value
        default = kwargs['default_value']
        declared[name] = {
            'default': default.value if isinstance(default, ast.Constant) else default,
            'description': _text(kwargs['description']),
        }
    return declared


def _installed_files(setup_kwargs):
    """Map each installed path (relative to the install prefix) to its source path."""
    installed = {}
    for target, sources in setup_kwargs['data_files']:
        for source in sources:
            installed[os.path.join(target, os.path.basename(source))] = source
    return installed


def _share_path(default_node):
    """'share/<pkg>/a/b' for os.path.join(share_dir, 'a', 'b') (share_dir of this package)."""
    join = _calls(default_node, 'join')
    assert len(join) == 1 and isinstance(join[0].args[0], ast.Name)
    return os.path.join('share', PACKAGE, *_strings(join[0]))


def test_declared_arguments_have_defaults_and_descriptions(launch_tree):
    declared = _declared_arguments(launch_tree)
    assert set(EXPECTED_DEFAULTS) | {'params_file'} <= set(declared)
    for name, expected in EXPECTED_DEFAULTS.items():
        assert declared[name]['default'] == expected, name
    for name, info in declared.items():
        assert isinstance(info['description'], str) and len(info['description']) > 15, name
    share_calls = _calls(launch_tree, 'get_package_share_directory')
    assert share_calls and all(_value(c.args[0], launch_tree) == PACKAGE
                               for c in share_calls)


def test_installed_files_referenced_by_the_launch_file_exist(launch_tree, setup_kwargs):
    declared = _declared_arguments(launch_tree)
    installed = _installed_files(setup_kwargs)
    for name, expected in (('params_file', 'config/segmentation.yaml'),
                           ('rviz_config', 'config/segmentation.rviz'),
                           ('fastdds_profile', 'config/fastdds_shm.xml')):
        path = _share_path(declared[name]['default'])
        assert path == os.path.join('share', PACKAGE, expected), name
        assert path in installed, f'{path} is not installed by setup.py data_files'
        assert os.path.isfile(os.path.join(ROOT, installed[path]))
    launch_path = os.path.join('share', PACKAGE, 'launch', 'segmentation.launch.py')
    assert installed.get(launch_path) == 'launch/segmentation.launch.py'


def _function(tree, name):
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
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
    overrides = [n for n in ast.walk(launch_tree) if isinstance(n, ast.Assign)
                 and getattr(n.targets[0], 'id', '') == 'OPTIONAL_OVERRIDES']
    assert tuple(_strings(overrides[0].value)) == OVERRIDES
    declared = _declared_arguments(launch_tree)
    assert all(declared[name]['default'] == '' for name in OVERRIDES)


def test_overrides_are_node_parameters():
    assert set(OVERRIDES) <= set(node_params.parameter_names())


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
    assert '.' in _strings(logger[0]) and 'namespace' in _strings(logger[0])


def test_everything_is_scoped_and_the_fastdds_profile_is_per_process(launch_tree):
    assert not _calls(launch_tree, 'SetEnvironmentVariable')
    assert not _calls(launch_tree, 'OpaqueFunction')  # --print-description shows the nodes
    returned = [n.value for n in ast.walk(_function(launch_tree, 'generate_launch_description'))
                if isinstance(n, ast.Return)]
    assert len(returned) == 1 and returned[0].func.id == 'LaunchDescription'
    entities = returned[0].args[0].elts
    assert len(entities) == 1 and entities[0].func.id == 'GroupAction'
    group = _keywords(entities[0])
    assert group['scoped'].value is True and group['forwarding'].value is True
    inside = ast.dump(entities[0].args[0])
    assert "Name(id='launch_arguments'" in inside  # the declarations live in the scope
    for name in ('plain', 'managed', 'rviz'):
        assert f"Name(id='{name}'" in inside
    declaring = [f for f in launch_tree.body if isinstance(f, ast.FunctionDef)
                 and _calls(f, 'DeclareLaunchArgument')]
    assert [f.name for f in declaring] == ['launch_arguments']
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


def test_parameter_yaml_matches_the_node_declarations():
    path = os.path.join(ROOT, 'config', 'segmentation.yaml')
    with open(path) as stream:
        document = yaml.safe_load(stream)
    assert list(document) == ['/**'], 'parameters must apply in any namespace / node name'
    values = document['/**']['ros__parameters']
    declared = set(node_params.parameter_names()) - {node_params.CLASS_NAMES}
    assert set(values) == declared, (set(values) ^ declared)
    for spec in node_params.SPECS:  # ROS parameter types are strict: 1 is not a double
        if not spec.dynamic_typing:
            assert type(values[spec.name]) is type(spec.default), spec.name
    node_params.params_from_values(values)  # choices and ranges hold


def test_rviz_config_shows_the_segmentation_topics():
    with open(os.path.join(ROOT, 'config', 'segmentation.rviz')) as stream:
        config = yaml.safe_load(stream)
    manager = config['Visualization Manager']
    assert manager['Global Options']['Fixed Frame']
    # the frame the demo camera stamps its images with (README: set your camera's frame)
    frame_id = image_publisher.build_parser().parse_args([]).frame_id
    assert manager['Global Options']['Fixed Frame'] == frame_id
    images = {d['Topic']['Value']: d for d in manager['Displays']
              if d['Class'] == 'rviz_default_plugins/Image'}
    assert {'segmentation/overlay', 'segmentation/colored'} <= set(images)
    for topic in ('segmentation/overlay', 'segmentation/colored'):
        assert images[topic]['Enabled'] is True
        assert images[topic]['Topic']['Reliability Policy'] in ('Best Effort', 'Reliable')


def _fastdds_transports(name):
    """{type: descriptor} of the default participant's transports in config/<name>."""
    root = ET.parse(os.path.join(ROOT, 'config', name)).getroot()
    assert root.tag == FASTDDS_NS + 'dds'
    transports = {t.findtext(FASTDDS_NS + 'transport_id'): t
                  for t in root.iter(FASTDDS_NS + 'transport_descriptor')}
    participants = [p for p in root.iter(FASTDDS_NS + 'participant')
                    if p.get('is_default_profile') == 'true']
    assert len(participants) == 1
    rtps = participants[0].find(FASTDDS_NS + 'rtps')
    assert rtps.findtext(FASTDDS_NS + 'useBuiltinTransports') == 'false'
    used = [t.text for t in rtps.find(FASTDDS_NS + 'userTransports')]
    assert set(used) <= set(transports)
    kinds = {transports[t].findtext(FASTDDS_NS + 'type'): transports[t] for t in used}
    assert set(kinds) == {'SHM', 'UDPv4'}
    segment = int(kinds['SHM'].findtext(FASTDDS_NS + 'segment_size'))
    assert segment >= 32 * 1024 * 1024
    assert int(kinds['SHM'].findtext(FASTDDS_NS + 'maxMessageSize')) <= segment
    assert segment >= 2 * 1920 * 1080 * 3  # two full-HD rgb8 frames in flight
    return kinds


def test_fastdds_test_profile_uses_large_shm_and_loopback_udp():
    path = os.path.join(ROOT, 'config', 'fastdds_shm_localhost.xml')
    exported = os.environ['FASTDDS_DEFAULT_PROFILES_FILE']  # conftest exports this profile
    assert filecmp.cmp(exported, path, shallow=False)
    kinds = _fastdds_transports('fastdds_shm_localhost.xml')
    allowed = [i.get('name') for i in kinds['UDPv4'].iter(FASTDDS_NS + 'interface')]
    assert allowed == ['127.0.0.1']


def test_fastdds_user_profile_keeps_udp_on_every_interface():
    kinds = _fastdds_transports('fastdds_shm.xml')
    assert not list(kinds['UDPv4'].iter(FASTDDS_NS + 'interface'))


# --- (b) a real launch: only where launch and launch_ros are installed (not in this venv) ---

def _real_launch_description():
    """The launch file's LaunchDescription under real launch (skip where it is missing)."""
    pytest.importorskip('launch_ros')
    launch = pytest.importorskip('launch')
    if not hasattr(launch, 'LaunchService'):
        pytest.skip('the ROS 2 launch package is not installed')
    from ament_index_python.packages import get_package_share_directory, PackageNotFoundError
    try:
        get_package_share_directory(PACKAGE)
    except PackageNotFoundError:
        pytest.skip('dinov3_seg_ros is not installed in an ament prefix (colcon build)')
    from launch.launch_description_sources import get_launch_description_from_python_launch_file
    return launch, get_launch_description_from_python_launch_file(LAUNCH_FILE)


def test_print_description_shows_the_nodes_and_the_arguments():
    launch, description = _real_launch_description()
    text = launch.LaunchIntrospector().format_launch_description(description)
    assert 'segmentation_node' in text and 'segmentation_lifecycle_node' in text
    names = {argument.name for argument in description.get_launch_arguments()}
    assert set(EXPECTED_DEFAULTS) | {'params_file', 'fastdds_profile'} <= names


def test_declarations_do_not_leak_into_the_including_context():
    launch, description = _real_launch_description()
    from launch.actions import DeclareLaunchArgument
    (group,) = description.entities
    context = launch.LaunchContext()
    environment = dict(os.environ)
    for entity in group.get_sub_entities():  # visit all but the process actions
        if isinstance(entity, DeclareLaunchArgument) or 'Push' in type(entity).__name__ \
                or 'Pop' in type(entity).__name__:
            entity.visit(context)
    assert 'image' not in context.launch_configurations
    assert dict(os.environ) == environment


@pytest.mark.ros
@pytest.mark.slow
def test_launch_service_starts_the_node(tmp_path):
    pytest.importorskip('launch_ros')
    launch = pytest.importorskip('launch')
    if not hasattr(launch, 'LaunchService'):
        pytest.skip('the ROS 2 launch package is not installed')
    from ament_index_python.packages import (get_package_share_directory,
                                             PackageNotFoundError)
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    import rclpy
    try:
        share = get_package_share_directory(PACKAGE)
    except PackageNotFoundError:
        pytest.skip('dinov3_seg_ros is not installed in an ament prefix (colcon build)')
    params = tmp_path / 'params.yaml'
    with open(os.path.join(share, 'config', 'segmentation.yaml')) as stream:
        document = yaml.safe_load(stream)
    document['/**']['ros__parameters'].update(backbone='vits16', input_size='64x48')
    params.write_text(yaml.safe_dump(document))
    namespace = f'launch_test_{os.getpid()}'
    service = launch.LaunchService()
    service.include_launch_description(IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'segmentation.launch.py')),
        launch_arguments={'params_file': str(params), 'namespace': namespace,
                          'device': 'cpu', 'image': 'camera/image'}.items()))
    context = rclpy.Context()
    rclpy.init(context=context)
    probe = rclpy.create_node('launch_probe', context=context)
    # the graph lists subscribed topics too: the remapped input proves the remapping
    expected = {f'/{namespace}/segmentation/labels', f'/{namespace}/segmentation/overlay',
                f'/{namespace}/camera/image'}
    seen = set()

    async def watch_graph():
        deadline = time.monotonic() + 90.0
        while time.monotonic() < deadline and not expected <= seen:
            seen.update(name for name, _ in probe.get_topic_names_and_types())
            await asyncio.sleep(0.5)
        stopping = service.shutdown()  # a coroutine when called inside the launch loop
        if stopping is not None:
            await stopping

    async def main():
        await asyncio.gather(service.run_async(), watch_graph())

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
        probe.destroy_node()
        rclpy.shutdown(context=context)
    assert expected <= seen, f'node topics not seen: {sorted(expected - seen)}'
