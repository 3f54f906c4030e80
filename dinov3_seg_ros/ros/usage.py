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

"""`segmentation_node --help`: usage, topics and parameters, printed without starting rclpy."""

import sys
import textwrap
from typing import List, Optional, Sequence

from .params import CLASS_NAMES, node_description, SPECS

TOPICS = '''\
Subscribes (remap 'image' to your camera):
  image                    sensor_msgs/Image (input_transport raw)
  image/compressed         sensor_msgs/CompressedImage (input_transport compressed)
  camera_info              sensor_msgs/CameraInfo, sibling of the image topic (optional)
Publishes (relative to the node's namespace):
  segmentation/labels      class ids (mono8 up to 256 classes, mono16 above), camera
                           resolution, the input image's header
  segmentation/confidence  mono8, 0-255 = max softmax probability (while subscribed)
  segmentation/camera_info the camera's camera_info with exactly the labels' header
  segmentation/overlay     rgb8 overlay; segmentation/overlay/compressed (JPEG)
  segmentation/colored     rgb8 class colors; segmentation/colored/compressed (PNG)
  segmentation/heads/<name>/labels      labels of the second and further heads
  segmentation/label_info, segmentation/heads/<name>/label_info
                           vision_msgs/LabelInfo, transient local (needs vision_msgs)
  /diagnostics             diagnostic_msgs/DiagnosticArray
Service:
  segmentation/enable      std_srvs/SetBool, the same switch as the enabled parameter
'''

LIFECYCLE = '''\
Lifecycle (segmentation_lifecycle_node starts unconfigured):
  ros2 lifecycle set /segmentation configure   # loads the model
  ros2 lifecycle set /segmentation activate    # subscribes and publishes
  deactivate (model kept), cleanup (model freed), shutdown (exit 0)
'''


def wants_help(argv: Sequence[str]) -> bool:
    """Return True for -h/--help among the program's own arguments (before --ros-args)."""
    for arg in argv[1:]:
        if arg == '--ros-args':
            return False
        if arg in ('-h', '--help'):
            return True
    return False


def _parameters() -> List[str]:
    lines = []
    for spec in SPECS:
        flags = 'read-only' if spec.read_only else 'changes at run time'
        lines.append(f'  {spec.name} (default {spec.default!r}, {flags})')
        choices = f' One of: {", ".join(spec.choices)}.' if spec.choices else ''
        text = node_description(spec) + choices
        lines += textwrap.wrap(text, 96, initial_indent='      ', subsequent_indent='      ',
                               break_on_hyphens=False)
    lines.append(f'  {CLASS_NAMES} (read-only, set by the node): class names of the heads')
    return lines


def usage(prog: str, managed: bool = False) -> str:
    """Return the help text of segmentation_node (managed: segmentation_lifecycle_node)."""
    head = (f'usage: {prog} [-h] [--ros-args -p NAME:=VALUE --params-file FILE -r image:=TOPIC '
            '...]\n\n'
            'DINOv3 semantic segmentation of a camera stream (one backbone pass per frame, '
            'ASPP heads).\nUsually started by: ros2 launch dinov3_seg_ros '
            'segmentation.launch.py\n\n')
    parts = [head, TOPICS, '\n']
    if managed:
        parts += [LIFECYCLE, '\n']
    parts += ['Parameters (--ros-args -p name:=value, or a params file):\n',
              '\n'.join(_parameters()), '\n']
    return ''.join(parts)


def print_help_if_asked(prog: str, argv: Optional[Sequence[str]], managed: bool = False) -> bool:
    """Print usage and return True when argv (default sys.argv) asks for --help."""
    argv = sys.argv if argv is None else argv
    if not wants_help(argv):
        return False
    sys.stdout.write(usage(prog, managed))
    sys.stdout.flush()
    return True
