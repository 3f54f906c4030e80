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

"""The Segmenter facade end to end: seed-0 Meta backbone + upstream head, random weights,
bad weights and configuration, several heads, and the onnxruntime branch."""

import json
import logging
import os
import shutil

import numpy as np
import pytest
import torch

from dinov3_seg_ros.core.checkpoint import DEFAULT_CLASSES_FILE, HeadCheckpoint
from dinov3_seg_ros.core.checkpoint import load_head_checkpoint, read_class_names
from dinov3_seg_ros.core.checkpoint import save_head_checkpoint
from dinov3_seg_ros.core.config import InputSize, ModelConfig
from dinov3_seg_ros.core import precision
from dinov3_seg_ros.core.device import autocast, select_device, select_dtype
from dinov3_seg_ros.core.errors import CheckpointError, ConfigError, ImageError
from dinov3_seg_ros.core.heads import build_head, HeadConfig
from dinov3_seg_ros.core.overlay import BANNER_COLOR, colorize
from dinov3_seg_ros.core.postprocess import labels_from_logits
from dinov3_seg_ros.core.preprocess import Preprocessor
from dinov3_seg_ros.core.backends.base import head_names_for
from dinov3_seg_ros.core.segmenter import Segmenter, warmup_frame_size

STAGES = {'preprocess', 'backbone', 'head', 'postprocess', 'overlay', 'total'}


def config(**kwargs):
    kwargs.setdefault('device', 'cpu')
    kwargs.setdefault('backend', 'torch')
    kwargs.setdefault('warmup', 0)
    return ModelConfig(**kwargs)


@pytest.fixture(scope='module')
def reference_segmenter(meta_vits16plus_pth, upstream_head_reference, tmp_path_factory):
    """Seed-0 vits16plus + the upstream head twice (second copy named 'second')."""
    second = tmp_path_factory.mktemp('heads') / 'second.pth'
    shutil.copy(upstream_head_reference[1], second)
    return Segmenter(config(backbone='vits16plus', backbone_weights=meta_vits16plus_pth,
                            head_weights=(upstream_head_reference[1], str(second)),
                            classes_file=DEFAULT_CLASSES_FILE, input_size='native'))


def _is_banner(image):
    return (image[0] == BANNER_COLOR).all(axis=-1).mean() > 0.9


def test_attributes_follow_the_contract(reference_segmenter):
    seg = reference_segmenter
    assert seg.device == 'cpu' and seg.backend == 'torch' and seg.backbone_name == 'vits16plus'
    assert seg.class_names == read_class_names(DEFAULT_CLASSES_FILE)
    assert seg.num_classes == 134 and seg.label_dtype is np.uint8
    assert seg.head_names == ['model', 'second'] and not seg.untrained


def test_end_to_end_on_a_photo(reference_segmenter, photos):
    seg = reference_segmenter
    rgb = photos['chelsea'][::2, ::2]  # 150x226: a strided view, not multiples of 16
    result = seg(rgb, overlay=True, colored=True, confidence=True)
    assert result.labels.shape == (150, 226) and result.labels.dtype == np.uint8
    assert result.overlay.shape == (150, 226, 3) and result.overlay.dtype == np.uint8
    assert np.array_equal(result.colored, colorize(result.labels, seg.palette))
    assert result.confidence.shape == (150, 226) and 0 < result.confidence.min() <= 1
    assert set(result.timings_ms) == STAGES and result.timings_ms['total'] > 0
    assert not _is_banner(result.overlay)
    # the facade's pieces compose to the same labels
    features, info = seg.features(rgb)
    assert features.shape == (1, 384, 9, 14) and features.dtype == torch.float32
    logits = seg.head_logits(features)
    assert [lg.shape for lg in logits] == [(1, 134, 9, 14)] * 2
    assert np.array_equal(result.labels, labels_from_logits(logits[0], 150, 226))
    # the second head is the same file: same labels under its own name
    assert list(result.extra_labels) == ['second']
    assert np.array_equal(result.extra_labels['second'], result.labels)
    plain = seg(rgb)
    assert plain.overlay is None and plain.colored is None and plain.confidence is None
    assert np.array_equal(plain.labels, result.labels)


def test_features_equal_the_meta_reference(reference_segmenter, dinov3_reference):
    data, _ = dinov3_reference
    features, info = reference_segmenter.features(data['image_224x224'])
    assert not info.resized
    expected = torch.from_numpy(data['features_224x224'])
    assert (features - expected).abs().max().item() <= 1e-5


def test_head_logits_equal_the_unfused_upstream_head(reference_segmenter,
                                                     upstream_head_reference):
    data, path = upstream_head_reference
    features = torch.from_numpy(data['features'])
    (logits, _) = reference_segmenter.head_logits(features)
    expected = torch.from_numpy(data['logits_40x40'])
    assert (logits - expected).abs().max().item() <= 1e-4  # BatchNorm fused into the convs
    with torch.inference_mode():
        unfused = load_head_checkpoint(path).build()(features)
    assert (logits - unfused).abs().max().item() <= 1e-4


@pytest.mark.parametrize('bad', [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8),
                                 np.zeros((8, 8, 3), np.float64), np.zeros((0, 8, 3), np.uint8)])
def test_malformed_frames_raise_image_error(reference_segmenter, bad):
    with pytest.raises(ImageError):
        reference_segmenter(bad)


def test_random_weights_are_marked_untrained(tmp_path):
    seg = Segmenter(config(backbone='vits16', input_size='64'))
    assert seg.untrained and seg.class_names == read_class_names(DEFAULT_CLASSES_FILE)
    result = seg(np.full((48, 64, 3), 100, np.uint8), overlay=True)
    assert _is_banner(result.overlay) and result.labels.shape == (48, 64)
    names = tmp_path / 'classes.txt'
    names.write_text('\n'.join(f'thing{i}' for i in range(300)) + '\n')
    wide = Segmenter(config(backbone='vits16', input_size='32', classes_file=str(names)))
    assert wide.num_classes == 300 and wide.label_dtype is np.uint16
    assert wide(np.zeros((20, 30, 3), np.uint8)).labels.dtype == np.uint16


def test_head_of_another_width_is_rejected(tmp_path):
    path = tmp_path / 'wide_head.pth'
    torch.save(build_head(HeadConfig(in_channels=768, num_classes=5)).state_dict(), path)
    with pytest.raises(CheckpointError, match='768.*vits16plus.*384'):
        Segmenter(config(backbone='vits16plus', head_weights=(str(path),)))


def test_head_trained_on_another_backbone_is_rejected(tmp_path):
    head = HeadConfig(in_channels=384, num_classes=3)
    path = tmp_path / 'vits16_head.pth'
    save_head_checkpoint(str(path), HeadCheckpoint(build_head(head).state_dict(), head,
                                                   ['a', 'b', 'c'], backbone='vits16'))
    with pytest.raises(CheckpointError, match='vits16 features'):
        Segmenter(config(backbone='vits16plus', head_weights=(str(path),)))


def test_classes_file_of_the_wrong_length_is_rejected(upstream_head_reference, tmp_path):
    names = tmp_path / 'classes.txt'
    names.write_text('a\nb\nc\n')
    with pytest.raises(CheckpointError, match='3 class names'):
        Segmenter(config(head_weights=(upstream_head_reference[1],),
                         classes_file=str(names)))


@pytest.mark.skipif(torch.cuda.is_available(), reason='this machine has CUDA')
def test_cuda_without_cuda_is_a_config_error():
    with pytest.raises(ConfigError, match='cuda'):
        Segmenter(config(device='cuda'))
    with pytest.raises(ConfigError):
        select_device('cuda:0')


def test_device_and_dtype_choice():
    cpu = torch.device('cpu')
    assert select_device('cpu') == cpu
    assert select_device('auto').type == ('cuda' if torch.cuda.is_available() else 'cpu')
    native = precision.cpu_has_native_bf16()  # auto follows the CPU (test_core_precision)
    assert select_dtype('auto', cpu) == (torch.bfloat16 if native else torch.float32)
    assert select_dtype('float16', cpu) == torch.float32  # not on the CPU
    assert select_dtype('bfloat16', cpu) == torch.bfloat16
    bf16_gpu = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    assert select_dtype('auto', torch.device('cuda')) == (torch.bfloat16 if bf16_gpu
                                                          else torch.float16)
    with autocast(cpu, torch.bfloat16):
        assert torch.get_autocast_dtype('cpu') == torch.bfloat16
    with pytest.raises(ConfigError, match='device'):
        select_device('tpu')


def _can_compile():
    dynamo = getattr(torch, '_dynamo', None)
    compiler = os.environ.get('CXX') or shutil.which('c++') or shutil.which('g++')
    return dynamo is not None and dynamo.is_dynamo_supported() and bool(compiler)


@pytest.mark.skipif(not _can_compile(), reason='torch.compile or a C++ compiler unavailable')
def test_compiled_backbone_gives_the_eager_labels():
    rgb = np.random.default_rng(1).integers(0, 256, (24, 32, 3), np.uint8)
    eager = Segmenter(config(backbone='vits16', input_size='32'))
    compiled = Segmenter(config(backbone='vits16', input_size='32', compile=True))
    try:  # a compiler is present: compiling (about 30 s cold on 2 cores) must work
        assert compiled.compiled and compiled.compile_seconds > 0
        assert compiled.engine.backbone.spec.name == 'vits16'  # still the backbone object
        features, _ = compiled.features(rgb)
        assert torch.allclose(features, eager.features(rgb)[0], atol=1e-4)
        assert np.array_equal(compiled(rgb).labels, eager(rgb).labels)
    finally:
        torch._dynamo.reset()


def _compile_raises(fn):
    raise RuntimeError('no C++ compiler\nlong compiler log')


def _compiled_call_raises(fn):
    def compiled(*args):
        raise RuntimeError('BackendCompilerFailed: inductor')
    return compiled


@pytest.mark.parametrize('fake_compile', [_compile_raises, _compiled_call_raises])
def test_compile_failure_falls_back_to_eager(monkeypatch, caplog, fake_compile):
    monkeypatch.setattr(torch, 'compile', fake_compile)
    rgb = np.random.default_rng(2).integers(0, 256, (24, 32, 3), np.uint8)
    with caplog.at_level(logging.WARNING, logger='dinov3_seg_ros.core.compiled_forward'):
        seg = Segmenter(config(backbone='vits16', input_size='32', compile=True, warmup=1))
    warnings = [r for r in caplog.records if r.name.endswith('compiled_forward')]
    assert len(warnings) == 1 and 'running the backbone eagerly' in warnings[0].getMessage()
    assert 'long compiler log' not in warnings[0].getMessage()
    assert not seg.compiled and seg.compile_seconds is None
    assert 'forward' not in vars(seg.engine.backbone)  # the class's eager forward again
    eager = Segmenter(config(backbone='vits16', input_size='32'))
    assert np.array_equal(seg(rgb).labels, eager(rgb).labels)
    with pytest.raises(ConfigError, match='compile'):
        config(compile='yes')


def test_helpers():
    assert head_names_for([]) == ['head0']
    assert head_names_for(['a/model.pth', 'b/model.pth', 'x.pt']) == ['model', 'model_1', 'x']
    assert warmup_frame_size(InputSize.parse('640')) == (480, 640)
    assert warmup_frame_size(InputSize.parse('320x200')) == (200, 320)


def _toy_onnx(path, num_classes=4, kind='fused'):
    """A fused-contract ONNX model: 16x16 average pooling then a 1x1 conv to K logits."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    weight = np.random.default_rng(3).standard_normal((num_classes, 3, 1, 1)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node('AveragePool', ['image'], ['pooled'], kernel_shape=[16, 16],
                          strides=[16, 16]),
         helper.make_node('Conv', ['pooled', 'w'], ['logits'])], 'toy',
        [helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, 'H', 'W'])],
        [helper.make_tensor_value_info('logits', TensorProto.FLOAT, [1, num_classes, 'h', 'w'])],
        [numpy_helper.from_array(weight, 'w')])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    meta = {'version': 1, 'kind': kind, 'backbone': 'vits16', 'untrained': False,
            'head_names': ['toy'], 'class_names': [[f'c{i}' for i in range(num_classes)]],
            'num_classes': [num_classes], 'mean': [0.5, 0.4, 0.3], 'std': [0.2, 0.25, 0.3],
            'input_size': '64', 'dynamic': True, 'export_size': [48, 64], 'patch_size': 16}
    entry = model.metadata_props.add()
    entry.key, entry.value = 'dinov3_seg_ros', json.dumps(meta)
    onnx.save(model, str(path))
    return weight, meta


def test_onnxruntime_backend_uses_the_model_metadata(tmp_path, photos):
    pytest.importorskip('onnxruntime')
    path = tmp_path / 'toy.onnx'
    weight, meta = _toy_onnx(path)
    seg = Segmenter(config(backend='onnxruntime', onnx_model=str(path), input_size='128'))
    assert seg.backend == 'onnxruntime' and seg.device == 'cpu' and not seg.untrained
    assert seg.class_names == meta['class_names'][0] and seg.head_names == ['toy']
    assert seg.mean == tuple(meta['mean'])
    rgb = photos['coffee'][::3, ::3]
    result = seg(rgb, overlay=True)
    assert set(result.timings_ms) == STAGES
    x, info = Preprocessor('128', meta['mean'], meta['std']).to_numpy(rgb)
    logits = torch.nn.functional.conv2d(
        torch.nn.functional.avg_pool2d(torch.from_numpy(x), 16), torch.from_numpy(weight))
    expected = labels_from_logits(logits, *rgb.shape[:2])
    assert (result.labels == expected).mean() >= 0.999
    assert result.overlay.shape == rgb.shape
    with pytest.raises(ConfigError, match='torch backend'):
        seg.features(rgb)


def test_onnxruntime_classes_file_and_kind_checks(tmp_path):
    pytest.importorskip('onnxruntime')
    path = tmp_path / 'toy.onnx'
    _toy_onnx(path)
    names = tmp_path / 'names.txt'
    names.write_text('w\nx\ny\nz\n')
    seg = Segmenter(config(backend='onnxruntime', onnx_model=str(path),
                           classes_file=str(names)))
    assert seg.class_names == ['w', 'x', 'y', 'z']
    names.write_text('w\nx\n')
    with pytest.raises(CheckpointError, match='2 class names'):
        Segmenter(config(backend='onnxruntime', onnx_model=str(path),
                         classes_file=str(names)))
    _toy_onnx(path, kind='head')
    with pytest.raises(ConfigError, match='head-only'):
        Segmenter(config(backend='onnxruntime', onnx_model=str(path)))
