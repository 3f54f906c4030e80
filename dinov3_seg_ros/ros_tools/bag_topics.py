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

"""The topic rule of dinov3-seg-bag: which image topics are cameras and where outputs go.

An image topic <ns>/<name> (sensor_msgs/msg/Image) or <ns>/<name>/compressed
(sensor_msgs/msg/CompressedImage) is one camera; its outputs go where the node, started in
namespace <ns> with its `image` remapped to that topic, publishes them:
<ns>/segmentation/<output>, and its camera_info is the sibling <ns>/camera_info
(image_transport convention). Pure functions on topic names and type names.
"""

from typing import Dict, List, Mapping, NamedTuple, Sequence

from ..core.errors import ConfigError

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED = 'sensor_msgs/msg/CompressedImage'
CAMERA_INFO = 'sensor_msgs/msg/CameraInfo'
IMAGE_TYPES = (IMAGE, COMPRESSED)
OUTPUT_SPACE = 'segmentation'


class Camera(NamedTuple):
    """One segmented image topic: its type, namespace and sibling camera_info topic."""

    topic: str
    msgtype: str
    namespace: str  # '' for a topic at the root ('/image')
    camera_info: str

    def output_topic(self, output: str) -> str:
        """Topic of an output name ('labels', 'overlay/compressed', 'heads/x/labels', ...)."""
        return f'{self.namespace}/{OUTPUT_SPACE}/{output}'


def camera(topic: str, msgtype: str) -> Camera:
    """Return the Camera of an image topic (the topic rule of the module docstring)."""
    base = topic
    if msgtype == COMPRESSED and base.endswith('/compressed'):
        base = base[:-len('/compressed')]
    namespace = base.rsplit('/', 1)[0]
    return Camera(topic, msgtype, namespace, f'{namespace}/camera_info')


def is_output_topic(topic: str) -> bool:
    """Tell whether a topic lies under a segmentation/ namespace (an output of this package)."""
    return f'/{OUTPUT_SPACE}/' in f'{topic}/'


def image_topics(types: Mapping[str, str]) -> List[str]:
    """Image and CompressedImage topics of a bag (topic -> type), sorted."""
    return sorted(topic for topic, msgtype in types.items() if msgtype in IMAGE_TYPES)


def choose_cameras(types: Mapping[str, str], wanted: Sequence[str]) -> List[Camera]:
    """Cameras to segment: the wanted topics, else every image topic that is not an output.

    Raises ConfigError for a topic not in the bag or not an image (listing the image topics
    it has), for no image topic at all, and for two cameras sharing an output namespace.
    """
    images = image_topics(types)
    listing = ', '.join(images) or 'none'
    if wanted:
        for topic in wanted:
            if topic not in types:
                raise ConfigError(f'topic {topic!r} is not in the bag (image topics: {listing})')
            if types[topic] not in IMAGE_TYPES:
                raise ConfigError(f'topic {topic!r} is a {types[topic]}, not an image '
                                  f'(image topics: {listing})')
        chosen = list(dict.fromkeys(wanted))
    else:
        chosen = [topic for topic in images if not is_output_topic(topic)]
        if not chosen:
            raise ConfigError(f'the bag has no camera image topic (image topics: {listing})')
    cameras = [camera(topic, types[topic]) for topic in chosen]
    by_space: Dict[str, str] = {}
    for cam in cameras:
        other = by_space.setdefault(cam.namespace, cam.topic)
        if other != cam.topic:
            raise ConfigError(f'{other} and {cam.topic} would both publish under '
                              f'{cam.output_topic("")}: choose one with --topics')
    return cameras


def check_no_clash(cameras: Sequence[Camera], kept: Sequence[str]) -> None:
    """Raise ConfigError when a copied input topic lies where a camera's outputs go."""
    clash = sorted(topic for topic in kept for cam in cameras
                   if topic.startswith(cam.output_topic('')))
    if clash:
        raise ConfigError(f'the bag already has {", ".join(clash)} where the outputs go: '
                          'pass --outputs-only (outputs without the input topics)')
