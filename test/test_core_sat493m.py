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

"""DINOv3 SAT-493M: the satellite mean/std chosen from the file, Meta's features end to end,
the normalization option, and heads of one pretraining data refused on the other's features."""

import json

import cv2
import numpy as np
import pytest
import torch

from conftest import deterministic_state_dict, reference_path
from dinov3_seg_ros.cli import infer as infer_cli
from dinov3_seg_ros.core.backbone import build_backbone
from dinov3_seg_ros.core.backends.torch_backend import random_head
from dinov3_seg_ros.core.checkpoint import save_head_checkpoint
from dinov3_seg_ros.core.config import ModelConfig
from dinov3_seg_ros.core.errors import CheckpointError, ConfigError
from dinov3_seg_ros.core.export.metadata import build_metadata
from dinov3_seg_ros.core.normalization import choose_data, MEAN_STD
from dinov3_seg_ros.core.segmenter import Segmenter

SAT_MEAN, SAT_STD = MEAN_STD['sat']
LVD_MEAN, LVD_STD = MEAN_STD['lvd']


def layout(name):
    with open(reference_path('dinov3_checkpoint_layouts.json')) as stream:
        return json.load(stream)[name]


def test_sat_constants_are_metas():
    assert SAT_MEAN == (0.430, 0.411, 0.296) and SAT_STD == (0.213, 0.156, 0.143)


@pytest.mark.slow  # a 300M-parameter ViT-L file written and read
def test_infer_reproduces_meta_sat_features_with_the_sat_mean_std(tmp_path):
    data = np.load(reference_path('dinov3_vitl16_sat493m_seed0.npz'))
    buffers = {k[len('buffer/'):]: data[k] for k in data.files if k.startswith('buffer/')}
    path = tmp_path / 'dinov3_vitl16_pretrain_sat493m-seed0.pth'
    torch.save(deterministic_state_dict(layout('vitl16_sat493m'), 0, buffers), path)
    image = str(tmp_path / 'ref.png')
    cv2.imwrite(image, cv2.cvtColor(data['image_224x224'], cv2.COLOR_RGB2BGR))
    code = infer_cli.main([image, '--out-dir', str(tmp_path / 'out'), '--backbone', 'vitl16',
                           '--backbone-weights', str(path), '--input-size', 'native',
                           '--device', 'cpu', '--save-features', '-q'])
    assert code == 0
    features = np.load(tmp_path / 'out' / 'ref_features.npy')
    expected = data['features_224x224'][0]
    assert features.shape == expected.shape == (1024, 14, 14)
    assert np.abs(features - expected).max() <= 1e-5


@pytest.mark.parametrize('name, keys, variant, expected', [
    ('dinov3_vitl16_pretrain_sat493m-eadcf0ff.pth', 'vitl16', 'vitl16', ('sat', True)),
    ('dinov3_vit7b16_pretrain_sat493m-a6675841.pth', '', 'vit7b16', ('sat', True)),
    ('renamed.pth', 'vitl16_sat493m', 'vitl16', ('sat', True)),  # local_cls_norm keys
    ('renamed.pth', 'vitl16', 'vitl16', ('lvd', False)),
    ('dinov3_vitl16_pretrain_lvd1689m-8aa4cbdd.pth', 'vitl16', 'vitl16', ('lvd', True)),
    ('model.safetensors', 'convnext_tiny', 'convnext_tiny', ('lvd', False)),
])
def test_auto_reads_the_data_from_the_file_name_or_keys(name, keys, variant, expected):
    state = {key: None for key, *_ in layout(keys)} if keys else {}
    assert choose_data('auto', f'/w/{name}', state, variant) == expected


def test_the_parameter_overrides_a_silent_file_and_refuses_a_contradiction():
    assert choose_data('sat', '/w/model.safetensors', {}, 'vitl16') == ('sat', True)
    with pytest.raises(CheckpointError, match='SAT-493M checkpoint.*normalization to sat'):
        choose_data('lvd', '/w/dinov3_vitl16_pretrain_sat493m-eadcf0ff.pth', {}, 'vitl16')
    with pytest.raises(ConfigError, match='normalization'):
        ModelConfig(normalization='imagenet')


def write_head(path, mean, std):
    checkpoint = random_head(384, ['a', 'b', 'c'])
    checkpoint.mean, checkpoint.std, checkpoint.metadata = list(mean), list(std), {}
    save_head_checkpoint(str(path), checkpoint)
    return str(path)


def config(**kwargs):
    return ModelConfig(**{'backbone': 'vits16plus', 'device': 'cpu', 'warmup': 0,
                          'input_size': '64', **kwargs})


def test_a_sat_head_is_refused_on_lvd_features(tmp_path, meta_vits16plus_pth):
    head = write_head(tmp_path / 'sat_head.pth', SAT_MEAN, SAT_STD)
    with pytest.raises(CheckpointError, match='trained on SAT-493M.*gives LVD-1689M'):
        Segmenter(config(backbone_weights=meta_vits16plus_pth, head_weights=(head,)))


def test_an_lvd_head_is_refused_on_sat_features_in_one_cli_line(tmp_path, capsys):
    head = write_head(tmp_path / 'lvd_head.pth', LVD_MEAN, LVD_STD)
    image = str(tmp_path / 'x.png')
    cv2.imwrite(image, np.zeros((32, 32, 3), np.uint8))
    code = infer_cli.main([image, '--out-dir', str(tmp_path), '--backbone', 'vits16plus',
                           '--normalization', 'sat', '--head-weights', head, '--device', 'cpu',
                           '-q'])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1 and err[0].startswith('error: ')
    assert 'trained on LVD-1689M' in err[0] and 'SAT-493M features' in err[0]


def test_random_weights_follow_the_heads_recorded_data(tmp_path):
    head = write_head(tmp_path / 'sat_head.pth', SAT_MEAN, SAT_STD)
    segmenter = Segmenter(config(head_weights=(head,), backend='torch'))
    assert segmenter.mean == pytest.approx(SAT_MEAN) and segmenter.std == pytest.approx(SAT_STD)


def test_exports_record_the_sat_mean_std():
    backbone = build_backbone('vits16', '', seed=0, normalization='sat')
    assert backbone.data == 'sat' and backbone.data_decided
    metadata = build_metadata('fused', backbone, [random_head(384, ['a', 'b'])], ['head0'],
                              '48x32', True, (32, 48))
    assert metadata['mean'] == pytest.approx(SAT_MEAN)
    assert metadata['std'] == pytest.approx(SAT_STD)
