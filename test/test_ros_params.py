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

"""Parameter declarations, overrides, run-time validation, QoS and the shipped YAML."""

from dataclasses import fields
import itertools
import math
import os
import re

from dinov3_seg_ros.core.config import InputSize
from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.ros import params as P
from dinov3_seg_ros.ros.qos import input_qos, latched_qos, output_qos
import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
YAML_PATH = os.path.join(ROOT, 'config', 'segmentation.yaml')
_names = itertools.count()

pytestmark = pytest.mark.ros


@pytest.fixture
def make_node(context):
    nodes = []

    def make(overrides=(), cli_args=None):
        node = Node(f'params_test_{next(_names)}', context=context, cli_args=cli_args,
                    parameter_overrides=[Parameter(k, value=v) for k, v in overrides])
        nodes.append(node)
        return node
    yield make
    for node in nodes:
        node.destroy_node()


def test_specs_and_dataclass_list_the_same_parameters():
    assert [s.name for s in P.SPECS] == [f.name for f in fields(P.NodeParams)]
    assert P.parameter_names()[-1] == 'class_names'
    for spec in P.SPECS:
        assert spec.description.strip(), spec.name
        assert getattr(P.NodeParams(), spec.name) == (
            P.split_paths(spec.default) if spec.name in ('head_weights', 'cameras')
            else spec.default)


def test_defaults_are_declared_with_descriptors(make_node):
    node = make_node()
    assert P.declare_parameters(node) == P.NodeParams()
    for spec in P.SPECS:
        descriptor = node.describe_parameter(spec.name)
        assert descriptor.description == P.node_description(spec)
        assert descriptor.read_only == (spec.name not in P.RUNTIME_PARAMETERS), spec.name
    alpha = node.describe_parameter('overlay_alpha').floating_point_range[0]
    assert (alpha.from_value, alpha.to_value) == (0.0, 1.0)
    depth = node.describe_parameter('input_depth').integer_range[0]
    assert (depth.from_value, depth.to_value) == (1, 100)
    assert 'cuda' in node.describe_parameter('device').additional_constraints


def test_overrides_are_read_and_normalized(make_node):
    node = make_node([('input_size', 64), ('head_weights', 'a.pth, b.pth'),
                      ('overlay_alpha', 0.25), ('input_reliability', 'reliable'),
                      ('device', 'cpu'), ('publish_colored', False)])
    values = P.declare_parameters(node)
    assert values.input_size == '64' and values.head_weights == ('a.pth', 'b.pth')
    assert (values.overlay_alpha, values.input_reliability) == (0.25, 'reliable')
    assert values.publish_colored is False
    config = values.model_config()
    assert config.input_size == InputSize('long', 64)
    assert config.head_weights == ('a.pth', 'b.pth') and config.device == 'cpu'


def test_head_weights_accepts_a_list(make_node):
    node = make_node([('head_weights', ['x.pth', 'y.pth']), ('input_size', '320x240')])
    values = P.declare_parameters(node)
    assert values.head_weights == ('x.pth', 'y.pth')
    assert values.model_config().input_size == InputSize.parse('320x240')
    assert str(values.model_config().input_size) == '320x240'


@pytest.mark.parametrize('name,value,reason', [
    ('device', 'gpu', 'device'),
    ('input_transport', 'ffmpeg', 'input_transport'),
    ('input_reliability', 'lossy', 'input_reliability'),
    ('overlay_alpha', 1.5, 'overlay_alpha'),
    ('overlay_alpha', 'half', 'overlay_alpha'),
    ('input_depth', 0, 'input_depth'),
    ('diagnostics_period', 0.0, 'diagnostics_period'),
])
def test_invalid_overrides_raise_config_error_naming_the_key(make_node, name, value, reason):
    with pytest.raises(ConfigError, match=reason):
        P.declare_parameters(make_node([(name, value)]))


def test_invalid_model_settings_fail_in_model_config(make_node):
    values = P.declare_parameters(make_node([('input_size', 'huge'), ('dtype', 'float16')]))
    with pytest.raises(ConfigError, match='input_size'):
        values.model_config()


def test_runtime_changes_are_validated_and_applied(make_node):
    node = make_node()
    values = P.declare_parameters(node)
    node.add_on_set_parameters_callback(P.validate_runtime_changes)
    applied = []
    node.add_post_set_parameters_callback(
        lambda changes: applied.append(P.apply_runtime_changes(values, changes)))

    ok = node.set_parameters([Parameter('overlay_alpha', value=0.3)])[0]
    assert ok.successful and applied[-1].overlay_alpha == 0.3
    ok = node.set_parameters([Parameter('enabled', value=False)])[0]
    assert ok.successful and applied[-1].enabled is False
    for bad in (Parameter('overlay_alpha', value=1.5), Parameter('overlay_alpha', value=math.nan),
                Parameter('draw_labels', value='yes'), Parameter('backbone', value='vitb16'),
                Parameter('input_size', value='320')):
        result = node.set_parameters([bad])[0]
        assert not result.successful and result.reason, bad.name
    assert node.get_parameter('overlay_alpha').value == 0.3
    assert node.get_parameter('backbone').value == 'vits16plus'
    assert len(applied) == 2


def test_validate_runtime_changes_gives_reasons():
    nan = P.validate_runtime_changes([Parameter('overlay_alpha', value=math.nan)])
    assert not nan.successful and 'overlay_alpha' in nan.reason
    wrong = P.validate_runtime_changes([Parameter('publish_overlay', value=1)])
    assert not wrong.successful and 'bool' in wrong.reason
    assert P.validate_runtime_changes([Parameter('use_sim_time', value=True)]).successful
    changed = P.apply_runtime_changes(P.NodeParams(), [Parameter('draw_labels', value=False),
                                                       Parameter('use_sim_time', value=True)])
    assert changed == P.NodeParams(draw_labels=False)


def test_class_names_are_read_only_and_ignore_overrides(make_node):
    node = make_node([('class_names', ['from', 'yaml'])])
    P.declare_class_names(node, ['road', 'car', 'person'])
    assert node.get_parameter('class_names').value == ['road', 'car', 'person']
    result = node.set_parameters([Parameter('class_names', value=['x'])])[0]
    assert not result.successful and 'read-only' in result.reason


def test_qos_profiles():
    best = input_qos('best_effort', 1)
    assert best.reliability == ReliabilityPolicy.BEST_EFFORT and best.depth == 1
    reliable = input_qos('reliable', 4)
    assert reliable.reliability == ReliabilityPolicy.RELIABLE and reliable.depth == 4
    out = output_qos(3)
    assert out.reliability == ReliabilityPolicy.RELIABLE and out.depth == 3
    assert latched_qos().durability == DurabilityPolicy.TRANSIENT_LOCAL
    with pytest.raises(ConfigError, match='input_reliability'):
        input_qos('sometimes', 1)
    with pytest.raises(ConfigError, match='output_depth'):
        output_qos(0)


def test_shipped_yaml_lists_every_parameter_with_a_comment():
    with open(YAML_PATH) as stream:
        text = stream.read()
    values = yaml.safe_load(text)['/**']['ros__parameters']
    declared = [n for n in P.parameter_names() if n != 'class_names']
    assert list(values) == declared
    lines = text.splitlines()
    for name in declared:
        index = next(i for i, line in enumerate(lines) if re.match(rf'\s+{name}:', line))
        assert '#' in lines[index] or lines[index - 1].strip().startswith('#'), name
    assert re.search(r'#.*class_names', text)


def test_shipped_yaml_loads_through_ros_args_as_the_defaults(make_node):
    node = make_node(cli_args=['--ros-args', '--params-file', YAML_PATH])
    assert P.declare_parameters(node) == P.NodeParams()
