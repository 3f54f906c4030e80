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


"""run.sync_batchnorm: the head's BatchNorm becomes SyncBatchNorm under DDP only."""

import pytest
import torch

from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.core.heads import ASPPHead, HeadConfig
from dinov3_seg_ros.training.distributed import DistContext, sync_batchnorm
from dinov3_seg_ros.training.train_config import load_config


def _head():
    torch.manual_seed(0)
    return ASPPHead(HeadConfig(32, 5, 16, 8, 2))


def _kinds(module):
    return sorted({type(m).__name__ for m in module.modules() if 'BatchNorm' in type(m).__name__})


def test_conversion_keeps_weights_and_checkpoint_keys():
    head = _head()
    before = {k: v.clone() for k, v in head.state_dict().items()}
    assert _kinds(head) == ['BatchNorm2d']
    gpu_ddp = DistContext(rank=0, world_size=2, device=torch.device('cuda', 0))
    converted = sync_batchnorm(head, True, gpu_ddp)  # no process group needed to convert
    assert _kinds(converted) == ['SyncBatchNorm']
    assert converted.config == head.config  # still the ASPPHead (its children converted)
    after = converted.state_dict()
    assert list(after) == list(before)
    for key, value in before.items():
        assert torch.equal(after[key], value), key
    plain = _head()
    plain.load_state_dict(after)  # a SyncBatchNorm checkpoint loads into the plain head
    features = torch.randn(2, 32, 4, 6)
    with torch.no_grad():
        torch.testing.assert_close(converted.eval()(features), plain.eval()(features))


def test_single_process_or_disabled_keeps_batchnorm_and_cpu_ddp_is_refused():
    assert _kinds(sync_batchnorm(_head(), True, DistContext())) == ['BatchNorm2d']
    gpu_ddp = DistContext(rank=0, world_size=2, device=torch.device('cuda', 0))
    assert _kinds(sync_batchnorm(_head(), False, gpu_ddp)) == ['BatchNorm2d']
    with pytest.raises(ConfigError, match='run.sync_batchnorm: SyncBatchNorm needs CUDA'):
        sync_batchnorm(_head(), True, DistContext(rank=0, world_size=2))
    assert load_config('config/train_coco_panoptic.yaml',
                       ['run.sync_batchnorm=true']).run.sync_batchnorm is True
