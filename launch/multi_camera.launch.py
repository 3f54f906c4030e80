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

"""Launch one segmentation node for several cameras: one backbone batch per round.

    ros2 launch dinov3_seg_ros multi_camera.launch.py cameras:=front,left,rear \
        image_topic_pattern:=/{camera}/image_raw head_weights:=/path/head.pth

The node gets cameras:=[front, left, rear]: camera <name> reads <name>/image and publishes
<name>/segmentation/labels, overlay, colored, ... (in the launch namespace). Each
<name>/image is remapped to image_topic_pattern with {camera} replaced, so
/front/image_raw feeds camera front (and its camera_info comes from /front/camera_info).
An empty pattern keeps <namespace>/<name>/image. Parameters come from params_file;
device, backbone_weights and head_weights override it only when given.
"""

import os
from typing import List, Tuple

from ament_index_python.packages import get_package_share_directory
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, OpaqueFunction
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

PACKAGE = 'dinov3_seg_ros'
DEFAULT_CAMERAS = 'front,left,rear'
DEFAULT_PATTERN = '/{camera}/image_raw'
# Launch arguments that override the YAML only when non-empty.
OPTIONAL_OVERRIDES = ('device', 'backbone_weights', 'head_weights', 'input_size', 'backend',
                      'dtype', 'input_transport')
NODE_NAME = 'segmentation'


def parse_cameras(value: str) -> List[str]:
    """'front, left,rear' -> ['front', 'left', 'rear'] (the node checks the names)."""
    return [name.strip() for name in value.split(',') if name.strip()]


def camera_remappings(cameras: List[str], pattern: str) -> List[Tuple[str, str]]:
    """[('front/image', '/front/image_raw'), ...]; no remapping for an empty pattern."""
    if not pattern.strip():
        return []
    return [(f'{camera}/image', pattern.strip().replace('{camera}', camera))
            for camera in cameras]


def multi_camera_node(context: LaunchContext) -> list:
    """Build the node action once the launch arguments are known."""
    cameras = parse_cameras(LaunchConfiguration('cameras').perform(context))
    pattern = LaunchConfiguration('image_topic_pattern').perform(context)
    overrides = {'use_sim_time': ParameterValue(LaunchConfiguration('use_sim_time'),
                                                value_type=bool)}
    if cameras:
        overrides['cameras'] = cameras
    for name in OPTIONAL_OVERRIDES:
        value = LaunchConfiguration(name).perform(context).strip()
        if value:
            overrides[name] = value
    namespace = LaunchConfiguration('namespace').perform(context)
    logger = '.'.join([part for part in namespace.split('/') if part] + [NODE_NAME])
    level = LaunchConfiguration('log_level').perform(context)
    return [Node(
        package=PACKAGE,
        executable='segmentation_node',
        # a node name makes launch_ros write the overrides under /<ns>/segmentation: they
        # then beat params_file's '/**' entries even where the type differs (cameras: '' in
        # the shipped YAML, a string array here), which rcl does not do between two '/**'
        name='segmentation',  # = NODE_NAME
        namespace=LaunchConfiguration('namespace'),
        output='screen',
        emulate_tty=True,
        parameters=[LaunchConfiguration('params_file'), overrides],
        remappings=camera_remappings(cameras, pattern),
        # the node's logger only: rcl, rmw and other nodes keep their levels
        ros_arguments=['--log-level', f'{logger}:={level}'],
        # the Fast DDS profile reaches this process only, not an including launch file's
        additional_env={'FASTDDS_DEFAULT_PROFILES_FILE':
                        LaunchConfiguration('fastdds_profile').perform(context)},
    )]


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments and the multi-camera segmentation node."""
    share_dir = get_package_share_directory(PACKAGE)
    arguments = [
        DeclareLaunchArgument(
            'cameras', default_value=DEFAULT_CAMERAS,
            description='Comma-separated camera names (ROS name tokens, unique); camera '
                        '<name> reads <name>/image and publishes <name>/segmentation/...'),
        DeclareLaunchArgument(
            'image_topic_pattern', default_value=DEFAULT_PATTERN,
            description='Image topic of each camera, {camera} = its name (remaps '
                        '<name>/image); empty keeps <namespace>/<name>/image.'),
        DeclareLaunchArgument(
            'params_file',
            default_value=os.path.join(share_dir, 'config', 'segmentation.yaml'),
            description='YAML file with the node parameters (under /**: ros__parameters:).'),
        DeclareLaunchArgument(
            'namespace', default_value='',
            description='Namespace of the node and of its topics (<camera>/segmentation/...).'),
        DeclareLaunchArgument(
            'device', default_value='',
            description='Override the device parameter (auto, cpu, cuda); empty keeps the '
                        'value of params_file.'),
        DeclareLaunchArgument(
            'backbone_weights', default_value='',
            description='Override the DINOv3 backbone weights (.pth or .safetensors); empty '
                        'keeps the value of params_file.'),
        DeclareLaunchArgument(
            'head_weights', default_value='',
            description='Override the head checkpoint(s), comma-separated; empty keeps the '
                        'value of params_file.'),
        DeclareLaunchArgument(
            'input_size', default_value='',
            description="Override input_size ('640', '640x480', 'native'); empty keeps the "
                        'value of params_file.'),
        DeclareLaunchArgument(
            'backend', default_value='',
            description='Override the backend (auto, torch, onnxruntime, openvino); empty '
                        'keeps the value of params_file.'),
        DeclareLaunchArgument(
            'dtype', default_value='',
            description='Override the compute dtype (auto, float32, float16, bfloat16); empty '
                        'keeps the value of params_file.'),
        DeclareLaunchArgument(
            'input_transport', default_value='',
            description='Override input_transport (raw, compressed); empty keeps the value '
                        'of params_file.'),
        DeclareLaunchArgument(
            'log_level', default_value='info',
            description="Level of the node's logger (debug, info, warn, error, fatal); rcl, "
                        'rmw and other nodes keep theirs.'),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false',
            description='Use the /clock topic (simulation or bag playback) instead of '
                        'the system clock.'),
        DeclareLaunchArgument(
            'fastdds_profile',
            default_value=EnvironmentVariable(
                'FASTDDS_DEFAULT_PROFILES_FILE',
                default_value=os.path.join(share_dir, 'config', 'fastdds_shm.xml')),
            description='Fast DDS XML profile for the launched processes (default: '
                        '$FASTDDS_DEFAULT_PROFILES_FILE, else the shipped shared-memory '
                        'profile).'),
    ]
    # scoped: the launch arguments do not leak into a launch file that includes this one
    return LaunchDescription([GroupAction(
        arguments + [OpaqueFunction(function=multi_camera_node)], scoped=True, forwarding=True)])
