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

"""The segmentation node's parameters: declared once with descriptors, read into a dataclass.

Model and transport parameters are read-only (read at start-up); overlay_alpha, draw_labels,
publish_overlay, publish_colored and enabled change at run time. head_weights takes one path,
several comma-separated paths, or a YAML list of paths (every head shares one backbone pass).
"""

from dataclasses import dataclass, replace
import math
from typing import Any, Iterable, Mapping, Optional, Sequence, Tuple

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType, SetParametersResult)
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter

from ..core.config import BACKENDS, DTYPES, DEVICES, ModelConfig
from ..core.errors import ConfigError
from ..core.normalization import NORMALIZATIONS
from ..core.variants import BACKBONES
from .cameras import camera_names
from .qos import RELIABILITIES

TRANSPORTS = ('raw', 'compressed')
RUNTIME_PARAMETERS = ('overlay_alpha', 'draw_labels', 'publish_overlay', 'publish_colored',
                      'enabled')
CLASS_NAMES = 'class_names'


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: default, description and constraints (choices or a numeric range)."""

    name: str
    default: Any
    description: str
    read_only: bool = True
    choices: Tuple[str, ...] = ()
    value_range: Optional[Tuple[float, float]] = None
    dynamic_typing: bool = False

    def descriptor(self) -> ParameterDescriptor:
        """Build the ParameterDescriptor that `ros2 param describe` shows."""
        descriptor = ParameterDescriptor(name=self.name, description=self.description,
                                         read_only=self.read_only,
                                         dynamic_typing=self.dynamic_typing)
        if not self.dynamic_typing:
            descriptor.type = Parameter.Type.from_parameter_value(self.default).value
        if self.choices:
            descriptor.additional_constraints = 'one of: ' + ', '.join(self.choices)
        if self.value_range and isinstance(self.default, float):
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=float(self.value_range[0]), to_value=float(self.value_range[1]))]
        elif self.value_range:
            descriptor.integer_range = [IntegerRange(
                from_value=int(self.value_range[0]), to_value=int(self.value_range[1]), step=1)]
        return descriptor


SPECS: Tuple[ParamSpec, ...] = (
    ParamSpec('device', 'auto', 'Inference device: auto (CUDA if available, else CPU with a '
              'warning), cpu, or cuda (start-up fails without CUDA).', choices=DEVICES),
    ParamSpec('backbone', 'vits16plus', 'DINOv3 variant; must match the head checkpoints. '
              'convnext_tiny: 0.6x the time of vits16plus in torch or bf16; about the same in '
              'OpenVINO float32 on AVX2 CPUs (doc/backbones.md).',
              choices=BACKBONES),
    ParamSpec('backbone_weights', '', 'DINOv3 backbone weights (Meta .pth or timm '
              '.safetensors); empty = random weights, outputs marked UNTRAINED.'),
    ParamSpec('normalization', 'auto', 'Input mean/std of the pretraining data: auto (from the '
              'weights file, else the head), lvd (LVD-1689M) or sat (SAT-493M satellite '
              'models, for renamed/timm files).', choices=NORMALIZATIONS),
    ParamSpec('head_weights', '', 'Head checkpoint(s): a path, comma-separated paths or a list; '
              'the first head drives labels/overlay/colored, others publish '
              'segmentation/heads/<name>/labels. Empty = random head (UNTRAINED).',
              dynamic_typing=True),
    ParamSpec('classes_file', '', 'Class names, one per line, for the first head; empty = the '
              'names stored in the checkpoint.'),
    ParamSpec('input_size', '640', "Backbone input: long side in px ('640', aspect kept), "
              "fixed 'WxH', or 'native'.", dynamic_typing=True),
    ParamSpec('backend', 'auto', 'Inference backend: auto (torch on CUDA, else openvino when '
              'installed, else torch), torch, onnxruntime or openvino.', choices=BACKENDS),
    ParamSpec('onnx_model', '', 'Fused .onnx model exported by dinov3-seg-export, or an '
              'OpenVINO IR .xml (backends onnxruntime, openvino, auto).'),
    ParamSpec('dtype', 'auto', 'Compute dtype: auto (float16 on CUDA, float32 on CPU), '
              'float32, float16 or bfloat16.', choices=DTYPES),
    ParamSpec('warmup', 1, 'Warm-up inferences run before the first frame.',
              value_range=(0, 100)),
    ParamSpec('compile', False, 'torch backend: torch.compile the backbone at start-up, ~19% '
              'faster on the CPU but 25-35 s more start-up (again when the frame shape differs '
              'from the warm-up one: prefer a fixed input_size); falls back to eager with a '
              'warning.'),
    ParamSpec('cameras', '', "Camera names (a list, or comma-separated): camera <name> reads "
              "<name>/image and publishes <name>/segmentation/...; the newest frame of every "
              "camera goes through the model as one batch. Empty = one camera on 'image'.",
              dynamic_typing=True),
    ParamSpec('input_transport', 'raw', "raw: subscribe to 'image' (sensor_msgs/Image); "
              "compressed: to <remapped 'image'>/compressed (sensor_msgs/CompressedImage).",
              choices=TRANSPORTS),
    ParamSpec('input_reliability', 'best_effort', 'Input QoS reliability: best_effort (the '
              'sensor-data profile) or reliable.', choices=RELIABILITIES),
    ParamSpec('input_depth', 1, 'Input QoS history depth (the node always works on the newest '
              'frame).', value_range=(1, 100)),
    ParamSpec('output_depth', 2, 'Output QoS history depth (outputs are reliable, volatile).',
              value_range=(1, 100)),
    ParamSpec('diagnostics_period', 1.0, 'Seconds between /diagnostics reports.',
              value_range=(0.1, 60.0)),
    ParamSpec('overlay_alpha', 0.5, 'Weight of the class colors in the overlay (0 = camera '
              'image only, 1 = colors only).', read_only=False, value_range=(0.0, 1.0)),
    ParamSpec('draw_labels', True, 'Write class names on the overlay regions.',
              read_only=False),
    ParamSpec('publish_overlay', True, 'Publish segmentation/overlay (computed only while '
              'subscribed).', read_only=False),
    ParamSpec('publish_colored', True, 'Publish segmentation/colored (computed only while '
              'subscribed).', read_only=False),
    ParamSpec('enabled', True, 'Process frames; false pauses segmentation (frames are '
              'ignored).', read_only=False),
)


@dataclass(frozen=True)
class NodeParams:
    """Values of every node parameter except class_names (which the node fills)."""

    device: str = 'auto'
    backbone: str = 'vits16plus'
    backbone_weights: str = ''
    normalization: str = 'auto'
    head_weights: Tuple[str, ...] = ()
    classes_file: str = ''
    input_size: str = '640'
    backend: str = 'auto'
    onnx_model: str = ''
    dtype: str = 'auto'
    warmup: int = 1
    compile: bool = False
    cameras: Tuple[str, ...] = ()
    input_transport: str = 'raw'
    input_reliability: str = 'best_effort'
    input_depth: int = 1
    output_depth: int = 2
    diagnostics_period: float = 1.0
    overlay_alpha: float = 0.5
    draw_labels: bool = True
    publish_overlay: bool = True
    publish_colored: bool = True
    enabled: bool = True

    def __post_init__(self) -> None:
        for spec in SPECS:
            value = getattr(self, spec.name)
            if spec.choices and value not in spec.choices:
                raise ConfigError(f'{spec.name}: {value!r} is not one of '
                                  f'{", ".join(spec.choices)}')
            if spec.value_range and not spec.value_range[0] <= value <= spec.value_range[1]:
                raise ConfigError(f'{spec.name}: {value!r} outside [{spec.value_range[0]}, '
                                  f'{spec.value_range[1]}]')

    def model_config(self) -> ModelConfig:
        """Build the core ModelConfig (raises ConfigError on invalid model settings)."""
        return ModelConfig(backbone=self.backbone, backbone_weights=self.backbone_weights,
                           head_weights=self.head_weights, classes_file=self.classes_file,
                           input_size=self.input_size, device=self.device, dtype=self.dtype,
                           backend=self.backend, onnx_model=self.onnx_model,
                           warmup=self.warmup, compile=self.compile,
                           normalization=self.normalization)


def split_paths(value: Any) -> Tuple[str, ...]:
    """head_weights value (str with commas, or a list of str) -> tuple of non-empty paths."""
    items = value.split(',') if isinstance(value, str) else list(value or ())
    return tuple(str(item).strip() for item in items if str(item).strip())


def declare_parameters(node: Node) -> NodeParams:
    """Declare every parameter on node (overrides from --ros-args apply) and read them."""
    for spec in SPECS:
        try:
            node.declare_parameter(spec.name, spec.default, spec.descriptor())
        except ParameterException as exc:
            raise ConfigError(f'parameter {spec.name}: {exc}') from None
    return read_parameters(node)


def read_parameters(node: Node) -> NodeParams:
    """Read the node's current parameter values into a NodeParams (raises ConfigError)."""
    return params_from_values({spec.name: node.get_parameter(spec.name).value
                               for spec in SPECS})


def params_from_values(values: Mapping[str, Any]) -> NodeParams:
    """Build NodeParams from raw values (node or YAML); missing names keep their defaults.

    head_weights is split into paths, cameras into checked names and input_size becomes a
    str (raises ConfigError).
    """
    values = dict(values)
    if 'head_weights' in values:
        heads = values['head_weights']
        if not isinstance(heads, (str, list, tuple)):
            raise ConfigError(f'head_weights: expected a path, comma-separated paths or a '
                              f'list, got {heads!r}')
        values['head_weights'] = split_paths(heads)
    if 'input_size' in values:
        values['input_size'] = str(values['input_size'])
    if 'cameras' in values:
        values['cameras'] = camera_names(values['cameras'])
    return NodeParams(**values)


def declare_class_names(node: Node, names: Sequence[str]) -> None:
    """Declare the read-only class_names parameter with the loaded model's class names."""
    descriptor = ParameterDescriptor(
        name=CLASS_NAMES, type=ParameterType.PARAMETER_STRING_ARRAY, read_only=True,
        description='Class names of the first head, index = label id (set by the node).')
    node.declare_parameter(CLASS_NAMES, [str(n) for n in names], descriptor,
                           ignore_override=True)


def validate_runtime_changes(changes: Iterable[Parameter]) -> SetParametersResult:
    """Accept or reject (with a reason) new values of the run-time parameters.

    Parameters this node does not own (use_sim_time, ...) pass through; read-only ones are
    already refused by rclpy through their descriptors.
    """
    for change in changes:
        value = change.value
        if change.name == 'overlay_alpha':
            if not isinstance(value, float) or not math.isfinite(value) or not 0 <= value <= 1:
                return SetParametersResult(
                    successful=False, reason=f'overlay_alpha must be a float in [0, 1], '
                                             f'got {value!r}')
        elif change.name in RUNTIME_PARAMETERS and not isinstance(value, bool):
            return SetParametersResult(successful=False,
                                       reason=f'{change.name} must be a bool, got {value!r}')
    return SetParametersResult(successful=True)


def apply_runtime_changes(params: NodeParams, changes: Iterable[Parameter]) -> NodeParams:
    """Return a copy of params with the accepted run-time changes applied."""
    updates = {c.name: c.value for c in changes if c.name in RUNTIME_PARAMETERS}
    return replace(params, **updates) if updates else params


def parameter_names() -> Tuple[str, ...]:
    """Return the names of all declared parameters, class_names included."""
    return tuple(spec.name for spec in SPECS) + (CLASS_NAMES,)
