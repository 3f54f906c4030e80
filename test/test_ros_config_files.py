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

"""Shipped configuration: the parameter YAML, the rviz2 config and the Fast DDS profiles."""

import filecmp
import os
import xml.etree.ElementTree as ET

from dinov3_seg_ros.ros import params
from dinov3_seg_ros.ros_tools import image_publisher as publisher
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASTDDS_NS = '{http://www.eprosima.com}'


def test_parameter_yaml_matches_the_node_declarations():
    path = os.path.join(ROOT, 'config', 'segmentation.yaml')
    with open(path) as stream:
        document = yaml.safe_load(stream)
    assert list(document) == ['/**'], 'parameters must apply in any namespace / node name'
    values = document['/**']['ros__parameters']
    declared = set(params.parameter_names()) - {params.CLASS_NAMES}
    assert set(values) == declared, (set(values) ^ declared)
    for spec in params.SPECS:  # ROS parameter types are strict: 1 is not a double
        if not spec.dynamic_typing:
            assert type(values[spec.name]) is type(spec.default), spec.name
    params.params_from_values(values)  # choices and ranges hold


def test_rviz_config_shows_the_segmentation_topics():
    with open(os.path.join(ROOT, 'config', 'segmentation.rviz')) as stream:
        config = yaml.safe_load(stream)
    manager = config['Visualization Manager']
    assert manager['Global Options']['Fixed Frame']
    # the frame the demo camera stamps its images with (README: set your camera's frame)
    frame_id = publisher.build_parser().parse_args([]).frame_id
    assert manager['Global Options']['Fixed Frame'] == frame_id
    images = {d['Topic']['Value']: d for d in manager['Displays']
              if d['Class'] == 'rviz_default_plugins/Image'}
    assert {'segmentation/overlay', 'segmentation/colored'} <= set(images)
    for topic in ('segmentation/overlay', 'segmentation/colored'):
        assert images[topic]['Enabled'] is True
        assert images[topic]['Topic']['Reliability Policy'] in ('Best Effort', 'Reliable')


def _fastdds_transports(name):
    """{type: descriptor} of the default participant's transports in config/<name>."""
    root = ET.parse(os.path.join(ROOT, 'config', name)).getroot()
    assert root.tag == FASTDDS_NS + 'dds'
    transports = {t.findtext(FASTDDS_NS + 'transport_id'): t
                  for t in root.iter(FASTDDS_NS + 'transport_descriptor')}
    participants = [p for p in root.iter(FASTDDS_NS + 'participant')
                    if p.get('is_default_profile') == 'true']
    assert len(participants) == 1
    rtps = participants[0].find(FASTDDS_NS + 'rtps')
    assert rtps.findtext(FASTDDS_NS + 'useBuiltinTransports') == 'false'
    used = [t.text for t in rtps.find(FASTDDS_NS + 'userTransports')]
    assert set(used) <= set(transports)
    kinds = {transports[t].findtext(FASTDDS_NS + 'type'): transports[t] for t in used}
    assert set(kinds) == {'SHM', 'UDPv4'}
    segment = int(kinds['SHM'].findtext(FASTDDS_NS + 'segment_size'))
    assert segment >= 32 * 1024 * 1024
    assert int(kinds['SHM'].findtext(FASTDDS_NS + 'maxMessageSize')) <= segment
    assert segment >= 2 * 1920 * 1080 * 3  # two full-HD rgb8 frames in flight
    return kinds


def test_fastdds_test_profile_uses_large_shm_and_loopback_udp():
    path = os.path.join(ROOT, 'config', 'fastdds_shm_localhost.xml')
    exported = os.environ['FASTDDS_DEFAULT_PROFILES_FILE']  # conftest exports this profile
    assert filecmp.cmp(exported, path, shallow=False)
    kinds = _fastdds_transports('fastdds_shm_localhost.xml')
    allowed = [i.get('name') for i in kinds['UDPv4'].iter(FASTDDS_NS + 'interface')]
    assert allowed == ['127.0.0.1']


def test_fastdds_user_profile_keeps_udp_on_every_interface():
    kinds = _fastdds_transports('fastdds_shm.xml')
    assert not list(kinds['UDPv4'].iter(FASTDDS_NS + 'interface'))
