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

"""ONNX export (fused and head-only), the ONNX Runtime backend and the export CLI."""

from contextlib import contextmanager
import json
import math

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

import onnx  # noqa: E402
import onnxruntime  # noqa: E402

from dinov3_seg_ros.cli import export as export_cli  # noqa: E402
from dinov3_seg_ros.core.export import onnx as onnx_export  # noqa: E402
from dinov3_seg_ros.core.backbone import build_backbone  # noqa: E402
from dinov3_seg_ros.core.checkpoint import HeadCheckpoint  # noqa: E402
from dinov3_seg_ros.core.checkpoint import load_head_checkpoint  # noqa: E402
from dinov3_seg_ros.core.checkpoint import save_head_checkpoint  # noqa: E402
from dinov3_seg_ros.core.config import ModelConfig  # noqa: E402
from dinov3_seg_ros.core.errors import CheckpointError, ConfigError  # noqa: E402
from dinov3_seg_ros.core.heads import ASPPHead, HeadConfig  # noqa: E402
from dinov3_seg_ros.core.backends.onnxruntime import OnnxRuntimeBackend  # noqa: E402
from dinov3_seg_ros.core.backends.ort_session import CUDA  # noqa: E402
from dinov3_seg_ros.core.export.metadata import read_metadata  # noqa: E402
from dinov3_seg_ros.core.export.parity import check_parity, compare_outputs  # noqa: E402
from dinov3_seg_ros.core.export.parity import reference_outputs  # noqa: E402


def _normalized(rgb, height, width, mean, std):
    """(1, 3, height, width) float32 tensor of a photo resized and normalized."""
    image = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    x = (image.astype(np.float32) / 255.0 - np.float32(mean)) / np.float32(std)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None]))


@pytest.fixture(scope='module')
def backbone(meta_vits16plus_pth):
    return build_backbone('vits16plus', meta_vits16plus_pth)


@pytest.fixture(scope='module')
def head(upstream_head_reference):
    return load_head_checkpoint(upstream_head_reference[1])


@pytest.fixture(scope='module')
def lively_head(upstream_head_reference, tmp_path_factory):
    """The seed-0 upstream head with He-scaled convolutions, saved as a project checkpoint.

    The N(0, 0.02) head maps every pixel to one class (its logits vary by ~1e-4 across the
    image); rescaled, logits span several units and labels vary, like a trained head's.
    """
    checkpoint = load_head_checkpoint(upstream_head_reference[1])
    for value in checkpoint.state_dict.values():
        if value.ndim == 4:
            value.mul_(math.sqrt(2.0 / value[0].numel()) / 0.02)
    path = str(tmp_path_factory.mktemp('lively') / 'lively.pth')
    save_head_checkpoint(path, checkpoint)
    return load_head_checkpoint(path), path


@pytest.fixture(scope='module')
def fused(backbone, lively_head, tmp_path_factory):
    """The default export (exporter 'auto', dynamic H/W) of seed-0 vits16plus + a head."""
    path = str(tmp_path_factory.mktemp('onnx') / 'fused.onnx')
    head = lively_head[0]
    result = onnx_export.export_fused(backbone, [head], path, head_names=['lively'],
                                      size=(64, 96), input_size='96')
    module = onnx_export.FusedModel(backbone, onnx_export.prepare_heads([head])).eval()
    return result, module


def test_fused_export_passes_the_checker_with_named_dynamic_io(fused):
    result, _ = fused
    onnx.checker.check_model(result.path, full_check=True)
    model = onnx.load(result.path)
    assert max(o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')) >= 17
    assert [i.name for i in model.graph.input] == ['image']
    assert [o.name for o in model.graph.output] == ['logits']
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[1].dim_value == 3
    assert result.dynamic and all(d.dim_param for d in (dims[0], dims[2], dims[3]))


@pytest.mark.parametrize('height, width', [(64, 96), (128, 80)])
def test_fused_onnx_matches_torch_on_a_photo_at_two_sizes(fused, photos, height, width):
    result, module = fused
    meta = result.metadata
    x = _normalized(photos['chelsea'], height, width, meta['mean'], meta['std'])
    report = check_parity(result.path, module, x)
    assert report.pixels == (height // 16) * (width // 16)
    assert report.max_abs_diff <= 1e-4  # ~5e-6 here; a RoPE frozen at 4x6 tokens: 2e-3
    assert report.label_agreement >= 0.999
    assert len(np.unique(reference_outputs(module, x)[0].argmax(1))) > 1  # labels vary


def test_metadata_round_trips(fused, lively_head, backbone):
    result, _ = fused
    head = lively_head[0]
    meta = read_metadata(result.path)
    assert meta == json.loads(json.dumps(result.metadata))
    backend = OnnxRuntimeBackend(result.path, device='cpu')
    assert backend.metadata == meta and backend.kind == 'fused'
    assert backend.info.class_names == (tuple(head.class_names),)
    assert meta['head_names'] == ['lively'] and meta['backbone'] == 'vits16plus'
    assert meta['mean'] == pytest.approx(backbone.mean)
    assert meta['std'] == pytest.approx(backbone.std)
    assert meta['input_size'] == '96' and meta['dynamic'] is True
    assert meta['heads'] == [head.head.to_dict()] and meta['untrained'] is False


def test_head_only_export_matches_the_upstream_reference(head, upstream_head_reference, tmp_path):
    data, _ = upstream_head_reference
    path = str(tmp_path / 'head.onnx')
    result = onnx_export.export_head(head, path, head_name='model', grid=(8, 12))
    onnx.checker.check_model(path)
    backend = OnnxRuntimeBackend(path, device='cpu')
    assert backend.kind == 'head' and backend.input_name == 'features' and result.dynamic
    (logits,) = backend(data['features'])
    assert logits.shape == data['logits_40x40'].shape
    assert np.abs(logits - data['logits_40x40']).max() <= 1e-4
    crop = np.ascontiguousarray(np.concatenate([data['features'][:, :, :20, :30]] * 2))
    expected = reference_outputs(head.build(), torch.from_numpy(crop))[0]
    assert np.abs(backend(crop)[0] - expected).max() <= 1e-4  # other N, h, w


def test_io_binding_path_matches_the_plain_run(fused):
    backend = OnnxRuntimeBackend(fused[0].path, device='cpu')
    x = torch.randn(1, 3, 48, 64)
    bound, plain = backend.run_bound(x), backend(x.numpy())
    assert len(bound) == 1 and bound[0].shape == plain[0].shape == (1, 134, 3, 4)
    assert np.array_equal(bound[0], plain[0])
    assert backend.output_shapes(x.shape) == [plain[0].shape]  # what CUDA binding allocates
    assert backend.output_types == ['tensor(float)']


def test_two_heads_get_numbered_outputs_and_their_own_classes(tmp_path):
    backbone = build_backbone('vits16')
    heads = []
    for classes in (3, 5):
        config = HeadConfig(num_classes=classes, proj_channels=32, branch_channels=16)
        names = [f'h{classes}_{i}' for i in range(classes)]
        heads.append(HeadCheckpoint(ASPPHead(config).state_dict(), config, names))
    path = str(tmp_path / 'two.onnx')
    result = onnx_export.export_fused(backbone, heads, path, head_names=['a', 'b'],
                                      size=(32, 48), exporter='legacy')
    backend = OnnxRuntimeBackend(path, device='cpu')
    assert backend.output_names == ['logits_0', 'logits_1']
    expected = (tuple(heads[0].class_names), tuple(heads[1].class_names))
    assert backend.info.class_names == expected
    assert result.metadata['untrained'] is True  # random backbone
    outputs = backend(torch.randn(1, 3, 48, 32).numpy())
    assert [o.shape for o in outputs] == [(1, 3, 3, 2), (1, 5, 3, 2)]


@contextmanager
def _no_rope_patch(backbone):
    yield False


def test_fixed_size_fallback_is_recorded_and_enforced(monkeypatch, tmp_path):
    monkeypatch.setattr(onnx_export, 'traceable_rope', _no_rope_patch)
    backbone = build_backbone('vits16')
    config = HeadConfig(num_classes=4, proj_channels=32, branch_channels=16)
    head = HeadCheckpoint(ASPPHead(config).state_dict(), config, ['a', 'b', 'c', 'd'])
    path = str(tmp_path / 'fixed.onnx')
    result = onnx_export.export_fused(backbone, [head], path, size=(32, 48), input_size='640',
                                      exporter='legacy')
    assert not result.dynamic and result.failures
    backend = OnnxRuntimeBackend(path, device='cpu')
    assert backend.metadata['input_size'] == '48x32' and backend.info.fixed_size == (32, 48)
    module = onnx_export.FusedModel(backbone, onnx_export.prepare_heads([head]))
    assert check_parity(path, module, torch.randn(1, 3, 32, 48)).max_abs_diff <= 1e-4
    with pytest.raises(ConfigError, match='expects'):
        backend(np.zeros((1, 3, 64, 48), np.float32))


def test_missing_or_corrupt_onnx_raises_checkpoint_error(fused, tmp_path):
    with pytest.raises(CheckpointError, match='not found'):
        OnnxRuntimeBackend(str(tmp_path / 'absent.onnx'))
    garbage = tmp_path / 'garbage.onnx'
    garbage.write_bytes(b'this is not a protobuf' * 10)
    with pytest.raises(CheckpointError, match='cannot load ONNX model'):
        OnnxRuntimeBackend(str(garbage))
    truncated = tmp_path / 'truncated.onnx'
    with open(fused[0].path, 'rb') as stream:
        truncated.write_bytes(stream.read(100_000))
    with pytest.raises(CheckpointError):
        OnnxRuntimeBackend(str(truncated))


def test_onnx_without_project_metadata_is_rejected(tmp_path):
    node = onnx.helper.make_node('Identity', ['image'], ['logits'])
    value = onnx.helper.make_tensor_value_info
    graph = onnx.helper.make_graph([node], 'g', [value('image', onnx.TensorProto.FLOAT, [1])],
                                   [value('logits', onnx.TensorProto.FLOAT, [1])])
    path = str(tmp_path / 'foreign.onnx')
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid('', 18)]),
              path)
    with pytest.raises(CheckpointError, match='metadata'):
        OnnxRuntimeBackend(path, device='cpu')


@pytest.mark.skipif(CUDA in onnxruntime.get_available_providers(), reason='CUDA present')
def test_cuda_without_a_cuda_provider_is_a_config_error(fused):
    with pytest.raises(ConfigError, match='CUDA'):
        OnnxRuntimeBackend(fused[0].path, device='cuda')


def test_segmenter_onnxruntime_labels_match_torch_on_a_photo(
        fused, meta_vits16plus_pth, lively_head, photos):
    from dinov3_seg_ros.core.segmenter import Segmenter
    rgb = photos['coffee']  # 400x600: not a patch multiple, resized to 96x144
    common = dict(backbone='vits16plus', input_size='144', device='cpu', warmup=0)
    torch_seg = Segmenter(ModelConfig(backend='torch', backbone_weights=meta_vits16plus_pth,
                                      head_weights=(lively_head[1],), **common))
    ort_seg = Segmenter(ModelConfig(backend='onnxruntime', onnx_model=fused[0].path,
                                    **common))
    assert ort_seg.class_names == torch_seg.class_names and not ort_seg.untrained
    expected, got = torch_seg(rgb).labels, ort_seg(rgb).labels
    assert got.shape == rgb.shape[:2] and got.dtype == expected.dtype
    assert (got == expected).mean() >= 0.999
    assert len(np.unique(expected)) > 1  # a real comparison, not two constant maps


def test_released_style_backbone_export_keeps_the_bf16_rope_periods(
        released_style_pth, tmp_path):
    from conftest import normalized_image
    from dinov3_seg_ros.core.export.rope import traceable_rope
    data, pth = released_style_pth
    backbone = build_backbone('vits16plus', pth)
    path = str(tmp_path / 'backbone.onnx')
    probe = torch.randn(1, 3, 48, 80, generator=torch.Generator().manual_seed(0))
    with traceable_rope(backbone) as patched:
        assert patched
        _, dynamic = onnx_export._export(backbone, torch.zeros(1, 3, 64, 96), probe, path,
                                         'image', ['features'], 18, 'legacy', True, [])
    assert dynamic
    session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
    for name in ('rocket_224x320', 'astronaut_256x384'):  # traced at 64x96, run at these
        x = normalized_image(data[f'image_{name}']).numpy()
        got = session.run(None, {'image': x})[0][0]
        expected = data[f'features_{name}']
        # float32 noise amplified by the sharp attention (see the torch test): 1e-4 relative
        assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
        assert np.abs(data[f'features_fp32_periods_{name}'] - expected).max() > \
            100 * np.abs(got - expected).max()


def test_compare_outputs_counts_disagreeing_labels():
    a = np.zeros((1, 2, 2, 2), np.float32)
    a[0, 1, 0, 0] = 1.0
    report = compare_outputs([a], [np.zeros_like(a)])
    assert report.max_abs_diff == 1.0 and report.label_agreement == 0.75


def test_export_cli_with_a_training_checkpoint(meta_vits16plus_pth, lively_head, tmp_path,
                                               capsys):
    head = load_head_checkpoint(lively_head[1])
    head.class_names = [f'thing{i}' for i in range(head.head.num_classes)]
    head.backbone = 'vits16plus'
    ckpt = str(tmp_path / 'last.pth')
    save_head_checkpoint(ckpt, head, extra={'optimizer': {'state': {}, 'lr': 1e-3},
                                            'epoch': 3, 'scheduler': {'last_epoch': 3}})
    out = str(tmp_path / 'cli.onnx')
    code = export_cli.main(['--backbone', 'vits16plus', '--backbone-weights',
                            meta_vits16plus_pth, '--head-weights', ckpt, '--out', out,
                            '--input-size', '96x64', '--exporter', 'legacy', '--check', '-q'])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert 'parity at 96x64' in printed and 'labels agree on 100.000%' in printed
    meta = read_metadata(out)
    assert meta['class_names'] == [head.class_names] and meta['head_names'] == ['last']
    assert meta['dynamic'] and meta['input_size'] == '96x64'
