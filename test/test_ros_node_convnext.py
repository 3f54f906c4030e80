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

"""segmentation_node with backbone convnext_tiny: 768-channel random head, labels published."""

import cv2
import pytest
import rclpy
from std_msgs.msg import Header

from dinov3_seg_ros.ros import image_codec as codec
from ros_node_client import NodeClient, NodeProcess, stamp_key

pytestmark = [pytest.mark.ros, pytest.mark.slow]

START_S = 300.0  # shared 2-core CPU: importing torch/timm and building the model can be slow
REPLY_S = 120.0


def test_convnext_tiny_segments_frames_in_the_node(tmp_path, photos):
    params = tmp_path / 'params.yaml'
    params.write_text('/**:\n  ros__parameters:\n    backbone: convnext_tiny\n'
                      '    device: cpu\n    backend: torch\n    warmup: 0\n'
                      "    input_size: '64'\n")
    context = rclpy.Context()
    rclpy.init(context=context)
    client = NodeClient(context, '/cx/image', '/segmentation')
    process = NodeProcess(tmp_path, 'convnext', str(params), '-r', 'image:=/cx/image')
    try:
        client.wait_until(lambda: client.node.count_subscribers('/cx/image') > 0
                          or process.proc.poll() is not None, START_S)
        assert process.proc.poll() is None, process.output()
        rgb = cv2.resize(photos['coffee'], (64, 48), interpolation=cv2.INTER_AREA)
        msg = codec.rgb_to_image(rgb, 'rgb8', Header())
        labels = client.request(msg, ('labels',), REPLY_S)['labels']
        assert (labels.width, labels.height) == (64, 48) and labels.encoding == 'mono8'
        assert stamp_key(labels.header) == stamp_key(msg.header)
        assert codec.image_view(labels)[:, :, 0].max() < 134  # the random COCO-panoptic head
        assert client.get_parameters(['backbone'])[0].string_value == 'convnext_tiny'
        assert 'convnext_tiny' in process.output()  # the random-weights warning names it
    finally:
        assert process.stop() == 0, process.output()
        client.close()
        rclpy.try_shutdown(context=context)
