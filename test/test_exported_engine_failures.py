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

"""Exported engines: fixed-shape batches split, dtype honoured or said.

A static (fixed 32x48, N=1) fused export of a random vits16 + 4-class head; segment_batch of
several frames on onnxruntime and OpenVINO gives each frame the labels a single call gives,
and the node's runtime with two cameras publishes both (no failed batch first). ONNX Runtime
turns TensorRT fp16 off for dtype float32 and warns when bfloat16/float16 cannot be honoured.
"""

import itertools
import logging

from dinov3_seg_ros.core.backbone import build_backbone
from dinov3_seg_ros.core.checkpoint import HeadCheckpoint
from dinov3_seg_ros.core.config import ModelConfig
from dinov3_seg_ros.core.export import onnx as onnx_export
from dinov3_seg_ros.core.backends import onnxruntime as ort_module
from dinov3_seg_ros.core.heads import ASPPHead, HeadConfig
from dinov3_seg_ros.core.segmenter import Segmenter
import numpy as np
import pytest
import torch

pytest.importorskip('onnxruntime')


@pytest.fixture(scope='module')
def static_model(tmp_path_factory):
    torch.manual_seed(0)
    backbone = build_backbone('vits16')
    config = HeadConfig(num_classes=4, proj_channels=32, branch_channels=16)
    head = HeadCheckpoint(ASPPHead(config).state_dict(), config, ['a', 'b', 'c', 'd'])
    path = str(tmp_path_factory.mktemp('static') / 'static.onnx')
    result = onnx_export.export_fused(backbone, [head], path, size=(32, 48), input_size='48x32',
                                      exporter='legacy', dynamic=False)
    assert not result.dynamic
    return path


def frames():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (32 + 8 * i, 48, 3), np.uint8) for i in range(3)]


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_segment_batch_splits_for_a_fixed_shape_engine(static_model, backend):
    if backend == 'openvino':
        pytest.importorskip('openvino')
    seg = Segmenter(ModelConfig(backend=backend, onnx_model=static_model, device='cpu',
                                warmup=0))
    assert seg.max_batch == 1 and seg.info.fixed_size == (32, 48)
    images = frames()
    results = seg.segment_batch(images)  # raised 'expects [1, 3, 32, 48], got [3, ...]'
    assert len(results) == 3
    for rgb, result in zip(images, results):
        assert result.labels.shape == rgb.shape[:2] and result.timings_ms['batch'] == 1
        np.testing.assert_array_equal(result.labels, seg(rgb).labels)


@pytest.mark.ros
def test_two_cameras_and_a_fixed_shape_model_both_get_labels(static_model):
    import rclpy
    from rclpy.node import Node
    from dinov3_seg_ros.ros import image_codec as codec
    from dinov3_seg_ros.ros.params import NodeParams
    from dinov3_seg_ros.ros.runtime import SegmentationRuntime
    from std_msgs.msg import Header

    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node(f'fixed_shape_{next(itertools.count())}', context=context)
    params = NodeParams(backend='onnxruntime', onnx_model=static_model, device='cpu',
                        warmup=0, cameras=('front', 'rear'))
    runtime = SegmentationRuntime(node, lambda: params)
    try:
        assert "the model takes 1 frame(s) per call: the 2 cameras' frames run in 2 calls" in (
            runtime.describe())
        seen = {}
        for name, channel in runtime.channels.items():
            channel.outputs.publish = (lambda result, header, encoding, name=name:
                                       seen.setdefault(name, result.labels.shape))
        batch = {name: codec.rgb_to_image(rgb, 'rgb8', Header())
                 for name, rgb in zip(('front', 'rear'), frames())}
        runtime._process(batch, runtime.segmenter)
        assert seen == {'front': (32, 48), 'rear': (40, 48)}
        assert not runtime._batch_failure_said  # no failed batch call before the split
        statuses = runtime.diagnostic_statuses()
        assert all({kv.key: kv.value for kv in s.values}['failed_total'] == '0'
                   for s in statuses)
    finally:
        runtime.destroy()
        node.destroy_node()
        rclpy.try_shutdown(context=context)


@pytest.mark.parametrize('dtype,fp16,warned', [('float32', False, False),
                                               ('auto', True, False),
                                               ('bfloat16', False, True),
                                               ('float16', True, True)])
def test_onnxruntime_honours_dtype_or_says_why_not(static_model, monkeypatch, caplog,
                                                   dtype, fp16, warned):
    asked = []
    real = ort_module.open_session
    monkeypatch.setattr(ort_module, 'open_session',
                        lambda *a, **k: asked.append(k['fp16']) or real(*a, **k))
    with caplog.at_level(logging.WARNING, logger='dinov3_seg_ros.core.backends.onnxruntime'):
        backend = ort_module.OnnxRuntimeBackend.from_config(ModelConfig(
            backend='onnxruntime', onnx_model=static_model, device='cpu', dtype=dtype))
    assert asked == [fp16]  # TensorRT fp16 only where dtype allows it
    assert backend.info.precision == 'float32'  # no TensorRT here: ORT runs float32
    said = [r.getMessage() for r in caplog.records if 'dtype' in r.getMessage()]
    assert bool(said) == warned, said
    if warned:
        assert f'{dtype} requested' in said[0] and f'{dtype} requested' in (
            backend.info.precision_reason)


def test_a_fixed_size_model_replacing_input_size_is_said(static_model, caplog):
    logger = 'dinov3_seg_ros.core.input_size_choice'
    with caplog.at_level(logging.WARNING, logger=logger):
        Segmenter(ModelConfig(backend='onnxruntime', onnx_model=static_model, device='cpu',
                              warmup=0, input_size=''))  # not given: nothing to say
        assert not [r for r in caplog.records if r.name == logger]
        seg = Segmenter(ModelConfig(backend='onnxruntime', onnx_model=static_model,
                                    device='cpu', warmup=0, input_size='640'))
    said = [r.getMessage() for r in caplog.records if r.name == logger]
    assert str(seg.input_size) == '48x32'
    assert len(said) == 1 and 'input_size 640 is ignored' in said[0] and '48x32' in said[0]
