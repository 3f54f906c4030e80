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

"""Backends behind one interface: OpenVINO parity, 'auto' selection, batches, torch-free."""

import json
import math
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from dinov3_seg_ros.core.backbone import build_backbone
from dinov3_seg_ros.core.backends import selection
from dinov3_seg_ros.core.backends.torch_backend import random_head
from dinov3_seg_ros.core.checkpoint import load_head_checkpoint, save_head_checkpoint
from dinov3_seg_ros.core.config import ModelConfig
from dinov3_seg_ros.core.errors import CheckpointError, ConfigError
from dinov3_seg_ros.core.export.onnx import export_fused
from dinov3_seg_ros.core.export.metadata import read_metadata
from dinov3_seg_ros.core.segmenter import Segmenter

ov = pytest.importorskip('openvino')
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def config(**kwargs):
    kwargs.setdefault('device', 'cpu')
    kwargs.setdefault('warmup', 0)
    kwargs.setdefault('backbone', 'vits16')
    kwargs.setdefault('input_size', '128')
    kwargs.setdefault('dtype', 'float32')
    return ModelConfig(**kwargs)


@pytest.fixture(scope='module')
def lively(tmp_path_factory):
    """A seed-0 random 6-class vits16 head with He-scaled convolutions (labels vary)."""
    checkpoint = random_head(384, [f'class{i}' for i in range(6)])
    for value in checkpoint.state_dict.values():
        if value.ndim == 4:
            value.mul_(math.sqrt(2.0 / value[0].numel()) / 0.02)
    checkpoint.metadata = {}
    path = str(tmp_path_factory.mktemp('lively') / 'lively.pth')
    save_head_checkpoint(path, checkpoint)
    return path


@pytest.fixture(scope='module')
def fused(lively, tmp_path_factory):
    """The seed-0 vits16 + lively head as one dynamic fused .onnx (exported once)."""
    path = str(tmp_path_factory.mktemp('fused') / 'fused.onnx')
    backbone = build_backbone('vits16', '', seed=0)
    export_fused(backbone, [load_head_checkpoint(lively)], path, head_names=['lively'],
                 size=(96, 128), input_size='128')
    return path


@pytest.fixture(scope='module')
def frames(photos):
    """Three frames of two model input sizes (96x128 twice, 128x96 once at long side 128)."""
    return [cv2.resize(photos['astronaut'], (160, 120), interpolation=cv2.INTER_AREA),
            cv2.resize(photos['coffee'], (96, 128), interpolation=cv2.INTER_AREA),
            cv2.resize(photos['chelsea'], (200, 150), interpolation=cv2.INTER_AREA)]


def test_openvino_matches_torch_float32(fused, lively, photos):
    torch_seg = Segmenter(config(backend='torch', head_weights=(lively,)))
    ov_seg = Segmenter(config(backend='openvino', onnx_model=fused))
    assert ov_seg.backend == 'openvino' and ov_seg.precision == 'float32'
    assert ov_seg.class_names == torch_seg.class_names and ov_seg.head_names == ['lively']
    assert ov_seg.mean == torch_seg.mean and ov_seg.backbone_name == 'vits16'
    rgb = photos['coffee']
    expected, got = torch_seg(rgb).labels, ov_seg(rgb, overlay=True)
    assert len(np.unique(expected)) > 1  # a head with one class would make this trivial
    assert got.labels.shape == rgb.shape[:2] and got.overlay.shape == rgb.shape
    assert (got.labels == expected).mean() >= 0.999


def test_openvino_bfloat16_sets_the_precision_hint(fused, photos):
    from dinov3_seg_ros.core.backends.openvino import resolve_dtype
    seg = Segmenter(config(backend='openvino', onnx_model=fused, dtype='bfloat16'))
    assert seg.precision == resolve_dtype('bfloat16', 'cpu')[0] == 'bfloat16'
    hint = str(seg.engine.compiled.get_property('INFERENCE_PRECISION_HINT'))
    if 'BF16' in ov.Core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES'):
        assert 'bf' in hint.lower()  # ov.Type bfloat16
    assert seg(photos['coffee']).labels.shape == photos['coffee'].shape[:2]


def test_segment_batch_equals_single_frames(lively, frames, monkeypatch):
    seg = Segmenter(config(backend='torch', head_weights=(lively,), input_size='64'))
    calls = []
    engine_call = type(seg.engine).__call__

    def recording(self, x, timer=None):
        calls.append(tuple(x.shape))
        return engine_call(self, x, timer)

    singles = [seg(f).labels for f in frames]
    monkeypatch.setattr(type(seg.engine), '__call__', recording)
    results = seg.segment_batch(frames, colored=True, confidence=True)
    assert sorted(calls) == [(1, 3, 64, 48), (2, 3, 48, 64)]  # one call per input size
    for frame, single, result in zip(frames, singles, results):
        assert result.labels.shape == frame.shape[:2] == result.colored.shape[:2]
        assert result.confidence.shape == frame.shape[:2]
        assert (result.labels == single).mean() >= 0.999
    assert len(np.unique(np.concatenate([s.ravel() for s in singles]))) > 1


def test_openvino_batch_and_ir_metadata(fused, frames, tmp_path):
    meta = read_metadata(fused)
    meta['precision'] = 'int8'  # what the int8 helper writes beside the metadata
    model = ov.Core().read_model(fused)
    model.set_rt_info(json.dumps(meta), ['dinov3_seg_ros', 'metadata'])
    xml = str(tmp_path / 'fused.xml')
    ov.save_model(model, xml)
    seg = Segmenter(config(backend='auto', onnx_model=xml, input_size='64'))
    assert seg.backend == 'openvino' and seg.precision == 'int8'
    assert seg.class_names == meta['class_names'][0]
    results = seg.segment_batch(frames)
    singles = [seg(f).labels for f in frames]
    assert all((r.labels == s).mean() >= 0.999 for r, s in zip(results, singles))


def test_openvino_converts_the_torch_model_in_memory(lively, frames):
    torch_seg = Segmenter(config(backend='torch', head_weights=(lively,), input_size='64'))
    ov_seg = Segmenter(config(backend='openvino', head_weights=(lively,), input_size='64'))
    assert ov_seg.backend == 'openvino' and ov_seg.head_names == ['lively']
    for frame in frames:  # two input sizes: the converted model is dynamic
        expected = torch_seg(frame).labels
        assert (ov_seg(frame).labels == expected).mean() >= 0.999


def test_openvino_rejects_a_model_of_another_backbone(fused):
    with pytest.raises(CheckpointError, match='fused.onnx.*vits16.*vitb16'):
        Segmenter(config(backend='openvino', onnx_model=fused, backbone='vitb16'))


def test_missing_openvino_is_a_config_error(fused, monkeypatch):
    monkeypatch.setitem(sys.modules, 'openvino', None)  # import openvino raises ImportError
    with pytest.raises(ConfigError, match=r'pip install openvino'):
        Segmenter(config(backend='openvino', onnx_model=fused))


def test_auto_rule(monkeypatch):
    present = {'openvino': True, 'onnxruntime': True, 'torch': True}
    monkeypatch.setattr(selection, 'importable', lambda name: present.get(name, False))
    monkeypatch.setattr(selection, 'cuda_usable', lambda device: False)
    auto = ModelConfig(backend='auto', device='cpu')
    assert selection.resolve_backend(auto)[0] == 'openvino'
    assert selection.resolve_backend(ModelConfig(backend='auto', onnx_model='m.onnx'))[0] \
        == 'openvino'
    assert selection.resolve_backend(ModelConfig(backend='auto', onnx_model='m.xml'))[0] \
        == 'openvino'
    present['openvino'] = False
    assert selection.resolve_backend(auto) == ('torch', 'CPU only, openvino not installed')
    assert selection.resolve_backend(ModelConfig(backend='auto', onnx_model='m.onnx'))[0] \
        == 'onnxruntime'
    present['openvino'] = True
    monkeypatch.setattr(selection, 'cuda_usable', lambda device: True)
    assert selection.resolve_backend(auto)[0] == 'torch'
    assert selection.resolve_backend(ModelConfig(backend='openvino'))[0] == 'openvino'


def test_auto_without_openvino_falls_back_to_torch(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, 'openvino', None)
    real = selection.importable
    monkeypatch.setattr(selection, 'importable', lambda name: name != 'openvino' and real(name))
    with caplog.at_level('INFO', logger=selection.__name__):
        seg = Segmenter(config(backend='auto', input_size='32'))
    assert seg.backend == 'torch' and seg.features(np.zeros((32, 32, 3), np.uint8))[0].ndim == 4
    assert 'backend auto: torch' in caplog.text


TORCH_FREE = '''
import sys
import numpy as np
from dinov3_seg_ros.core.config import ModelConfig
from dinov3_seg_ros.core.segmenter import Segmenter
seg = Segmenter(ModelConfig(backend='auto', onnx_model=sys.argv[1], backbone='vits16',
                            device='auto', input_size='64', warmup=1))
assert seg.backend == 'openvino'  # auto decided without torch (cuda_probe)
assert 'libtorch' not in open('/proc/self/maps').read()
frame = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
result = seg(frame, overlay=True, colored=True, confidence=True)
batch = seg.segment_batch([frame, frame[:, :40]])
assert result.labels.shape == (48, 64) and batch[1].labels.shape == (48, 40)
print(sorted(m for m in ('torch', 'torchvision', 'timm') if m in sys.modules))
'''


def test_auto_with_a_model_file_never_imports_torch(fused):
    env = dict(os.environ, PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, '-c', TORCH_FREE, fused], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == '[]'


def test_exported_ir_gives_the_labels_of_its_onnx(fused, frames, tmp_path):
    """dinov3-seg-export --out m.xml: the IR carries the metadata and the same model."""
    from dinov3_seg_ros.core.export.ir import write_ir
    xml = str(tmp_path / 'm.xml')
    assert write_ir(fused, xml)['head_names'] == ['lively']
    assert sorted(os.listdir(tmp_path)) == ['m.bin', 'm.xml']  # no temporary left behind
    from_ir = Segmenter(config(backend='auto', onnx_model=xml))
    from_onnx = Segmenter(config(backend='openvino', onnx_model=fused))
    assert from_ir.backend == 'openvino' and from_ir.head_names == ['lively']
    for frame in frames:
        assert np.array_equal(from_ir(frame).labels, from_onnx(frame).labels)


def test_openvino_drops_the_mapped_ir_weights_after_running(fused, frames, tmp_path):
    """The CPU plugin runs on its repacked copy: the .bin pages leave RSS, labels unchanged."""
    from dinov3_seg_ros.core.export.ir import write_ir
    from test_core_heap import resident_kib
    xml = str(tmp_path / 'm.xml')
    write_ir(fused, xml)
    seg = Segmenter(config(backend='openvino', onnx_model=xml, cache_dir='none'))
    reference = Segmenter(config(backend='openvino', onnx_model=fused, cache_dir='none'))
    weights_kib = os.path.getsize(tmp_path / 'm.bin') / 1024
    for frame in frames + frames[:1]:
        assert np.array_equal(seg(frame).labels, reference(frame).labels)
        assert resident_kib(tmp_path / 'm.bin') <= 0.05 * weights_kib
