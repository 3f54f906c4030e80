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

"""The self-description of an exported model: ONNX metadata_props and OpenVINO IR rt_info.

An .onnx carries it in metadata_props['dinov3_seg_ros'], an IR .xml in
rt_info['dinov3_seg_ros']['metadata'] (the same JSON, plus e.g. 'precision' and
'calibration' for int8 models).

JSON object: version, kind ('fused' | 'head'), backbone, untrained, head_names,
class_names (one list per head), num_classes, heads (HeadConfig dicts), mean, std,
input_size (preprocessing size, ModelConfig syntax), dynamic (H/W symbolic), export_size
([H, W] traced; the required input size when not dynamic), patch_size, exporter, opset,
outputs.
"""

import json
import os
from typing import Any, Dict, Optional, Sequence

from ..errors import CheckpointError, ConfigError, one_line
from ..preprocess import PATCH_SIZE  # torch-free (backbone.PATCH_SIZE)

METADATA_KEY = 'dinov3_seg_ros'
METADATA_VERSION = 1
RT_INFO_PATH = [METADATA_KEY, 'metadata']


def build_metadata(kind: str, backbone: Any, heads: Sequence[Any], head_names: Sequence[str],
                   input_size: str, dynamic: bool, export_size: Sequence[int],
                   **extra: Any) -> Dict[str, Any]:
    """Describe an export; mean/std come from the first head checkpoint, else the backbone.

    backbone is a ViT or ConvNeXt backbone or None (head-only export without one: mean/std may be
    None); heads are HeadCheckpoints.
    """
    first = heads[0]
    mean = first.mean if first.mean is not None else getattr(backbone, 'mean', None)
    std = first.std if first.std is not None else getattr(backbone, 'std', None)
    if kind == 'fused' and (mean is None or std is None):
        raise ConfigError('export: no mean/std in the head checkpoint nor the backbone')
    untrained = any(bool(h.metadata.get('untrained')) for h in heads)
    if backbone is not None and kind == 'fused':
        untrained = untrained or not backbone.pretrained
    return {'version': METADATA_VERSION, 'kind': kind,
            'backbone': backbone.spec.name if backbone is not None else first.backbone,
            'untrained': untrained, 'head_names': list(head_names),
            'class_names': [list(h.class_names) for h in heads],
            'num_classes': [h.head.num_classes for h in heads],
            'heads': [h.head.to_dict() for h in heads],
            'mean': [float(v) for v in mean] if mean is not None else None,
            'std': [float(v) for v in std] if std is not None else None,
            'input_size': str(input_size), 'dynamic': bool(dynamic),
            'trained_input_size': str(getattr(first, 'input_size', '') or ''),
            'export_size': [int(v) for v in export_size], 'patch_size': PATCH_SIZE, **extra}


def parse_metadata(props: Dict[str, str], path: str) -> Dict[str, Any]:
    """Parse and validate the entry of a model's metadata_props map (CheckpointError)."""
    if METADATA_KEY not in props:
        raise CheckpointError(f'{path!r} has no {METADATA_KEY!r} metadata: export it with '
                              'dinov3-seg-export')
    try:
        metadata = json.loads(props[METADATA_KEY])
    except ValueError as exc:
        raise CheckpointError(f'{path!r}: invalid {METADATA_KEY!r} metadata: {exc}') from None
    if not isinstance(metadata, dict) or metadata.get('kind') not in ('fused', 'head'):
        raise CheckpointError(f'{path!r}: {METADATA_KEY!r} metadata lacks a valid kind')
    if metadata.get('version', 0) > METADATA_VERSION:
        raise CheckpointError(f'{path!r}: metadata version {metadata["version"]}; this '
                              f'package reads up to {METADATA_VERSION}')
    names, classes = metadata.get('head_names'), metadata.get('class_names')
    if not names or not isinstance(classes, list) or len(classes) != len(names):
        raise CheckpointError(f'{path!r}: metadata needs head_names and one class_names '
                              'list per head')
    return metadata


def write_metadata(path: str, metadata: Dict[str, Any], doc: Optional[str] = None) -> None:
    """Store metadata in the .onnx file (weights in external files stay where they are)."""
    import onnx
    model = onnx.load(path, load_external_data=False)
    kept = [(p.key, p.value) for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    for key, value in kept + [(METADATA_KEY, json.dumps(metadata))]:
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    if doc is not None:
        model.doc_string = doc
    onnx.save(model, path)


def read_metadata(path: str) -> Dict[str, Any]:
    """Read a model's metadata with the onnx package (no inference session needed)."""
    import onnx
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - any parse failure means a bad file
        raise CheckpointError(f'cannot read ONNX model {path!r}: '
                              f'{one_line(exc, 200)}') from None
    return parse_metadata({p.key: p.value for p in model.metadata_props}, path)


def set_ir_metadata(model: Any, metadata: Dict[str, Any]) -> None:
    """Store metadata as JSON in an openvino.Model's rt_info (kept by save_model)."""
    model.set_rt_info(json.dumps(metadata), RT_INFO_PATH)


def ir_metadata(model: Any, path: str) -> Dict[str, Any]:
    """Read and validate the metadata of an openvino.Model read from path (CheckpointError)."""
    if path.lower().endswith('.onnx'):
        return read_metadata(path)
    props = {}
    if model.has_rt_info(RT_INFO_PATH):
        props[METADATA_KEY] = str(model.get_rt_info(RT_INFO_PATH).astype(str))
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
    return ir_metadata(model, xml_path)
