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
    ros2 launch dinov3_seg_ros segmentation.launch.py lifecycle:=true autostart:=false
    ros2 launch dinov3_seg_ros segmentation.launch.py onnx_model:=/path/model.onnx

Parameters come from params_file (the installed config/segmentation.yaml by default); the
NODE_OVERRIDES arguments (device, backbone_weights, head_weights, onnx_model, input_size,
backend, dtype, input_transport) override it only when they are given. The arguments and
their descriptions are defined once, in dinov3_seg_ros/ros/launch_arguments.py (shared with
multi_camera.launch.py): `ros2 launch dinov3_seg_ros segmentation.launch.py --show-args`.
Everything sits in one scoped GroupAction: the launch arguments and the Fast DDS profile
(passed to the launched processes only, additional_env) do not leak into a launch file that
includes this one. log_level sets the level of the node's logger only.
"""

import os
import tempfile
from typing import List

from ament_index_python.packages import get_package_share_directory
from dinov3_seg_ros.ros.launch_arguments import declarations, NODE_NAME, NODE_OVERRIDES
from dinov3_seg_ros.ros.launch_arguments import node_logger_name, non_empty_overrides
from dinov3_seg_ros.ros.launch_arguments import SINGLE_CAMERA
from launch import LaunchContext, LaunchDescription, Substitution
from launch.actions import EmitEvent, GroupAction, RegisterEventHandler
from launch.conditions import IfCondition, UnlessCondition
from launch.event_handlers import OnShutdown
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.parameter_descriptions import ParameterValue
from lifecycle_msgs.msg import Transition
import yaml

PACKAGE = 'dinov3_seg_ros'
WRITTEN: List[str] = []  # override files this launch wrote: removed at shutdown


class NonEmptyOverrides(Substitution):
    """Path of a parameters file with the NODE_OVERRIDES given a non-empty value."""

    def describe(self) -> str:
        """Say what the file holds (for --print-description)."""
        return 'params file of the non-empty ' + ', '.join(NODE_OVERRIDES)

    def perform(self, context: LaunchContext) -> str:
        """Write the file (no overrides: return params_file itself, read twice harmlessly)."""
        values = non_empty_overrides({name: LaunchConfiguration(name).perform(context)
                                      for name in NODE_OVERRIDES})
        if not values:
            return LaunchConfiguration('params_file').perform(context)
        with tempfile.NamedTemporaryFile('w', prefix='dinov3_seg_overrides_', suffix='.yaml',
                                         delete=False) as stream:
            yaml.safe_dump({'/**': {'ros__parameters': values}}, stream)
        WRITTEN.append(stream.name)
        return stream.name


def remove_override_files(event: object, context: LaunchContext) -> None:
    """Delete the override files NonEmptyOverrides wrote (at launch shutdown)."""
    while WRITTEN:
        try:
            os.unlink(WRITTEN.pop())
        except FileNotFoundError:
            pass


class NodeLoggerName(Substitution):
    """The node's logger name: <namespace with dots>.segmentation (what --log-level takes)."""

    def describe(self) -> str:
        """Name the logger (for --print-description)."""
        return f'logger of <namespace>/{NODE_NAME}'

    def perform(self, context: LaunchContext) -> str:
        """Return e.g. 'robot.front.segmentation' for namespace /robot/front."""
        return node_logger_name(LaunchConfiguration('namespace').perform(context))


def node_options() -> dict:
    """Return the keyword arguments of segmentation_node and segmentation_lifecycle_node."""
    sim_time = {'use_sim_time': ParameterValue(LaunchConfiguration('use_sim_time'),
                                               value_type=bool)}
    return dict(
        package=PACKAGE,
        name=NODE_NAME,
        namespace=LaunchConfiguration('namespace'),
        output='screen',
        emulate_tty=True,
        parameters=[LaunchConfiguration('params_file'), NonEmptyOverrides(), sim_time],
        remappings=[('image', LaunchConfiguration('image'))],
        ros_arguments=['--log-level', [NodeLoggerName(), ':=', LaunchConfiguration('log_level')]],
        additional_env={'FASTDDS_DEFAULT_PROFILES_FILE': LaunchConfiguration('fastdds_profile')},
    )


def managed_segmentation_node() -> List:
    """Build the lifecycle node; configure + activate it when autostart is true."""
    node = LifecycleNode(executable='segmentation_lifecycle_node', **node_options())

    def transition(transition_id: int) -> EmitEvent:
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                           transition_id=transition_id))
    activate = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=node, start_state='configuring', goal_state='inactive',
        entities=[transition(Transition.TRANSITION_ACTIVATE)]))
    autostart = [activate, transition(Transition.TRANSITION_CONFIGURE)]
    return [node, GroupAction(autostart, scoped=False,
                              condition=IfCondition(LaunchConfiguration('autostart')))]


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments, the (plain or managed) node and, if use_rviz, rviz2."""
    share_dir = get_package_share_directory(PACKAGE)
    plain = Node(executable='segmentation_node',
                 condition=UnlessCondition(LaunchConfiguration('lifecycle')), **node_options())
    managed = GroupAction(managed_segmentation_node(), scoped=False,
                          condition=IfCondition(LaunchConfiguration('lifecycle')))
    rviz = Node(
        package='rviz2',
        executable='rviz2',
        name='rviz2',
        namespace=LaunchConfiguration('namespace'),
        arguments=['-d', LaunchConfiguration('rviz_config')],
        remappings=[('image', LaunchConfiguration('image'))],
        parameters=[{'use_sim_time': ParameterValue(LaunchConfiguration('use_sim_time'),
                                                    value_type=bool)}],
        additional_env={'FASTDDS_DEFAULT_PROFILES_FILE': LaunchConfiguration('fastdds_profile')},
        condition=IfCondition(LaunchConfiguration('use_rviz')),
        output='log',
    )
    # scoped: argument defaults and environment stay inside; forwarding: the including file's
    # (or the command line's) values for these arguments still reach them.
    arguments = declarations(SINGLE_CAMERA, share_dir)
    cleanup = RegisterEventHandler(OnShutdown(on_shutdown=remove_override_files))
    return LaunchDescription([GroupAction(arguments + [plain, managed, rviz],
                                          scoped=True, forwarding=True), cleanup])
