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

"""A rejected parameter or a failing transition never breaks the lifecycle node silently.

In process (a private context, no executor): the node is built with overrides rclpy
rejects, its transitions are triggered directly and the enable service callback is called.
"""

import itertools

from dinov3_seg_ros.ros import lifecycle_node as lifecycle_module
from dinov3_seg_ros.ros import runtime as runtime_module
from dinov3_seg_ros.ros.params import SPECS
import pytest
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from std_srvs.srv import SetBool

pytestmark = pytest.mark.ros

MODEL = [('backbone', 'vits16'), ('device', 'cpu'), ('warmup', 0), ('input_size', 64),
         ('backend', 'torch')]
_ns = itertools.count()


@pytest.fixture
def make_node(context, monkeypatch):
    nodes = []
    lines = []

    def make(overrides):
        node = lifecycle_module.SegmentationLifecycleNode(
            context=context, namespace=f'/lcf{next(_ns)}',
            parameter_overrides=[Parameter(k, value=v) for k, v in overrides])
        monkeypatch.setattr(node, 'get_logger', lambda: Lines(lines))
        nodes.append(node)
        return node
    yield make, lines
    for node in nodes:
        node.destroy_node()


class Lines:
    def __init__(self, lines):
        self.lines = lines

    def error(self, text, **_):
        self.lines.append(('ERROR', text))

    def warning(self, text, **_):
        self.lines.append(('WARN', text))

    def info(self, text, **_):
        self.lines.append(('INFO', text))


def test_a_rejected_value_is_reported_and_the_rest_still_declared(make_node, capfd,
                                                                  monkeypatch):
    make, lines = make_node
    node = make(MODEL + [('warmup', 500), ('overlay_alpha', 1), ('enabled', True)])
    printed = capfd.readouterr().err
    assert 'invalid parameters' in printed and 'warmup' in printed and '500' in printed
    assert "overlay_alpha' to '1'" in printed and '(default 0.5)' in printed
    for spec in SPECS:
        assert node.has_parameter(spec.name), spec.name
    assert node.get_parameter('warmup').value == 1  # the default is kept
    assert node.get_parameter('backbone').value == 'vits16'  # declared after the rejection

    response = node._on_enable(SetBool.Request(data=False), SetBool.Response())
    assert response.success, response.message
    assert node.get_parameter('enabled').value is False

    def no_model(config):
        assert config.warmup == 1 and config.backbone == 'vits16'
        raise PermissionError(13, 'Permission denied', '/opt/cache/engine')
    monkeypatch.setattr(runtime_module, 'Segmenter', no_model)
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    errors = [text for level, text in lines if level == 'ERROR']
    assert errors == ["configure failed: PermissionError: [Errno 13] Permission denied: "
                      "'/opt/cache/engine'"], lines
    assert any('rejected parameters at their defaults' in text and 'warmup' in text
               for level, text in lines if level == 'WARN')
    assert node.runtime is None and node.params is None


def test_an_exception_in_activate_fails_the_transition_with_the_reason(make_node):
    make, lines = make_node
    node = make(MODEL)

    class BusyRuntime:  # what SegmentationRuntime.activate raises beside a busy worker
        def activate(self):
            raise RuntimeError('the previous segmentation worker is still running')
    node.runtime = BusyRuntime()
    assert node.on_activate(None) == TransitionCallbackReturn.FAILURE
    assert ('ERROR', 'activate failed: RuntimeError: the previous segmentation worker is '
            'still running') in lines
    node.runtime = None
