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

"""Frozen-backbone features computed once and kept on disk (float16 numpy memmaps).

Without augmentation the backbone sees the same images every epoch, so its features are
computed once and the head trains from them. A cache lives in <dir>/<key>/, where key is a
SHA-256 of the dataset (every file's path, size and mtime, split, classes), the
preprocessing (input size and resize mode, mean/std, resize method), the backbone (variant
and the bytes of its weights), the compute dtype (autocast), the torch and timm versions and
the stored label size, so a stale cache is never reused.
Files: features.f16 (N, C, h, w), labels.u8 (N, H', W') at the loss resolution (nearest, as
losses.resize_for_loss does), done.u8 (one flag per sample, set
after its rows are flushed: an interrupted build resumes), meta.json (written when complete).
"""

import hashlib
import json
import logging
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset

from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.training.distributed import barrier, DistContext, shard
from dinov3_seg_ros.training.optim import autocast

LOGGER = logging.getLogger(__name__)
FP16_MAX = 65504.0
# core.preprocess.resize_rgb: change this when the resize of images or labels changes.
RESIZE_METHOD = 'image: INTER_AREA by integer factor then INTER_LINEAR; label: INTER_NEAREST'


def dataset_fingerprint(dataset: Any) -> Dict[str, Any]:
    """Describe what identifies a SemanticSegmentationDataset's un-augmented samples."""
    files = []
    for pair in dataset.samples:
        for path in pair:
            stat = os.stat(path)
            files.append([os.path.abspath(path), stat.st_size, stat.st_mtime_ns])
    return {'root': os.path.abspath(dataset.root), 'split': dataset.split,
            'image_size': str(dataset.image_size),
            'resize_mode': getattr(dataset, 'resize', 'squash'),
            'mean': dataset.mean.flatten().tolist(),
            'std': dataset.std.flatten().tolist(), 'ignore_index': dataset.ignore_index,
            'class_names': list(dataset.class_names), 'files': files}


def backbone_fingerprint(backbone: torch.nn.Module) -> str:
    """SHA-256 of the backbone's variant and the bytes of every parameter and buffer."""
    digest = hashlib.sha256(str(getattr(backbone, 'spec', type(backbone))).encode())
    for name, tensor in backbone.state_dict().items():
        digest.update(name.encode())
        data = tensor.detach().to('cpu').contiguous()
        digest.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b'')
    return digest.hexdigest()


def cache_key(dataset: Any, backbone: torch.nn.Module, backbone_key: str = '',
              autocast_dtype: Optional[torch.dtype] = None,
              label_size: Optional[Tuple[int, int]] = None) -> str:
    """Return the cache directory name for dataset, backbone and compute (24 hex digits).

    backbone_key: backbone_fingerprint(backbone) when the caller already has it;
    autocast_dtype: the backbone's compute dtype (None = float32); label_size: (H', W') of
    the stored labels (None = the input size).
    """
    import timm
    text = json.dumps({'dataset': dataset_fingerprint(dataset),
                       'backbone': backbone_key or backbone_fingerprint(backbone),
                       'compute_dtype': str(autocast_dtype or torch.float32),
                       'torch': torch.__version__, 'timm': timm.__version__,
                       'resize': RESIZE_METHOD,
                       'label_size': list(label_size) if label_size else None,
                       'format': 2},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class FeatureCache:
    """The memmaps of one cache directory; N samples of features (C, h, w), labels (H, W)."""

    def __init__(self, directory: str, count: int, feature_shape: Sequence[int],
                 label_shape: Sequence[int], mode: str = 'r') -> None:
        self.directory = directory
        self.count = int(count)
        self.feature_shape = tuple(int(v) for v in feature_shape)
        self.label_shape = tuple(int(v) for v in label_shape)
        self.features = np.memmap(self._file('features.f16'), np.float16, mode,
                                  shape=(self.count,) + self.feature_shape)
        self.labels = np.memmap(self._file('labels.u8'), np.uint8, mode,
                                shape=(self.count,) + self.label_shape)
        self.done = np.memmap(self._file('done.u8'), np.uint8, mode, shape=(self.count,))

    def _file(self, name: str) -> str:
        return os.path.join(self.directory, name)

    @property
    def meta_path(self) -> str:
        """meta.json: present only once every sample is cached."""
        return self._file('meta.json')

    @property
    def complete(self) -> bool:
        """True when meta.json exists (every sample written and flushed)."""
        return os.path.isfile(self.meta_path)

    def write(self, indices: Sequence[int], features: torch.Tensor,
              labels: torch.Tensor) -> None:
        """Store a batch (features (B, C, h, w), labels (B, H, W)); flush, then mark done."""
        rows = np.asarray(indices, dtype=np.int64)
        feats = features.detach().float().clamp_(-FP16_MAX, FP16_MAX).to(torch.float16)
        self.features[rows] = feats.cpu().numpy()
        self.labels[rows] = labels.to(torch.uint8).cpu().numpy()
        self.features.flush()
        self.labels.flush()
        self.done[rows] = 1
        self.done.flush()

    def finish(self, meta: Dict[str, Any]) -> None:
        """Write meta.json atomically (marks the cache complete)."""
        tmp = self.meta_path + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as stream:
            json.dump(meta, stream, indent=1)
        os.replace(tmp, self.meta_path)


class CachedFeatureDataset(Dataset):
    """Samples of a complete cache: {'features': float16 (C, h, w), 'label': int64 (H, W)}.

    The memmaps are opened lazily in each process (DataLoader workers never pickle them).
    """

    def __init__(self, directory: str, count: int, feature_shape: Sequence[int],
                 label_shape: Sequence[int]) -> None:
        self.args = (directory, count, tuple(feature_shape), tuple(label_shape))
        self._cache: Optional[FeatureCache] = None

    @property
    def cache(self) -> FeatureCache:
        """The read-only memmaps (opened on first use)."""
        if self._cache is None:
            self._cache = FeatureCache(*self.args)
        return self._cache

    def __getstate__(self) -> Dict[str, Any]:
        return {'args': self.args, '_cache': None}

    def __len__(self) -> int:
        return self.args[1]

    def __getitem__(self, index: int) -> Dict[str, Any]:
        cache = self.cache
        return {'features': torch.from_numpy(np.array(cache.features[index])),
                'label': torch.from_numpy(cache.labels[index].astype(np.int64)),
                'index': index}


def _shapes(dataset: Any, backbone: torch.nn.Module, label_size: Optional[Tuple[int, int]]
            ) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    size = dataset.image_size
    if size is None or size.mode != 'fixed':
        raise ConfigError(f'data.image_size: the feature cache needs a fixed WxH size, got '
                          f'{size}')
    patch = backbone.patch_size
    return ((backbone.embed_dim, size.height // patch, size.width // patch),
            tuple(label_size) if label_size else (size.height, size.width))


def labels_at(labels: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Nearest-resize labels (B, H, W) to size (H', W'), exactly as resize_for_loss does."""
    if tuple(labels.shape[-2:]) == tuple(size):
        return labels
    return F.interpolate(labels.unsqueeze(1).float(), size=tuple(size),
                         mode='nearest').squeeze(1).to(labels.dtype)


def open_or_build(dataset: Any, backbone: torch.nn.Module, root: str, ctx: DistContext,
                  batch_size: int = 16, num_workers: int = 0,
                  autocast_dtype: Optional[torch.dtype] = None,
                  progress: bool = False, backbone_key: str = '',
                  label_size: Optional[Tuple[int, int]] = None) -> CachedFeatureDataset:
    """Return the cache of (dataset, backbone), computing missing samples first.

    Every rank computes its share of the missing samples; rank 0 creates the files and
    marks the cache complete. dataset must be un-augmented (no transform). backbone_key:
    backbone_fingerprint(backbone) if known (it hashes every weight). label_size: store
    labels nearest-resized to (H', W') (the loss resolution; None = the input size).
    """
    if dataset.transform is not None:
        raise ConfigError('the feature cache needs a dataset without augmentation')
    if label_size is not None and not all(label_size):
        label_size = None
    key = cache_key(dataset, backbone, backbone_key, autocast_dtype, label_size)
    directory = os.path.join(root, key)
    feature_shape, label_shape = _shapes(dataset, backbone, label_size)
    count = len(dataset)
    if ctx.is_main:
        os.makedirs(directory, exist_ok=True)
        exists = os.path.isfile(os.path.join(directory, 'done.u8'))
        FeatureCache(directory, count, feature_shape, label_shape, 'r+' if exists else 'w+')
    barrier(ctx)
    cache = FeatureCache(directory, count, feature_shape, label_shape, 'r+')
    if not cache.complete:
        todo = [i for i in shard(count, ctx) if not cache.done[i]]
        if todo:
            LOGGER.info('feature cache %s: computing %d of %d samples', directory, len(todo),
                        count)
            _compute(Subset(dataset, todo), todo, backbone, cache, ctx, batch_size,
                     num_workers, autocast_dtype, progress)
        barrier(ctx)
        if ctx.is_main:
            if not cache.done.all():
                raise RuntimeError(f'feature cache {directory} is incomplete after building')
            cache.finish({'key': key, 'count': count, 'feature_shape': list(feature_shape),
                          'label_shape': list(label_shape), 'split': dataset.split,
                          'root': os.path.abspath(dataset.root)})
        barrier(ctx)
    return CachedFeatureDataset(directory, count, feature_shape, label_shape)


@torch.no_grad()
def _compute(subset: Dataset, indices: List[int], backbone: torch.nn.Module,
             cache: FeatureCache, ctx: DistContext, batch_size: int, num_workers: int,
             autocast_dtype: Optional[torch.dtype], progress: bool) -> None:
    from tqdm import tqdm
    loader = DataLoader(subset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        pin_memory=ctx.device.type == 'cuda')
    position = 0
    bar = tqdm(total=len(indices), desc='feature cache', unit='img',
               disable=not (progress and ctx.is_main))
    for batch in loader:
        images = batch['image'].to(ctx.device, non_blocking=True)
        with autocast(ctx.device.type, autocast_dtype):
            features = backbone(images)
        rows = indices[position:position + len(images)]
        cache.write(rows, features, labels_at(batch['label'], cache.label_shape))
        position += len(images)
        bar.update(len(images))
    bar.close()
