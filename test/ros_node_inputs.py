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

"""What the node tests feed segmentation_node: a params file, image and camera_info messages."""

from dinov3_seg_ros.ros import image_codec as codec
import numpy as np
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header


def write_params(path, heads):
    path.write_text('/**:\n  ros__parameters:\n    backbone: vits16\n    device: cpu\n'
                    '    backend: torch\n'
                    f"    head_weights: '{heads}'\n    warmup: 0\n    diagnostics_period: 0.5\n")
    return str(path)


def rgb_message(rgb, encoding='rgb8', pad=0):
    msg = codec.rgb_to_image(rgb, 'bgr8' if encoding.startswith('bgr') else 'rgb8', Header())
    if encoding in ('rgba8', 'bgra8') or pad:
        view = codec.image_view(msg)
        if encoding in ('rgba8', 'bgra8'):
            view = np.dstack([view, np.full(view.shape[:2], 255, np.uint8)])
        rows = np.zeros((view.shape[0], view.shape[1] * view.shape[2] + pad), np.uint8)
        rows[:, :view.shape[1] * view.shape[2]] = view.reshape(view.shape[0], -1)
        msg.encoding, msg.step, msg.data = encoding, rows.shape[1], rows.tobytes()
    return msg


def camera_info(width, height):
    return CameraInfo(width=width, height=height, distortion_model='plumb_bob',
                      k=[50.0, 0.0, 32.0, 0.0, 50.0, 24.0, 0.0, 0.0, 1.0])
