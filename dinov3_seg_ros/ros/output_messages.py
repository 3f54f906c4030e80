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

"""The messages of one camera's outputs for one frame: pure functions, no node, no DDS.

One SegmentationResult and the input's header give, per output name (the topic under
<prefix>segmentation/), exactly the message the node publishes: labels (mono8/mono16),
confidence (mono8), overlay and colored (rgb8/bgr8 Image), overlay/compressed (JPEG) and
colored/compressed (PNG) in the image_transport format, and heads/<name>/labels. The node
(outputs.CameraOutputs) and the recordings tool (ros_tools.bag_frames) both build their
messages here, so a bag holds what the node would have published.
"""

from typing import Any, Collection, Dict, Sequence

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from . import image_codec as codec
from ..core.confidence import confidence_to_uint8
from ..core.segmenter import SegmentationResult
from .node_common import topic_token

JPEG_QUALITY = 90
# Output names (topics under segmentation/); 'heads' stands for every heads/<name>/labels.
OUTPUT_NAMES = ('labels', 'confidence', 'overlay', 'overlay/compressed', 'colored',
                'colored/compressed', 'heads')


def head_output(head_name: str) -> str:
    """Output name of a head after the first: 'heads/<topic token>/labels'."""
    return f'heads/{topic_token(head_name)}/labels'


def head_outputs(head_names: Sequence[str]) -> Dict[str, str]:
    """Head name -> output name, for every head after the first (the first is 'labels')."""
    return {name: head_output(name) for name in head_names[1:]}


def output_type(name: str) -> type:
    """Message class of an output: CompressedImage for '*/compressed', else Image."""
    return CompressedImage if name.endswith('/compressed') else Image


def segmenter_options(wanted: Collection[str]) -> Dict[str, bool]:
    """Segmenter keyword arguments (overlay, colored, confidence) the wanted outputs need."""
    return {'overlay': 'overlay' in wanted or 'overlay/compressed' in wanted,
            'colored': 'colored' in wanted or 'colored/compressed' in wanted,
            'confidence': 'confidence' in wanted}


def compress(rgb: np.ndarray, encoding: str, fmt: str, header: Header) -> CompressedImage:
    """(H, W, 3) uint8 RGB -> CompressedImage 'jpeg' or 'png' (image_transport format)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if fmt == 'jpeg' else []
    ok, data = cv2.imencode('.jpg' if fmt == 'jpeg' else '.png', rgb[:, :, ::-1], params)
    if not ok:
        raise ValueError(f'cv2.imencode failed for {fmt}')
    return CompressedImage(header=header, format=f'{encoding}; {fmt} compressed bgr8',
                           data=data.tobytes())


def output_messages(result: SegmentationResult, header: Header, encoding: str,
                    wanted: Collection[str]) -> Dict[str, Any]:
    """Output name -> message (labels first) for the wanted outputs the result holds.

    encoding is the camera's source encoding (color outputs are bgr8 for BGR cameras);
    labels are always built; 'heads' in wanted adds heads/<name>/labels for extra heads.
    """
    messages: Dict[str, Any] = {'labels': codec.labels_to_image(result.labels, header)}
    if result.overlay is not None:
        color = codec.overlay_encoding(encoding)
        if 'overlay' in wanted:
            messages['overlay'] = codec.rgb_to_image(result.overlay, color, header)
        if 'overlay/compressed' in wanted:
            messages['overlay/compressed'] = compress(result.overlay, color, 'jpeg', header)
    if result.colored is not None:
        if 'colored' in wanted:
            messages['colored'] = codec.rgb_to_image(result.colored, 'rgb8', header)
        if 'colored/compressed' in wanted:
            messages['colored/compressed'] = compress(result.colored, 'rgb8', 'png', header)
    if result.confidence is not None and 'confidence' in wanted:
        messages['confidence'] = codec.array_to_image(
            confidence_to_uint8(result.confidence), 'mono8', header)
    if 'heads' in wanted:
        for name, labels in result.extra_labels.items():
            messages[head_output(name)] = codec.labels_to_image(labels, header)
    return messages
