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

"""The launch arguments of both launch files, defined once (pure data, no launch import).

launch/segmentation.launch.py declares SINGLE_CAMERA, launch/multi_camera.launch.py
MULTI_CAMERA, both through declarations(); the arguments they share have one default and
one description here. An argument that overrides a node parameter (NODE_OVERRIDES) takes the
parameter's description from ros/params.py SPECS and applies only when non-empty.
"""

from dataclasses import dataclass
import os
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from .params import node_description, SPECS

NODE_NAME = 'segmentation'
DEFAULT_CAMERAS = 'front,left,rear'
DEFAULT_PATTERN = '/{camera}/image_raw'
NODE_OVERRIDES = ('device', 'backbone', 'backbone_weights', 'head_weights', 'onnx_model',
                  'input_size', 'backend', 'dtype', 'input_transport')


@dataclass(frozen=True)
class LaunchArgument:
    """One launch argument: its default and description.

    share_file: the default is this file under the package's share directory; environment:
    the default is this environment variable, else the share_file.
    """

    name: str
    description: str
    default: str = ''
    share_file: Tuple[str, ...] = ()
    environment: str = ''


def _override(name: str) -> LaunchArgument:
    spec = {s.name: s for s in SPECS}[name]
    choices = f' One of: {", ".join(spec.choices)}.' if spec.choices else ''
    return LaunchArgument(name, f'Override the {name} parameter: {node_description(spec)}'
                          f'{choices} Empty keeps the value of params_file.')


ARGUMENTS: Dict[str, LaunchArgument] = {a.name: a for a in (
    LaunchArgument('image', 'Camera topic (sensor_msgs/Image) the node subscribes to; with '
                   'input_transport:=compressed it reads <image>/compressed.',
                   default='/camera/image_raw'),
    LaunchArgument('cameras', 'Comma-separated camera names (ROS name tokens, unique); camera '
                   '<name> reads <name>/image and publishes <name>/segmentation/...',
                   default=DEFAULT_CAMERAS),
    LaunchArgument('image_topic_pattern', 'Image topic of each camera, {camera} = its name '
                   '(remaps <name>/image); empty keeps <namespace>/<name>/image.',
                   default=DEFAULT_PATTERN),
    LaunchArgument('params_file', 'YAML file with the node parameters (under /**: '
                   'ros__parameters:).', share_file=('config', 'segmentation.yaml')),
    LaunchArgument('namespace', 'Namespace of the node and of its topics: '
                   '<namespace>/segmentation/..., with cameras '
                   '<namespace>/<camera>/segmentation/...'),
    *(_override(name) for name in NODE_OVERRIDES),
    LaunchArgument('use_rviz', 'Start rviz2 showing segmentation/overlay and '
                   'segmentation/colored (rviz2 is not a dependency of this package: install '
                   'it yourself).', default='false'),
    LaunchArgument('rviz_config', 'rviz2 configuration file used when use_rviz is true.',
                   share_file=('config', 'segmentation.rviz')),
    LaunchArgument('log_level', "Level of the node's logger (debug, info, warn, error, "
                   'fatal); rcl, rmw and other nodes keep theirs.', default='info'),
    LaunchArgument('use_sim_time', 'Use the /clock topic (simulation or bag playback) instead '
                   'of the system clock.', default='false'),
    LaunchArgument('fastdds_profile', 'Fast DDS XML profile for the processes this file '
                   'starts (default: $FASTDDS_DEFAULT_PROFILES_FILE, else the shipped 64 MB '
                   'shared-memory profile for full-HD images).',
                   share_file=('config', 'fastdds_shm.xml'),
                   environment='FASTDDS_DEFAULT_PROFILES_FILE'),
    LaunchArgument('lifecycle', 'Run the managed node segmentation_lifecycle_node '
                   '(lifecycle_msgs services get_state/change_state) instead of '
                   'segmentation_node.', default='false'),
    LaunchArgument('autostart', 'With lifecycle:=true: configure the node at launch and '
                   'activate it once configured; false leaves it unconfigured for a lifecycle '
                   'manager.', default='true'),
)}
SHARED = ('params_file', 'namespace') + NODE_OVERRIDES + ('log_level', 'use_sim_time',
                                                          'fastdds_profile')
SINGLE_CAMERA = ('image',) + SHARED + ('use_rviz', 'rviz_config', 'lifecycle', 'autostart')
MULTI_CAMERA = ('cameras', 'image_topic_pattern') + SHARED


def default_of(argument: LaunchArgument, share_dir: str) -> Any:
    """Return the argument's default: a string, or an EnvironmentVariable substitution."""
    if not argument.share_file:
        return argument.default
    path = os.path.join(share_dir, *argument.share_file)
    if not argument.environment:
        return path
    from launch.substitutions import EnvironmentVariable
    return EnvironmentVariable(argument.environment, default_value=path)


def declarations(names: Sequence[str], share_dir: str) -> List[Any]:
    """Build the DeclareLaunchArgument of each of names, in order (share_dir: the share)."""
    from launch.actions import DeclareLaunchArgument
    return [DeclareLaunchArgument(name, default_value=default_of(ARGUMENTS[name], share_dir),
                                  description=ARGUMENTS[name].description)
            for name in names]


def non_empty_overrides(values: Mapping[str, str]) -> Dict[str, str]:
    """{parameter: value} of the NODE_OVERRIDES given a non-empty value (stripped)."""
    return {name: str(values.get(name, '')).strip() for name in NODE_OVERRIDES
            if str(values.get(name, '')).strip()}


def node_logger_name(namespace: str) -> str:
    """Return the node's logger name for --log-level: '/a/b' -> 'a.b.segmentation'."""
    return '.'.join([part for part in namespace.split('/') if part] + [NODE_NAME])
