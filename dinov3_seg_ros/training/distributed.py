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

"""torchrun / torch.distributed helpers: process group, device, reproducible resumable sampler.

One process per device. torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
MASTER_PORT; without them the run is a plain single process. nccl on CUDA, gloo on CPU.
"""

from dataclasses import dataclass
import datetime
import os
from typing import Iterator, List, Sized

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

from dinov3_seg_ros.core.errors import ConfigError


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device('cpu')

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only process that writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when a process group with more than one process is running."""
        return self.world_size > 1


def pick_device(preference: str, local_rank: int = 0) -> torch.device:
    """'auto' -> cuda:<local_rank> when available else cpu; 'cuda' without CUDA is an error."""
    if preference == 'cuda' or (preference == 'auto' and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ConfigError('run.device: cuda requested but CUDA is not available')
        torch.cuda.set_device(local_rank)
        return torch.device('cuda', local_rank)
    return torch.device('cpu')


def init_distributed(preference: str = 'auto') -> DistContext:
    """Join the torchrun process group if there is one (nccl on CUDA, gloo on CPU)."""
    world_size = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    local_rank = int(os.environ.get('LOCAL_RANK', '0'))
    device = pick_device(preference, local_rank)
    if world_size > 1 and not dist.is_initialized():
        backend = 'nccl' if device.type == 'cuda' else 'gloo'
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
    return DistContext(rank, world_size, local_rank, device)


def barrier(ctx: DistContext) -> None:
    """Wait for every process (no-op alone)."""
    if ctx.distributed:
        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    """Leave the process group."""
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over every process (returned in place; no-op alone)."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(values)
    return values


def shard(count: int, ctx: DistContext) -> List[int]:
    """Return indices rank, rank + world, ...: each item once over all ranks (evaluation)."""
    return list(range(ctx.rank, count, ctx.world_size))


class ResumableSampler(DistributedSampler):
    """A DistributedSampler whose order derives from (seed, epoch) and that can skip ahead.

    set_position(epoch, start) makes the next iteration yield this rank's indices of that
    epoch from position start on, so a run resumed mid-epoch sees the same batches.
    """

    def __init__(self, dataset: Sized, ctx: DistContext, seed: int, shuffle: bool = True) -> None:
        super().__init__(dataset, num_replicas=ctx.world_size, rank=ctx.rank,
                         shuffle=shuffle, seed=seed, drop_last=False)
        self.start = 0

    def set_position(self, epoch: int, start: int = 0) -> None:
        """Select the epoch's permutation and the first position (in this rank's samples)."""
        self.set_epoch(epoch)
        self.start = int(start)

    def __iter__(self) -> Iterator[int]:
        return iter(list(super().__iter__())[self.start:])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)


def sync_batchnorm(module: torch.nn.Module, enabled: bool, ctx: DistContext) -> torch.nn.Module:
    """Convert module's BatchNorm layers to SyncBatchNorm for a multi-process run.

    Statistics are then computed over the global batch (all ranks). The state_dict keys are
    unchanged, so checkpoints still load into the plain head. A single process keeps plain
    BatchNorm (identical maths); SyncBatchNorm needs accelerator tensors, so CPU (gloo) DDP
    with run.sync_batchnorm is a ConfigError.
    """
    if not enabled or not ctx.distributed:
        return module
    if ctx.device.type == 'cpu':
        raise ConfigError('run.sync_batchnorm: SyncBatchNorm needs CUDA devices; this DDP run is '
                          'on the CPU (set run.sync_batchnorm=false)')
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
