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

"""launch/segmentation.launch.py under the real launch: only where launch and launch_ros are
installed (not in this venv) and the package is in an ament prefix (colcon build)."""

import asyncio
import os
import time

from dinov3_seg_ros.ros import launch_arguments as table
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCH_FILE = os.path.join(ROOT, 'launch', 'segmentation.launch.py')
PACKAGE = 'dinov3_seg_ros'


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
    assert set(table.SINGLE_CAMERA) <= names  # every argument of the table, declared


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
