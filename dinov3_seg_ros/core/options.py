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

"""The model options, defined once: node parameter `x_y` and command-line flag `--x-y`.

ros/params.py declares the node parameters from MODEL_OPTIONS (plus its node-only ones) and
cli/options.py builds the argparse flags of every CLI from the same entries, so the two
share one name, default and description. A description names another option as
'{other_name}': the node shows 'other_name', a CLI '--other-name' ('{unset}': 'empty' on the
node, 'not given' in a CLI). ROS-free, torch-free.
"""

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from .config import BACKENDS, DEVICES, DTYPES
from .normalization import NORMALIZATIONS
from .variants import BACKBONES


@dataclass(frozen=True)
class Option:
    """One option: default, description and constraints (choices or a numeric range).

    several: a list of values (node: a path, comma-separated paths or a list; CLI: several
    values after the flag, or the flag repeated). node: False for a CLI-only option.
    deprecated: old CLI spellings still accepted (with a warning) for one release.
    """

    name: str
    default: Any
    description: str
    read_only: bool = True
    choices: Tuple[str, ...] = ()
    value_range: Optional[Tuple[float, float]] = None
    dynamic_typing: bool = False
    several: bool = False
    node: bool = True
    metavar: str = ''
    deprecated: Tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        """The command-line spelling: onnx_model -> --onnx-model."""
        return flag_of(self.name)

    def text(self, cli: bool = False) -> str:
        """Return the description with '{other}' in node (other) or CLI (--other) terms."""
        return self.description.format_map(_References(cli))


class _References(dict):
    """format_map mapping: '{name}' -> name (node terms) or --name (CLI terms).

    '{unset}' is how a user leaves a path out: 'empty' (node) or 'not given' (CLI).
    """

    def __init__(self, cli: bool) -> None:
        super().__init__(unset='not given' if cli else 'empty')
        self.cli = cli

    def __missing__(self, name: str) -> str:
        return flag_of(name) if self.cli else name


def flag_of(name: str) -> str:
    """Return the flag of the option (or node parameter) name: input_size -> --input-size."""
    return '--' + name.replace('_', '-')


MODEL_OPTIONS: Tuple[Option, ...] = (
    Option('device', 'auto', 'Inference device: auto (CUDA if available, else CPU with a '
           'warning), cpu, or cuda (start-up fails without CUDA).', choices=DEVICES),
    Option('backbone', 'vits16plus', 'DINOv3 variant (ViTs vits16 to vit7b16, ConvNeXts '
           'convnext_tiny to convnext_large); must match the head checkpoints. On a CPU robot: '
           'convnext_tiny takes about 0.7x the time of vits16plus (doc/backbones.md).',
           choices=BACKBONES),
    Option('backbone_weights', '', 'DINOv3 backbone weights (Meta .pth or timm '
           '.safetensors); {unset}: random weights, outputs marked UNTRAINED.', metavar='PATH'),
    Option('normalization', 'auto', 'Input mean/std of the pretraining data: auto (from the '
           'backbone weights file: a SAT-493M name or keys, else the head checkpoint, else '
           'LVD), lvd (LVD-1689M) or sat (SAT-493M satellite models, for renamed or timm '
           'files).', choices=NORMALIZATIONS),
    Option('head_weights', '', 'Head checkpoint(s): project or training checkpoints, or the '
           'upstream bare model.pth; every head shares one backbone pass, the first gives '
           'the main labels (the others: segmentation/heads/<name>/labels on the node, '
           'S_labels_<name>.png in dinov3-seg-infer); {unset}: a random head (UNTRAINED).',
           dynamic_typing=True, several=True, metavar='PATH'),
    Option('classes_file', '', 'Class names of the first head, one per line; {unset}: the '
           'names stored in the checkpoint (the COCO panoptic list for the upstream bare '
           'model.pth).', metavar='PATH', deprecated=('--classes',)),
    Option('input_size', '', "Backbone input: long side in px ('640', aspect kept, "
           "multiples of 16), fixed 'WxH', or 'native'; empty = the size the first head "
           "checkpoint was trained at, else '640'.", dynamic_typing=True),
    Option('backend', 'auto', 'Inference backend: auto (torch on CUDA, else openvino when '
           'installed, else torch; with an {onnx_model}: openvino for an .xml, onnxruntime on '
           'CUDA or openvino on the CPU for an .onnx), torch, onnxruntime (needs '
           '{onnx_model}) or openvino.', choices=BACKENDS),
    Option('onnx_model', '', 'Fused .onnx model written by dinov3-seg-export, or an OpenVINO '
           'IR .xml; the backends onnxruntime, openvino and auto take it (torch builds the '
           'model from {backbone_weights}/{head_weights}).', metavar='PATH',
           deprecated=('--onnx',)),
    Option('dtype', 'auto', 'Compute dtype: auto (on the CPU bfloat16 when it has native bf16, '
           'AMX-BF16 or AVX512-BF16, else float32; on CUDA bfloat16 where the GPU supports '
           'it, else float16), float32, float16 (CUDA only: float32 on the CPU) or bfloat16.',
           choices=DTYPES),
    Option('warmup', 1, 'Warm-up inferences run before the first frame.',
           value_range=(0, 100)),
    Option('compile', False, 'torch backend: torch.compile the backbone at start-up, ~19% '
           'faster on the CPU but 25-35 s more start-up (again when the frame shape differs '
           'from the warm-up one: prefer a fixed {input_size}); falls back to eager with a '
           'warning.'),
    Option('cache_dir', '', "Model cache: the OpenVINO IR converted once when no "
           "{onnx_model} is given, and OpenVINO's compiled blobs; {unset} = "
           "$XDG_CACHE_HOME/dinov3_seg_ros (else ~/.cache/dinov3_seg_ros), a folder, or "
           "'none' = off.", metavar='DIR'),
    Option('seed', 0, 'Seed of the random backbone/head weights used without '
           "{backbone_weights}/{head_weights}: the same model in infer, export, bench and eval "
           "(dinov3-seg-train's run.seed).", node=False),
)
OPTIONS: Dict[str, Option] = {option.name: option for option in MODEL_OPTIONS}
