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

"""Launch the DINOv3 segmentation node on a camera topic, optionally with rviz2.

    ros2 launch dinov3_seg_ros segmentation.launch.py image:=/camera/image_raw
        head_weights:=/path/head.pth backbone_weights:=/path/dinov3.pth use_rviz:=true

Parameters come from params_file (the installed config/segmentation.yaml by default);
device, backbone_weights and head_weights override it only when they are given.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

PACKAGE = 'dinov3_seg_ros'
# Launch arguments that override the YAML only when non-empty.
OPTIONAL_OVERRIDES = ('device', 'backbone_weights', 'head_weights')


def segmentation_node(context: LaunchContext) -> list:
    """Build the node action once the launch arguments are known (conditional overrides)."""
    overrides = {'use_sim_time': ParameterValue(LaunchConfiguration('use_sim_time'),
                                                value_type=bool)}
    for name in OPTIONAL_OVERRIDES:
        value = LaunchConfiguration(name).perform(context).strip()
        if value:
            overrides[name] = value
    if _is_true(LaunchConfiguration('lifecycle').perform(context)):
        return managed_segmentation_node(context, overrides)
    return [Node(
        package=PACKAGE,
        executable='segmentation_node',
        namespace=LaunchConfiguration('namespace'),
        output='screen',
        emulate_tty=True,
        parameters=[LaunchConfiguration('params_file'), overrides],
        remappings=[('image', LaunchConfiguration('image'))],
        arguments=['--ros-args', '--log-level', LaunchConfiguration('log_level')],
    )]


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments, the segmentation node and (if use_rviz) rviz2."""
    share_dir = get_package_share_directory(PACKAGE)

    arguments = [
        DeclareLaunchArgument(
            'image', default_value='/camera/image_raw',
            description='Camera topic (sensor_msgs/Image) the node subscribes to; with '
                        'input_transport=compressed it reads <image>/compressed.'),
        DeclareLaunchArgument(
            'params_file',
            default_value=os.path.join(share_dir, 'config', 'segmentation.yaml'),
            description='YAML file with the node parameters (under /**: ros__parameters:).'),
        DeclareLaunchArgument(
            'namespace', default_value='',
            description='Namespace of the node and of its topics (segmentation/...).'),
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
            'use_rviz', default_value='false',
            description='Start rviz2 showing segmentation/overlay and segmentation/colored.'),
        DeclareLaunchArgument(
            'rviz_config',
            default_value=os.path.join(share_dir, 'config', 'segmentation.rviz'),
            description='rviz2 configuration file used when use_rviz is true.'),
        DeclareLaunchArgument(
            'log_level', default_value='info',
            description='Log level of the node (debug, info, warn, error, fatal).'),
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
                        '$FASTDDS_DEFAULT_PROFILES_FILE, else the shipped 64 MB '
                        'shared-memory profile for full-HD images).'),
    ]

    rviz = Node(
        package='rviz2',
        executable='rviz2',
        name='rviz2',
        namespace=LaunchConfiguration('namespace'),
        arguments=['-d', LaunchConfiguration('rviz_config')],
        remappings=[('image', LaunchConfiguration('image'))],
        parameters=[{'use_sim_time': ParameterValue(LaunchConfiguration('use_sim_time'),
                                                    value_type=bool)}],
        condition=IfCondition(LaunchConfiguration('use_rviz')),
        output='log',
    )

    return LaunchDescription(arguments + lifecycle_arguments() + [
        SetEnvironmentVariable('FASTDDS_DEFAULT_PROFILES_FILE',
                               LaunchConfiguration('fastdds_profile')),
        OpaqueFunction(function=segmentation_node),
        rviz,
    ])


# --- lifecycle:=true: the managed node (segmentation_lifecycle_node) -------------------------
def _is_true(value: str) -> bool:
    return value.strip().lower() in ('true', '1', 'yes', 'on')


def lifecycle_arguments() -> list:
    """Launch arguments lifecycle and autostart."""
    return [
        DeclareLaunchArgument(
            'lifecycle', default_value='false',
            description='Run the managed node segmentation_lifecycle_node (lifecycle_msgs '
                        'services get_state/change_state) instead of segmentation_node.'),
        DeclareLaunchArgument(
            'autostart', default_value='true',
            description='With lifecycle:=true: configure the node at launch and activate it '
                        'once configured; false leaves it unconfigured for a lifecycle '
                        'manager.'),
    ]


def managed_segmentation_node(context: LaunchContext, overrides: dict) -> list:
    """Build the lifecycle node (same parameters); configure+activate it if autostart."""
    from launch.actions import EmitEvent, RegisterEventHandler
    from launch.events import matches_action
    from launch_ros.actions import LifecycleNode
    from launch_ros.event_handlers import OnStateTransition
    from launch_ros.events.lifecycle import ChangeState
    from lifecycle_msgs.msg import Transition

    node = LifecycleNode(
        package=PACKAGE,
        executable='segmentation_lifecycle_node',
        name='segmentation',
        namespace=LaunchConfiguration('namespace'),
        output='screen',
        emulate_tty=True,
        parameters=[LaunchConfiguration('params_file'), overrides],
        remappings=[('image', LaunchConfiguration('image'))],
        arguments=['--ros-args', '--log-level', LaunchConfiguration('log_level')],
    )
    if not _is_true(LaunchConfiguration('autostart').perform(context)):
        return [node]

    def transition(transition_id: int) -> EmitEvent:
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                           transition_id=transition_id))
    activate = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=node, start_state='configuring', goal_state='inactive',
        entities=[transition(Transition.TRANSITION_ACTIVATE)]))
    return [node, activate, transition(Transition.TRANSITION_CONFIGURE)]
