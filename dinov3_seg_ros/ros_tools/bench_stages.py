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

"""ROS benchmark, in process: the node's per-frame path timed piece by piece.

The same configuration as the node (its params file plus the benchmark's overrides):
CDR deserialize + decode (image_codec), the core's own preprocess / backbone / head /
postprocess timings, then label encoding + CDR serialize.
"""

import gc
import time
from typing import Dict, List, Mapping

import numpy as np
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image
import yaml

from ..ros.image_codec import image_to_rgb, labels_to_image
from ..ros.node_process import params_file
from ..ros.params import NodeParams, params_from_values, SPECS
from ..core.errors import ConfigError, one_line
from ..core.segmenter import Segmenter


def node_params(parameters: str, overrides: Mapping[str, str]) -> NodeParams:
    """Read the node's parameters: the YAML file (see params_file) plus non-empty overrides.

    Like the node, names it does not declare are ignored; an unreadable file, bad YAML or a
    file without '/**: ros__parameters:' raises ConfigError.
    """
    path = params_file(parameters)
    try:
        with open(path) as stream:
            document = yaml.safe_load(stream)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f'params file {path}: {one_line(exc)}') from None
    section = document.get('/**') if isinstance(document, dict) else None
    if not isinstance(section, dict) or not isinstance(section.get('ros__parameters'), dict):
        raise ConfigError(f'params file {path}: expected /**: ros__parameters: <mapping>')
    declared = {spec.name for spec in SPECS}
    values = {name: value for name, value in section['ros__parameters'].items()
              if name in declared}
    values.update({name: value for name, value in overrides.items() if value})
    return params_from_values(values)


def time_stages(params: NodeParams, msg: Image, frames: int) -> Dict[str, float]:
    """Median milliseconds of each step of the node's per-frame path on msg, in this process.

    Keys: deserialize, decode, the Segmenter's timings_ms (preprocess ... total),
    segmenter_call and encode_serialize.
    """
    segmenter = Segmenter(params.model_config())
    samples: Dict[str, List[float]] = {}
    wire = serialize_message(msg)
    for _ in range(2):  # first calls at a new size build kernels: not measured
        segmenter(image_to_rgb(msg)[0])
    for _ in range(frames):
        t0 = time.perf_counter()
        received = deserialize_message(wire, Image)
        t1 = time.perf_counter()
        rgb, _ = image_to_rgb(received)
        t2 = time.perf_counter()
        result = segmenter(rgb)
        t3 = time.perf_counter()
        serialize_message(labels_to_image(result.labels, received.header))
        t4 = time.perf_counter()
        steps = dict(result.timings_ms, deserialize=(t1 - t0) * 1e3, decode=(t2 - t1) * 1e3,
                     segmenter_call=(t3 - t2) * 1e3, encode_serialize=(t4 - t3) * 1e3)
        for key, value in steps.items():
            samples.setdefault(key, []).append(value)
    del segmenter
    gc.collect()
    return {key: float(np.median(values)) for key, values in samples.items()}
