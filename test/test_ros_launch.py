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
import runpy
import time
import xml.etree.ElementTree as ET

import pytest
import setuptools
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCH_FILE = os.path.join(ROOT, 'launch', 'segmentation.launch.py')
PACKAGE = 'dinov3_seg_ros'
EXPECTED_DEFAULTS = {
    'image': '/camera/image_raw', 'namespace': '', 'device': '', 'backbone_weights': '',
    'head_weights': '', 'use_rviz': 'false', 'log_level': 'info', 'use_sim_time': 'false',
}
FASTDDS_NS = '{http://www.eprosima.com}'


@pytest.fixture(scope='module')
def launch_tree():
    with open(LAUNCH_FILE) as stream:
        return ast.parse(stream.read(), LAUNCH_FILE)


@pytest.fixture(scope='module')
def setup_kwargs():
    """Keyword arguments setup.py passes to setuptools.setup (globs resolved in ROOT)."""
    captured = {}
    original_setup, original_cwd = setuptools.setup, os.getcwd()
    setuptools.setup = lambda **kwargs: captured.update(kwargs)
    try:
        os.chdir(ROOT)
        runpy.run_path(os.path.join(ROOT, 'setup.py'), run_name='__main__')
    finally:
        setuptools.setup = original_setup
        os.chdir(original_cwd)
    return captured


def _calls(tree, name):
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, 'id', getattr(node.func, 'attr', None)) == name]


def _keywords(call):
    return {kw.arg: kw.value for kw in call.keywords}


def _value(node, tree):
    """Value of a constant, or of a module-level NAME = 'constant' assignment."""
    if isinstance(node, ast.Constant):
        return node.value
    for statement in tree.body:
        if (isinstance(statement, ast.Assign) and isinstance(node, ast.Name)
                and getattr(statement.targets[0], 'id', None) == node.id):
            return statement.value.value
    raise AssertionError(f'not a constant: {ast.dump(node)}')


def _strings(node):
    """String constants inside an expression, in source order."""
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)]


def _declared_arguments(tree):
    declared = {}
    for call in _calls(tree, 'DeclareLaunchArgument'):
        kwargs = _keywords(call)
        name = call.args[0].value
        default = kwargs['default_value']
        declared[name] = {
            'default': default.value if isinstance(default, ast.Constant) else default,
            'description': kwargs['description'].value,
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


def test_node_action_runs_the_console_script(launch_tree, setup_kwargs):
    nodes = [_keywords(c) for c in _calls(launch_tree, 'Node')]
    seg = [kw for kw in nodes if kw['executable'].value == 'segmentation_node']
    assert len(seg) == 1
    seg = seg[0]
    assert _value(seg['package'], launch_tree) == PACKAGE
    scripts = dict(entry.split(' = ') for entry in
                   setup_kwargs['entry_points']['console_scripts'])
    assert scripts['segmentation_node'] == 'dinov3_seg_ros.ros.node:main'
    remap = seg['remappings'].elts[0]
    assert remap.elts[0].value == 'image' and _strings(remap.elts[1]) == ['image']
    assert _strings(seg['arguments'])[:2] == ['--ros-args', '--log-level']
    params = seg['parameters'].elts
    assert _strings(params[0]) == ['params_file'] and isinstance(params[1], ast.Name)
    # use_sim_time is typed as a bool parameter, overrides only for non-empty arguments
    bool_values = [c for c in _calls(launch_tree, 'ParameterValue')
                   if _strings(c) == ['use_sim_time'] and c.keywords[0].value.id == 'bool']
    assert len(bool_values) == 2
    overrides = [n for n in ast.walk(launch_tree) if isinstance(n, ast.Assign)
                 and getattr(n.targets[0], 'id', '') == 'OPTIONAL_OVERRIDES']
    assert _strings(overrides[0].value) == ['device', 'backbone_weights', 'head_weights']


def test_rviz_node_is_conditional(launch_tree):
    rviz = [_keywords(c) for c in _calls(launch_tree, 'Node')
            if _keywords(c)['executable'].value == 'rviz2']
    assert len(rviz) == 1
    assert _strings(rviz[0]['arguments']) == ['-d', 'rviz_config']
    condition = rviz[0]['condition']
    assert condition.func.id == 'IfCondition' and _strings(condition) == ['use_rviz']


def test_parameter_yaml_matches_the_node_declarations():
    params = pytest.importorskip('dinov3_seg_ros.ros.params')
    path = os.path.join(ROOT, 'config', 'segmentation.yaml')
    with open(path) as stream:
        document = yaml.safe_load(stream)
    assert list(document) == ['/**'], 'parameters must apply in any namespace / node name'
    values = document['/**']['ros__parameters']
    declared = set(params.parameter_names()) - {params.CLASS_NAMES}
    assert set(values) == declared, (set(values) ^ declared)
    for spec in params.SPECS:  # ROS parameter types are strict: 1 is not a double
        if not spec.dynamic_typing:
            assert type(values[spec.name]) is type(spec.default), spec.name
    params.params_from_values(values)  # choices and ranges hold


def test_rviz_config_shows_the_segmentation_topics():
    with open(os.path.join(ROOT, 'config', 'segmentation.rviz')) as stream:
        config = yaml.safe_load(stream)
    manager = config['Visualization Manager']
    assert manager['Global Options']['Fixed Frame']
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
