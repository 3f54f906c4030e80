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

"""Settings never silently ignored: a trained head's own input size, onnx_model with torch."""

import logging

from dinov3_seg_ros.cli.common import model_config_from_args
from dinov3_seg_ros.cli.infer import build_parser
from dinov3_seg_ros.core.checkpoint import HeadCheckpoint, save_head_checkpoint
from dinov3_seg_ros.core.config import InputSize, ModelConfig
from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.core.heads import build_head, HeadConfig
from dinov3_seg_ros.core.segmenter import Segmenter
import pytest
import torch

LOGGER = 'dinov3_seg_ros.core.input_size_choice'


@pytest.fixture(scope='module')
def head_at_64x48(tmp_path_factory):
    torch.manual_seed(0)
    config = HeadConfig(in_channels=384, num_classes=3, proj_channels=16, branch_channels=8)
    path = str(tmp_path_factory.mktemp('trained') / 'small.pth')
    save_head_checkpoint(path, HeadCheckpoint(build_head(config).state_dict(), config,
                                              ['a', 'b', 'c'], backbone='vits16',
                                              input_size='64x48'))
    return path


def segmenter(head, input_size):
    return Segmenter(ModelConfig(backbone='vits16', head_weights=(head,), device='cpu',
                                 backend='torch', warmup=0, input_size=input_size))


def test_a_trained_heads_own_input_size_is_used_when_none_is_given(head_at_64x48, caplog):
    with caplog.at_level(logging.INFO, logger=LOGGER):
        seg = segmenter(head_at_64x48, '')
    assert seg.input_size == InputSize.parse('64x48')  # was the default 640
    said = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(said) == 1 and '64x48' in said[0] and 'small.pth' in said[0]
    assert segmenter(head_at_64x48, '320').input_size == InputSize.parse('320')  # explicit


def test_the_node_and_infer_leave_input_size_to_the_checkpoint_by_default(head_at_64x48):
    from dinov3_seg_ros.ros.params import NodeParams
    node = NodeParams(head_weights=(head_at_64x48,)).model_config()
    assert not node.input_size_given and node.input_size == InputSize.parse('640')
    assert NodeParams(input_size='640').model_config().input_size_given
    args = build_parser().parse_args(['--head-weights', head_at_64x48, '--out-dir', 'out',
                                      'photo.jpg'])
    assert not model_config_from_args(args).input_size_given


def test_onnx_model_with_backend_torch_is_refused():
    with pytest.raises(ConfigError, match='onnx_model: backend torch never reads'):
        ModelConfig(backend='torch', onnx_model='model.onnx')
    assert ModelConfig(backend='auto', onnx_model='model.onnx').onnx_model == 'model.onnx'
