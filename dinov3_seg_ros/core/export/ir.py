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
"""OpenVINO IR (.xml + .bin) from a fused ONNX export: the file a robot runs without torch.

The IR carries the same metadata as the ONNX (rt_info, export.metadata) and float32
weights: the OpenVINO backend compiles it in bf16 where the CPU has native bf16 (dtype
auto), like the cache entries the backend builds itself (backends.model_cache).
"""

import os
from typing import Any, Dict, Tuple

from ..errors import ConfigError, one_line
from .metadata import read_metadata, set_ir_metadata


def ir_paths(xml_path: str) -> Dict[str, str]:
    """Map '.xml' and '.bin' to the two files of the IR at xml_path."""
    stem = os.path.splitext(xml_path)[0]
    return {'.xml': stem + '.xml', '.bin': stem + '.bin'}


def ir_megabytes(xml_path: str) -> float:
    """Return the size of both files of an IR in MB."""
    return sum(os.path.getsize(path) for path in ir_paths(xml_path).values()) / 1e6


def write_ir(onnx_path: str, xml_path: str) -> Dict[str, Any]:
    """Convert the fused ONNX at onnx_path to an IR at xml_path (+ .bin); return its metadata.

    Written under temporary names and renamed, so a reader never sees half a model.
    """
    import openvino
    metadata = read_metadata(onnx_path)
    if metadata.get('kind') != 'fused':
        raise ConfigError(f'{onnx_path!r} is a {metadata.get("kind")} model: the IR holds '
                          'the fused one')
    try:
        model = openvino.Core().read_model(onnx_path)
    except Exception as exc:  # noqa: BLE001 - converter failures vary
        raise ConfigError(f'OpenVINO cannot read {onnx_path!r}: {one_line(exc, 200)}') from None
    set_ir_metadata(model, metadata)
    temporary = f'{os.path.splitext(xml_path)[0]}.tmp-{os.getpid()}.xml'
    openvino.save_model(model, temporary, compress_to_fp16=False)
    written = ir_paths(temporary)
    final = ir_paths(xml_path)
    os.replace(written['.bin'], final['.bin'])
    os.replace(written['.xml'], final['.xml'])
    return metadata


def convert_from_torch(config: Any, ov: Any, folder: str) -> Tuple[Any, Dict[str, Any]]:
    """Convert the config's torch model (backbone + heads) with openvino.convert_model.

    In memory, with dynamic [-1, 3, -1, -1] input (the traceable RoPE); when timm's RoPE is
    not the expected module, through a fused ONNX export in folder. Imports torch.
    Returns (openvino.Model, the metadata an export would carry).
    """
    import torch

    from ..backbone import build_backbone, check_heads_data
    from ..backends.torch_backend import head_names_for, load_heads
    from .metadata import build_metadata
    from .onnx import export_fused, FusedModel, prepare_heads
    from .rope import traceable_rope
    heads = load_heads(config, config.backbone)
    backbone = build_backbone(config.backbone, config.backbone_weights, seed=config.seed,
                              normalization=config.normalization)
    names = head_names_for(config.head_weights)
    check_heads_data(heads, names, backbone)
    size = config.input_size
    sample = (size.height, size.width) if size.mode == 'fixed' else (64, 96)
    with traceable_rope(backbone) as patched:
        if patched:
            model = FusedModel(backbone, prepare_heads(heads)).eval()
            with torch.no_grad():
                converted = ov.convert_model(model, example_input=torch.zeros(1, 3, *sample),
                                             input=[-1, 3, -1, -1])
            return converted, build_metadata('fused', backbone, heads, names, str(size),
                                             True, sample)
    path = os.path.join(folder, 'fused.onnx')
    export_fused(backbone, heads, path, head_names=names, size=sample, input_size=str(size))
    return ov.Core().read_model(path), read_metadata(path)
