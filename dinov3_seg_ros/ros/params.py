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

The model parameters come from core/options.py (shared with the CLIs' flags); the node-only
ones (cameras, transport, QoS, overlay) are declared here.

Model and transport parameters are read-only (read at start-up); overlay_alpha, draw_labels,
publish_overlay, publish_colored and enabled change at run time. head_weights takes one path,
several comma-separated paths, or a YAML list of paths (every head shares one backbone pass).
"""

from dataclasses import dataclass, replace
import math
from typing import Any, Iterable, Mapping, Sequence, Tuple

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType, SetParametersResult)
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter

from ..core.config import ModelConfig
from ..core.errors import ConfigError
from ..core.options import MODEL_OPTIONS, Option
from .cameras import camera_names
from .qos import RELIABILITIES

TRANSPORTS = ('raw', 'compressed')
RUNTIME_PARAMETERS = ('overlay_alpha', 'draw_labels', 'publish_overlay', 'publish_colored',
                      'enabled')
CLASS_NAMES = 'class_names'
ParamSpec = Option  # one node parameter: the model options and the node-only ones below
SEVERAL = ' Give a path, comma-separated paths or a list.'


def node_description(spec: ParamSpec) -> str:
    """Return the parameter's description in node terms (ros2 param describe, --help)."""
    return spec.text() + (SEVERAL if spec.several else '')


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """Build the ParameterDescriptor that `ros2 param describe` shows."""
    result = ParameterDescriptor(name=spec.name, description=node_description(spec),
                                 read_only=spec.read_only, dynamic_typing=spec.dynamic_typing)
    if not spec.dynamic_typing:
        result.type = Parameter.Type.from_parameter_value(spec.default).value
    if spec.choices:
        result.additional_constraints = 'one of: ' + ', '.join(spec.choices)
    if spec.value_range and isinstance(spec.default, float):
        result.floating_point_range = [FloatingPointRange(
            from_value=float(spec.value_range[0]), to_value=float(spec.value_range[1]))]
    elif spec.value_range:
        result.integer_range = [IntegerRange(
            from_value=int(spec.value_range[0]), to_value=int(spec.value_range[1]), step=1)]
    return result


SPECS: Tuple[ParamSpec, ...] = tuple(o for o in MODEL_OPTIONS if o.node) + (
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
    input_size: str = ''
    backend: str = 'auto'
    onnx_model: str = ''
    dtype: str = 'auto'
    warmup: int = 1
    compile: bool = False
    cache_dir: str = ''
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
                           cache_dir=self.cache_dir, normalization=self.normalization)


def split_paths(value: Any) -> Tuple[str, ...]:
    """head_weights value (str with commas, or a list of str) -> tuple of non-empty paths."""
    items = value.split(',') if isinstance(value, str) else list(value or ())
    return tuple(str(item).strip() for item in items if str(item).strip())


def declare_parameters(node: Node) -> NodeParams:
    """Declare every parameter on node (overrides from --ros-args apply) and read them.

    An override rclpy rejects (out of range, wrong type) leaves that parameter at its
    default; every other parameter is still declared. Then ConfigError lists the rejected
    values (the node decides: the plain node stops, the lifecycle node keeps the defaults).
    """
    rejected = []
    for spec in SPECS:
        try:
            node.declare_parameter(spec.name, spec.default, descriptor(spec))
        except ParameterException as exc:
            node.declare_parameter(spec.name, spec.default, descriptor(spec),
                                   ignore_override=True)
            rejected.append(f'parameter {spec.name}: {exc} (default {spec.default!r})')
    try:
        values = read_parameters(node)
    except ConfigError as exc:
        rejected.append(str(exc))
    if rejected:
        raise ConfigError('; '.join(rejected))
    return values


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
