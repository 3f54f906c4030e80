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

"""Failures a robot must never hide, in the node's runtime (in process, no subprocess).

A SegmentationRuntime on a real node (private context) with two cameras and a tiny real
model (vits16, input 64); frames go straight into its worker step. Checked: a failing
model is counted per camera in /diagnostics (ERROR with the last reason, then WARN, then OK
again), one camera's failure never costs the other its labels, a bad stamp is harmless,
log lines name the camera and are throttled per camera, and there is never a second worker.
"""

import itertools
import threading
import weakref

from diagnostic_msgs.msg import DiagnosticStatus
from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.core.segmenter import Segmenter
from dinov3_seg_ros.ros import image_codec as codec
from dinov3_seg_ros.ros import runtime as runtime_module
from dinov3_seg_ros.ros import worker_thread
from dinov3_seg_ros.ros.outputs import CameraOutputs, label_info_topics
from dinov3_seg_ros.ros.params import NodeParams
import numpy as np
import pytest
from rclpy.node import Node
from std_msgs.msg import Header

pytestmark = pytest.mark.ros

PARAMS = NodeParams(backbone='vits16', device='cpu', warmup=0, input_size='64',
                    backend='torch', cameras=('front', 'rear'))
_names = itertools.count()


@pytest.fixture(scope='module')
def segmenter():
    return Segmenter(PARAMS.model_config())


class Lines:
    """A logger that keeps its lines (level, text) and forwards nothing."""

    def __init__(self):
        self.lines = []

    def _add(self, level, text, **_):
        self.lines.append((level, text))

    def error(self, text, **kw):
        self._add('ERROR', text, **kw)

    def warning(self, text, **kw):
        self._add('WARN', text, **kw)

    def info(self, text, **kw):
        self._add('INFO', text, **kw)


@pytest.fixture
def make_runtime(context, segmenter, monkeypatch):
    made = []
    monkeypatch.setattr(runtime_module, 'Segmenter', lambda config: segmenter)

    def make(params=PARAMS):
        node = Node(f'failures_test_{next(_names)}', context=context)
        lines = Lines()
        monkeypatch.setattr(node, 'get_logger', lambda: lines)
        runtime = runtime_module.SegmentationRuntime(node, lambda: params)
        made.append((node, runtime))
        return runtime, lines
    yield make
    for node, runtime in made:
        runtime.destroy()
        node.destroy_node()


def frame(sec=5, width=64, height=48):
    rgb = np.random.default_rng(sec & 0xff).integers(0, 255, (height, width, 3), np.uint8)
    header = Header(frame_id='cam')
    header.stamp.sec, header.stamp.nanosec = sec, 7
    return codec.rgb_to_image(rgb, 'rgb8', header)


def by_camera(runtime):
    out = {}
    for status in runtime.diagnostic_statuses():
        values = {kv.key: kv.value for kv in status.values}
        out[values['camera']] = (status.level, status.message, values)
    return out


def published(runtime):
    """Record every camera's published labels (the real publish still runs)."""
    seen = {name: [] for name in runtime.channels}
    for name, channel in runtime.channels.items():
        real = channel.outputs.publish

        def spy(result, header, encoding, real=real, name=name):
            real(result, header, encoding)
            seen[name].append(header.stamp.sec)
        channel.outputs.publish = spy
    return seen


def test_a_failing_model_is_counted_per_camera_with_the_reason(make_runtime, segmenter,
                                                               monkeypatch):
    runtime, lines = make_runtime()
    runtime.activate()  # diagnostics report 'enabled' only while active
    seen = published(runtime)
    real_call, real_batch = Segmenter.__call__, Segmenter.segment_batch

    def broken(self, *args, **kwargs):
        raise RuntimeError('CUDA error: an illegal memory access was encountered')
    monkeypatch.setattr(Segmenter, '__call__', broken)
    monkeypatch.setattr(Segmenter, 'segment_batch', broken)
    for sec in (1, 2, 3):
        runtime._process({'front': frame(sec), 'rear': frame(sec)}, segmenter)
    status = by_camera(runtime)
    assert seen == {'front': [], 'rear': []}
    for camera in ('front', 'rear'):
        level, message, values = status[camera]
        assert level == DiagnosticStatus.ERROR, message
        assert '3 frame(s) failed' in message
        assert (values['failed'], values['failed_total']) == ('3', '3')
        assert 'illegal memory access' in values['last_failure'] in message
        assert int(values['nonfinite_logit_maps_total']) >= 0
    errors = [text for level, text in lines.lines if level == 'ERROR']
    assert len(errors) == 2, errors  # throttled per camera: one line each
    assert any("camera 'front' (/front/image)" in e for e in errors)
    assert any("camera 'rear' (/rear/image)" in e for e in errors)

    monkeypatch.setattr(Segmenter, '__call__', real_call)
    monkeypatch.setattr(Segmenter, 'segment_batch', real_batch)
    runtime._process({'front': frame(4), 'rear': frame(4)}, segmenter)
    assert seen == {'front': [4], 'rear': [4]}
    level, message, values = by_camera(runtime)['front']
    assert level == DiagnosticStatus.WARN and values['failed'] == '0'  # recovered
    assert '0 frame(s) failed' not in message and 'illegal memory' not in message
    assert values['failed_total'] == '3' and values['frames_out_total'] == '1'


def test_one_cameras_failure_never_costs_the_other_its_labels(make_runtime, segmenter):
    runtime, lines = make_runtime()
    seen = published(runtime)
    bad = frame(-1)  # a negative stamp: Time.from_msg raises on it
    runtime._process({'front': bad, 'rear': frame(9)}, segmenter)
    assert seen == {'front': [-1], 'rear': [9]}
    front = runtime.channels['front']

    def broken_publish(result, header, encoding):
        raise ValueError('publisher gone')
    front.outputs.publish = broken_publish
    runtime._process({'front': frame(10), 'rear': frame(10)}, segmenter)
    assert seen['rear'] == [9, 10]
    status = by_camera(runtime)
    assert status['front'][2]['failed_total'] == '1'
    assert 'publish: ValueError: publisher gone' == status['front'][2]['last_failure']
    assert status['rear'][2]['failed_total'] == '0'
    assert status['rear'][2]['frames_out_total'] == '2'
    assert [t for lv, t in lines.lines if lv == 'ERROR'] == [
        "camera 'front' (/front/image): frame failed in publish: ValueError: publisher gone"]


def test_a_batch_the_model_cannot_run_falls_back_to_single_frames(make_runtime, segmenter,
                                                                  monkeypatch):
    runtime, lines = make_runtime()
    seen = published(runtime)

    def fixed_shape(self, frames, **kwargs):
        raise RuntimeError('expects [1, 3, 48, 64], got [2, 3, 48, 64]')
    monkeypatch.setattr(Segmenter, 'segment_batch', fixed_shape)
    for sec in (1, 2):
        runtime._process({'front': frame(sec), 'rear': frame(sec)}, segmenter)
    assert seen == {'front': [1, 2], 'rear': [1, 2]}
    warnings = [t for lv, t in lines.lines if lv == 'WARN']
    assert len(warnings) == 1 and 'one by one' in warnings[0], warnings


def test_never_two_workers_and_never_free_a_model_in_use(make_runtime, segmenter,
                                                         monkeypatch):
    monkeypatch.setattr(worker_thread, 'JOIN_TIMEOUT_S', 0.2)
    runtime, lines = make_runtime(NodeParams(backbone='vits16', device='cpu', warmup=0,
                                             input_size='64', backend='torch'))
    inside, release = threading.Event(), threading.Event()
    real_call = Segmenter.__call__
    calls = []

    def slow(self, rgb, **kwargs):
        calls.append(threading.current_thread().ident)
        inside.set()
        assert release.wait(30)
        return real_call(self, rgb, **kwargs)
    monkeypatch.setattr(Segmenter, '__call__', slow)
    runtime.activate()
    runtime._on_image(runtime.channels[''], frame(1))
    assert inside.wait(30)
    runtime.deactivate()  # the worker is inside inference past the join timeout
    assert runtime._worker.busy
    assert any('still inside inference' in t for lv, t in lines.lines if lv == 'WARN')
    with pytest.raises(RuntimeError, match='still running'):
        runtime.activate()
    assert not runtime.active and len(calls) == 1
    model = weakref.ref(runtime.segmenter)
    runtime.destroy()  # frees the runtime's reference only
    assert model() is not None  # the worker still holds the model it is using
    release.set()
    assert runtime._worker.join(30)
    assert len(calls) == 1


def test_two_heads_never_share_a_topic(context, make_runtime, segmenter, monkeypatch):
    heads = ['main', 'my-head', 'my_head']
    node = Node(f'failures_test_{next(_names)}', context=context)
    try:
        with pytest.raises(ConfigError, match="'my-head' and 'my_head' would share the "
                                              'topics segmentation/heads/my_head/'):
            CameraOutputs(node, 'front/', heads, 2)
        with pytest.raises(ConfigError, match='would share'):
            label_info_topics(heads)
        assert len(set(label_info_topics(['main', 'my-head', 'other']))) == 4
    finally:
        node.destroy_node()
    monkeypatch.setattr(Segmenter, 'head_names', property(lambda self: heads))
    with pytest.raises(ConfigError, match='rename one of the head files'):
        make_runtime()  # the node does not start (configure fails) with that line


def test_a_diagnostics_error_never_ends_the_node(make_runtime, monkeypatch):
    runtime, lines = make_runtime()

    def broken():
        raise KeyError('device')
    monkeypatch.setattr(runtime, 'diagnostic_statuses', broken)
    runtime._publish_diagnostics()  # a timer callback: raising here would end spin()
    assert [t for lv, t in lines.lines if lv == 'ERROR'] == [
        "diagnostics failed: KeyError: 'device'"]
