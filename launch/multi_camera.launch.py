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
An empty pattern keeps <namespace>/<name>/image. Parameters come from params_file; the
NODE_OVERRIDES arguments (device, backbone_weights, head_weights, onnx_model, input_size,
backend, dtype, input_transport) override it only when given. Every argument is defined once,
with its description, in dinov3_seg_ros/ros/launch_arguments.py (MULTI_CAMERA: the ones this
file shares with segmentation.launch.py plus cameras and image_topic_pattern).
"""

from typing import List, Tuple

from ament_index_python.packages import get_package_share_directory
from dinov3_seg_ros.ros.launch_arguments import declarations, MULTI_CAMERA, NODE_NAME
from dinov3_seg_ros.ros.launch_arguments import NODE_OVERRIDES, node_logger_name
from dinov3_seg_ros.ros.launch_arguments import non_empty_overrides
from launch import LaunchContext, LaunchDescription
from launch.actions import GroupAction, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

PACKAGE = 'dinov3_seg_ros'


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
    overrides.update(non_empty_overrides({name: LaunchConfiguration(name).perform(context)
                                          for name in NODE_OVERRIDES}))
    logger = node_logger_name(LaunchConfiguration('namespace').perform(context))
    level = LaunchConfiguration('log_level').perform(context)
    return [Node(
        package=PACKAGE,
        executable='segmentation_node',
        # a node name makes launch_ros write the overrides under /<ns>/segmentation: they
        # then beat params_file's '/**' entries even where the type differs (cameras: '' in
        # the shipped YAML, a string array here), which rcl does not do between two '/**'
        name=NODE_NAME,
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
    arguments = declarations(MULTI_CAMERA, get_package_share_directory(PACKAGE))
    # scoped: the launch arguments do not leak into a launch file that includes this one
    return LaunchDescription([GroupAction(
        arguments + [OpaqueFunction(function=multi_camera_node)], scoped=True, forwarding=True)])
