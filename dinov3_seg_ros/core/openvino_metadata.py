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

"""The self-description an OpenVINO IR (.xml) carries in rt_info['dinov3_seg_ros']['metadata'].

Same JSON as the ONNX metadata (onnx_metadata), plus e.g. 'precision' and 'calibration'
for int8 models; read_ir_metadata validates it with onnx_metadata.parse_metadata.
"""

import json
import os
from typing import Any, Dict

from .errors import CheckpointError, one_line
from .onnx_metadata import METADATA_KEY, parse_metadata

RT_INFO_PATH = [METADATA_KEY, 'metadata']


def set_ir_metadata(model: Any, metadata: Dict[str, Any]) -> None:
    """Store metadata as JSON in an openvino.Model's rt_info (kept by save_model)."""
    model.set_rt_info(json.dumps(metadata), RT_INFO_PATH)


def model_metadata(model: Any, path: str) -> Dict[str, Any]:
    """Read and validate the metadata of an openvino.Model (CheckpointError)."""
    props = {}
    if model.has_rt_info(RT_INFO_PATH):
        props[METADATA_KEY] = model.get_rt_info(RT_INFO_PATH).astype(str)
    return parse_metadata(props, path)


def read_ir_metadata(xml_path: str) -> Dict[str, Any]:
    """Read an OpenVINO IR's metadata (CheckpointError for a missing or unreadable model)."""
    if not os.path.isfile(xml_path):
        raise CheckpointError(f'OpenVINO model not found: {xml_path!r}')
    import openvino
    try:
        model = openvino.Core().read_model(xml_path)
    except Exception as exc:  # noqa: BLE001 - any parse failure means a bad file
        raise CheckpointError(f'cannot read OpenVINO model {xml_path!r}: '
                              f'{one_line(exc, 200)}') from None
    return model_metadata(model, xml_path)
