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

"""DINOv3 ConvNeXt: Meta's dense features from Meta-format files (end to end through
dinov3-seg-infer), every layout, files of the other family refused, export and training."""

import json
import math

import cv2
import numpy as np
import pytest
import torch

from conftest import deterministic_state_dict, normalized_image, reference_path
from dinov3_seg_ros.cli import infer as infer_cli
from dinov3_seg_ros.cli import train as train_cli
from dinov3_seg_ros.core.backbone import build_backbone
from dinov3_seg_ros.core.backends.torch_backend import random_head
from dinov3_seg_ros.core.checkpoint import load_head_checkpoint, save_head_checkpoint
from dinov3_seg_ros.core.config import ModelConfig
from dinov3_seg_ros.core.errors import CheckpointError
from dinov3_seg_ros.core.export.onnx import export_fused
from dinov3_seg_ros.core.segmenter import Segmenter
from test_training_feature_cache import prepare_dataset


def layout(name):
    with open(reference_path('dinov3_checkpoint_layouts.json')) as stream:
        return json.load(stream)[name]


def meta_convnext_state(entries, seed):
    """The README's procedure for a ConvNeXt: norms.3.* are copies of norm.* (no draw)."""
    drawn = deterministic_state_dict([e for e in entries if not e[0].startswith('norms.3.')],
                                     seed)
    return {key: drawn[key.replace('norms.3.', 'norm.')].clone()
            if key.startswith('norms.3.') else drawn[key] for key, *_ in entries}


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """(npz, path of a Meta-format seed-0 convnext_tiny .pth)."""
    data = np.load(reference_path('dinov3_convnext_tiny_seed0.npz'))
    path = tmp_path_factory.mktemp('meta') / 'dinov3_convnext_tiny_pretrain_lvd1689m-seed0.pth'
    torch.save(meta_convnext_state(layout('convnext_tiny'), 0), path)
    return data, str(path)


@pytest.fixture(scope='module')
def small_pth(tmp_path_factory):
    path = tmp_path_factory.mktemp('small') / 'dinov3_convnext_small.pth'
    torch.save(meta_convnext_state(layout('convnext_small'), 1), path)
    return str(path)


@pytest.mark.parametrize('size', ['224x224', '480x640'])
def test_infer_reproduces_meta_convnext_features(tiny, tmp_path, size):
    data, path = tiny
    image = str(tmp_path / 'ref.png')
    cv2.imwrite(image, cv2.cvtColor(data[f'image_{size}'], cv2.COLOR_RGB2BGR))
    code = infer_cli.main([image, '--out-dir', str(tmp_path / 'out'), '--backbone',
                           'convnext_tiny', '--backbone-weights', path, '--input-size',
                           'native', '--device', 'cpu', '--save-features', '-q'])
    assert code == 0
    features = np.load(tmp_path / 'out' / 'ref_features.npy')
    expected = data[f'features_{size}'][0]
    assert features.dtype == np.float32 and features.shape == expected.shape
    assert expected.shape[0] == 768
    assert np.abs(features - expected).max() <= 1e-5


def test_timm_safetensors_give_the_same_features(tiny, tmp_path):
    from safetensors.torch import save_file
    data, path = tiny
    meta = build_backbone('convnext_tiny', path)
    timm_path = tmp_path / 'model.safetensors'
    save_file({k: v.contiguous() for k, v in meta.model.state_dict().items()}, str(timm_path))
    backbone = build_backbone('convnext_tiny', str(timm_path))
    assert backbone.pretrained and backbone.mean == pytest.approx((0.485, 0.456, 0.406))
    with torch.inference_mode():
        features = backbone(normalized_image(data['image_224x224']))
    assert (features - torch.from_numpy(data['features_224x224'])).abs().max() <= 1e-5


def test_the_traced_form_for_the_exporters_gives_meta_features_too(tiny):
    data, path = tiny
    backbone = build_backbone('convnext_tiny', path).eval()
    image = normalized_image(data['image_224x224'])
    with torch.inference_mode():
        eager = backbone(image)
    with torch.no_grad():
        traced = torch.jit.trace(backbone, image, check_trace=False)
        features = traced(image)
    graph = str(traced.inlined_graph)
    assert 'aten::permute' in str(torch.jit.trace(backbone.model.stages[0].blocks[0],
                                                  torch.zeros(1, 96, 8, 8)).inlined_graph)
    assert 'aten::permute' not in graph  # the (B, H*W, C) token form, not timm's
    expected = torch.from_numpy(data['features_224x224'])
    assert (features - expected).abs().max() <= 1e-5
    assert (features - eager).abs().max() <= 1e-5


def test_convnext_small_layout_loads_strictly_at_any_multiple_of_16(small_pth):
    backbone = build_backbone('convnext_small', small_pth)
    assert backbone.pretrained and backbone.embed_dim == 768
    with torch.inference_mode():  # 48x80: not multiples of 32, the last stage is floored
        out = backbone(torch.randn(1, 3, 48, 80, generator=torch.Generator().manual_seed(0)))
    assert out.shape == (1, 768, 3, 5) and torch.isfinite(out).all()


@pytest.mark.parametrize('variant, looks_like', [('vits16', 'convnext_small'),
                                                 ('convnext_tiny', 'convnext_small')])
def test_a_file_of_another_variant_is_one_error_line(small_pth, capsys, tmp_path, variant,
                                                     looks_like):
    image = str(tmp_path / 'x.png')
    cv2.imwrite(image, np.zeros((32, 32, 3), np.uint8))
    code = infer_cli.main([image, '--out-dir', str(tmp_path), '--backbone', variant,
                           '--backbone-weights', small_pth, '--device', 'cpu'])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1 and err[0].startswith('error: ')
    assert f'looks like {looks_like}' in err[0] and 'Traceback' not in err[0]


def test_a_vit_file_given_as_a_convnext_names_the_vit(tmp_path):
    path = tmp_path / 'dinov3_vits16.pth'
    torch.save(deterministic_state_dict(layout('vits16'), 1), path)
    with pytest.raises(CheckpointError, match='ViT checkpoint.*looks like vits16'):
        build_backbone('convnext_tiny', str(path))


def lively_head(path):
    """A seed-0 random 6-class head on 768 channels with He-scaled convs (labels vary)."""
    checkpoint = random_head(768, [f'class{i}' for i in range(6)])
    for value in checkpoint.state_dict.values():
        if value.ndim == 4:
            value.mul_(math.sqrt(2.0 / value[0].numel()) / 0.02)
    checkpoint.backbone, checkpoint.metadata = 'convnext_tiny', {}
    save_head_checkpoint(str(path), checkpoint)
    return str(path)


def config(**kwargs):
    return ModelConfig(**{'backbone': 'convnext_tiny', 'device': 'cpu', 'warmup': 0,
                          'dtype': 'float32', 'input_size': '96', **kwargs})


@pytest.mark.slow  # an ONNX export
@pytest.mark.parametrize('exporter', ['auto', 'legacy'])
def test_onnxruntime_and_openvino_labels_agree_with_torch(tiny, tmp_path, photos, exporter):
    _, path = tiny
    head = lively_head(tmp_path / 'lively.pth')
    onnx = str(tmp_path / 'fused.onnx')
    result = export_fused(build_backbone('convnext_tiny', path), [load_head_checkpoint(head)],
                          onnx, head_names=['lively'], size=(64, 96), input_size='96',
                          exporter=exporter)
    assert result.dynamic and result.metadata['backbone'] == 'convnext_tiny'
    reference = Segmenter(config(backend='torch', backbone_weights=path, head_weights=(head,)))
    engines = [Segmenter(config(backend=name, onnx_model=onnx))
               for name in ('onnxruntime', 'openvino')]
    for rgb in (photos['coffee'], photos['chelsea'][:300, :200]):  # two shapes: dynamic H/W
        expected = reference(rgb).labels
        assert len(np.unique(expected)) > 1
        for engine in engines:
            assert (engine(rgb).labels == expected).mean() >= 0.999, engine.backend


def test_training_takes_the_channels_from_the_convnext(tmp_path):
    root = prepare_dataset(tmp_path / 'coco', (('train2017', 4, 0), ('val2017', 2, 1)))
    run_dir = tmp_path / 'run'
    code = train_cli.main([f'data.root={root}', f'run.dir={run_dir}', 'data.image_size=48',
                           'model.backbone=convnext_tiny', 'model.backbone_weights=',
                           'model.head.proj_channels=16', 'model.head.branch_channels=8',
                           'model.head.num_branches=2', 'run.num_workers=0',
                           'run.progress=false', 'optim.batch_size=2', 'stages=[{epochs: 1}]'])
    assert code == 0
    checkpoint = load_head_checkpoint(str(run_dir / 'checkpoints' / 'last.pth'))
    assert checkpoint.backbone == 'convnext_tiny' and checkpoint.head.in_channels == 768
    assert checkpoint.mean == pytest.approx([0.485, 0.456, 0.406])
