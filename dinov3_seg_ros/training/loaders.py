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

"""Datasets and loaders of a run: live images (optionally augmented) or cached features.

Shuffling derives from (seed, epoch) and every sample's augmentation from (seed, epoch,
index), so a resumed run, any num_workers and any world size see the same data.
"""

import os
import random
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from dinov3_seg_ros.core.config import InputSize
from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.training.datasets import image_folder, SemanticSegmentationDataset
from dinov3_seg_ros.training.distributed import DistContext, ResumableSampler, shard
from dinov3_seg_ros.training.train_config import image_hw, TrainConfig
from dinov3_seg_ros.training.transforms import build_transforms


def fixed_size(config: TrainConfig) -> InputSize:
    """data.image_size as a fixed InputSize (batches need one size)."""
    height, width = image_hw(config)
    return InputSize(mode='fixed', width=width, height=height)


def check_data_root(config: TrainConfig) -> None:
    """Raise ConfigError naming data.root (or a split) unless their folders exist."""
    data = config.data
    if not data.root:
        raise ConfigError('data.root: set it to the prepared dataset (dinov3-seg-prepare-coco)')
    if not os.path.isdir(data.root):
        what = 'is a file' if os.path.exists(data.root) else 'does not exist'
        raise ConfigError(f'data.root: {data.root} {what}; set it to the dataset folder (the '
                          'COCO root after dinov3-seg-prepare-coco, or your own with '
                          'data.format folder)')
    for key, split in (('data.train_split', data.train_split), ('data.val_split', data.val_split)):
        folder = image_folder(data.root, split, data.format)
        if not os.path.isdir(folder):
            raise ConfigError(f'{key}: no image folder {folder} for split {split!r} (data.format '
                              f'{data.format}); check the split name and data.root')


def open_split(config: TrainConfig, split: str, mean: Sequence[float], std: Sequence[float],
               limit: int = 0, augment: bool = False) -> SemanticSegmentationDataset:
    """Open the dataset of one split (first `limit` samples if > 0), augmented if asked."""
    check_data_root(config)
    size = fixed_size(config)
    transform = None
    if augment:
        transform = build_transforms(config.augment, (size.height, size.width),
                                     config.data.ignore_index)
    dataset = SemanticSegmentationDataset(
        config.data.root, split, transform=transform, image_size=size, mean=mean, std=std,
        ignore_index=config.data.ignore_index,
        class_names_file=config.data.class_names_file or None, layout=config.data.format,
        resize=config.data.resize)
    if limit:
        dataset.samples = dataset.samples[:limit]
    return dataset


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """Return a 63-bit seed for one sample of one epoch."""
    state = np.random.SeedSequence([seed, epoch, index]).generate_state(2, np.uint64)
    return int(state[0] >> np.uint64(1))


class SeededSamples(Dataset):
    """Wraps a dataset so sample i of epoch e always draws the same random numbers.

    torch, python and numpy RNGs are seeded from (seed, epoch, i) around the inner
    __getitem__ and restored afterwards; set_epoch before iterating.
    """

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (workers get it when the loader's iterator starts)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        seed = sample_seed(self.seed, self.epoch, index)
        generator = torch.default_generator  # CPU only: transforms draw from it
        states = (generator.get_state(), random.getstate(), np.random.get_state())
        try:
            generator.manual_seed(seed)
            random.seed(seed)
            np.random.seed(seed % (2 ** 32))
            return self.dataset[index]
        finally:
            generator.set_state(states[0])
            random.setstate(states[1])
            np.random.set_state(states[2])


def _loader_kwargs(config: TrainConfig, ctx: DistContext) -> Dict[str, Any]:
    workers = config.run.num_workers
    return {'num_workers': workers, 'pin_memory': ctx.device.type == 'cuda',
            'persistent_workers': False, 'prefetch_factor': 2 if workers else None}


def train_loader(dataset: Dataset, config: TrainConfig, ctx: DistContext
                 ) -> Tuple[DataLoader, ResumableSampler, SeededSamples]:
    """Return a shuffled, sharded, resumable loader over a seeded view of dataset."""
    seeded = SeededSamples(dataset, config.run.seed)
    sampler = ResumableSampler(seeded, ctx, config.run.seed)
    loader = DataLoader(seeded, batch_size=config.optim.batch_size, sampler=sampler,
                        drop_last=False, **_loader_kwargs(config, ctx))
    return loader, sampler, seeded


def eval_loader(dataset: Dataset, config: TrainConfig, ctx: DistContext,
                batch_size: Optional[int] = None) -> DataLoader:
    """Every sample once over all ranks (no padding), in order."""
    return DataLoader(Subset(dataset, shard(len(dataset), ctx)),
                      batch_size=batch_size or config.optim.batch_size, shuffle=False,
                      **_loader_kwargs(config, ctx))


def epoch_batches(count: int, config: TrainConfig, ctx: DistContext) -> int:
    """Batches per epoch on each rank (the sampler pads the last round like DistributedSampler)."""
    per_rank = -(-count // ctx.world_size)
    return -(-per_rank // config.optim.batch_size)
