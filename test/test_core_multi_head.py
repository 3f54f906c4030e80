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


"""Several heads on one backbone pass must expect the same input normalization."""

import pytest

from dinov3_seg_ros.core.checkpoint import HeadCheckpoint, save_head_checkpoint
from dinov3_seg_ros.core.config import ModelConfig
from dinov3_seg_ros.core.errors import CheckpointError
from dinov3_seg_ros.core.heads import build_head, HeadConfig
from dinov3_seg_ros.core.segmenter import Segmenter

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def _head(path, mean, std):
    config = HeadConfig(in_channels=384, num_classes=3)
    save_head_checkpoint(str(path), HeadCheckpoint(
        build_head(config).state_dict(), config, ['a', 'b', 'c'], backbone='vits16',
        mean=mean, std=std))
    return str(path)


def _segmenter(*heads):
    return Segmenter(ModelConfig(backbone='vits16', head_weights=heads, backend='torch',
                                 device='cpu', dtype='float32', input_size='64', warmup=0))


def test_heads_with_another_mean_are_rejected_naming_the_file(tmp_path):
    first = _head(tmp_path / 'first.pth', *IMAGENET)
    other = _head(tmp_path / 'other.pth', (0.5, 0.5, 0.5), IMAGENET[1])
    with pytest.raises(CheckpointError, match=r"other\.pth.*mean"):
        _segmenter(first, other)


def test_heads_with_the_same_or_no_normalization_share_the_pass(tmp_path):
    first = _head(tmp_path / 'first.pth', *IMAGENET)
    same = _head(tmp_path / 'same.pth', *IMAGENET)
    bare = _head(tmp_path / 'bare.pth', None, None)
    segmenter = _segmenter(first, same, bare)
    assert segmenter.head_names == ['first', 'same', 'bare']
    assert segmenter.mean == pytest.approx(IMAGENET[0])
