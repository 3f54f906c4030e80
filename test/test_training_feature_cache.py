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

"""The feature cache: same loss as the live backbone, never stale, resumable build."""

import os

import numpy as np
import pytest
import torch

from coco_fixture import write_synthetic_coco_panoptic
from dinov3_seg_ros.core.backbone import build_backbone
from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.core.heads import ASPPHead, HeadConfig
from dinov3_seg_ros.training.coco_panoptic import convert_job, plan_conversion, write_class_names
from dinov3_seg_ros.training.datasets import SemanticSegmentationDataset
from dinov3_seg_ros.training.distributed import DistContext
from dinov3_seg_ros.training.feature_cache import (backbone_fingerprint, cache_key, FeatureCache,
                                                   open_or_build)
from dinov3_seg_ros.training.losses import FocalDiceLoss


def prepare_dataset(root, splits=(('train2017', 16, 0), ('val2017', 8, 1)), size=(64, 64)):
    """Write the synthetic COCO panoptic fixture and convert it to semantic label PNGs."""
    for split, count, seed in splits:
        write_synthetic_coco_panoptic(str(root), split, count, size, seed)
        out = os.path.join(str(root), f'semantic_{split}')
        layout, jobs = plan_conversion(str(root), split, out)
        os.makedirs(out, exist_ok=True)
        write_class_names(out, layout.names)
        for job in jobs:
            convert_job(job)
    return str(root)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return prepare_dataset(tmp_path_factory.mktemp('coco'), (('train2017', 6, 0),))


@pytest.fixture(scope='module')
def backbone():
    torch.manual_seed(0)
    return build_backbone('vits16')


def open_train(root, transform=None):
    bb_mean, bb_std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    return SemanticSegmentationDataset(root, 'train2017', transform=transform,
                                       image_size='64x64', mean=bb_mean, std=bb_std)


def test_cached_features_give_the_live_backbone_loss(data_root, backbone, tmp_path):
    dataset = open_train(data_root)
    cached = open_or_build(dataset, backbone, str(tmp_path), DistContext(), batch_size=4)
    assert len(cached) == len(dataset)
    torch.manual_seed(1)
    head = ASPPHead(HeadConfig(384, dataset.num_classes, 32, 16, 2)).eval()
    loss_fn = FocalDiceLoss(ignore_index=dataset.ignore_index)
    rows = [0, 2, 3, 5]
    images = torch.stack([dataset[i]['image'] for i in rows])
    labels = torch.stack([dataset[i]['label'] for i in rows])
    with torch.no_grad():
        live_features = backbone(images)
        live = loss_fn(head(live_features), labels)
        items = [cached[i] for i in rows]
        features = torch.stack([item['features'] for item in items])
        assert features.dtype == torch.float16
        assert torch.equal(torch.stack([item['label'] for item in items]), labels)
        from_cache = loss_fn(head(features.float()), labels)
    scale = live_features.abs().max()
    assert (features.float() - live_features).abs().max() <= scale * 2 ** -10
    assert live.total.item() > 0.5  # a random head: a real, non-trivial loss
    torch.testing.assert_close(from_cache.total, live.total, rtol=2e-3, atol=1e-4)
    torch.testing.assert_close(from_cache.focal, live.focal, rtol=2e-3, atol=1e-4)
    torch.testing.assert_close(from_cache.dice, live.dice, rtol=2e-3, atol=1e-4)


def test_cache_key_changes_with_weights_and_data(data_root, backbone, tmp_path):
    dataset = open_train(data_root)
    key = cache_key(dataset, backbone)
    assert key == cache_key(open_train(data_root), backbone)
    assert key == cache_key(dataset, backbone, backbone_fingerprint(backbone))  # precomputed
    other = build_backbone('vits16')
    other.load_state_dict(backbone.state_dict())
    assert cache_key(dataset, other) == key  # same weights, same key
    with torch.no_grad():
        other.model.blocks[3].mlp.fc1.weight[0, 0] += 1e-3
    assert cache_key(dataset, other) != key
    label_path = dataset.samples[1][1]
    original = open(label_path, 'rb').read()
    try:
        with open(label_path, 'ab') as stream:
            stream.write(b'\0')  # a changed file (size and mtime) is a different dataset
        assert cache_key(open_train(data_root), backbone) != key
    finally:
        with open(label_path, 'wb') as stream:
            stream.write(original)


def test_interrupted_build_resumes_only_missing_samples(data_root, backbone, tmp_path):
    dataset = open_train(data_root)
    cached = open_or_build(dataset, backbone, str(tmp_path), DistContext(), batch_size=4)
    directory, count, feature_shape, label_shape = cached.args
    reference = np.array(cached.cache.features)
    cache = FeatureCache(directory, count, feature_shape, label_shape, 'r+')
    cache.features[1] = 0  # lost before its flag was set: must be recomputed
    cache.features[4] = 7  # flagged done: must be kept as is (not recomputed)
    cache.done[1] = 0
    cache.features.flush()
    cache.done.flush()
    os.unlink(cache.meta_path)
    resumed = open_or_build(dataset, backbone, str(tmp_path), DistContext(), batch_size=4)
    features = np.array(resumed.cache.features)
    np.testing.assert_array_equal(features[1], reference[1])
    assert np.all(features[4] == 7)
    assert resumed.cache.complete and resumed.cache.done.all()


def test_augmented_dataset_is_refused(data_root, backbone, tmp_path):
    dataset = open_train(data_root, transform=lambda image, label: (image, label))
    with pytest.raises(ConfigError, match='without augmentation'):
        open_or_build(dataset, backbone, str(tmp_path), DistContext())


def test_cache_key_changes_with_dtype_versions_and_preprocessing(data_root, backbone,
                                                                 monkeypatch):
    import timm
    dataset = open_train(data_root)
    key = cache_key(dataset, backbone)
    assert cache_key(dataset, backbone, autocast_dtype=torch.float32) == key
    keys = {key, cache_key(dataset, backbone, autocast_dtype=torch.bfloat16),
            cache_key(dataset, backbone, autocast_dtype=torch.float16),
            cache_key(dataset, backbone, label_size=(32, 32))}
    other_std = SemanticSegmentationDataset(data_root, 'train2017', image_size='64x64',
                                            mean=(0.485, 0.456, 0.406), std=(0.2, 0.2, 0.2))
    keys.add(cache_key(other_std, backbone))
    other_size = SemanticSegmentationDataset(data_root, 'train2017', image_size='64x48',
                                             mean=(0.485, 0.456, 0.406),
                                             std=(0.229, 0.224, 0.225))
    keys.add(cache_key(other_size, backbone))
    monkeypatch.setattr(timm, '__version__', '0.0.1')
    keys.add(cache_key(dataset, backbone))
    monkeypatch.setattr(torch, '__version__', '0.0.1')
    keys.add(cache_key(dataset, backbone))
    assert len(keys) == 8


def test_cache_stores_labels_at_the_loss_resolution(data_root, backbone, tmp_path):
    dataset = open_train(data_root)
    cached = open_or_build(dataset, backbone, str(tmp_path), DistContext(), batch_size=4,
                           label_size=(32, 32))
    labels = torch.stack([dataset[i]['label'] for i in range(len(dataset))])
    stored = torch.stack([cached[i]['label'] for i in range(len(cached))])
    assert stored.shape == (len(dataset), 32, 32)
    assert torch.equal(stored, labels[:, ::2, ::2])  # nearest, as resize_for_loss
    assert os.path.getsize(os.path.join(cached.args[0], 'labels.u8')) == len(dataset) * 32 * 32
    torch.manual_seed(1)
    head = ASPPHead(HeadConfig(384, dataset.num_classes, 32, 16, 2)).eval()
    loss_fn = FocalDiceLoss(ignore_index=dataset.ignore_index, target_size=(32, 32))
    with torch.no_grad():
        features = torch.stack([cached[i]['features'] for i in range(len(cached))]).float()
        logits = head(features)
        torch.testing.assert_close(loss_fn(logits, stored).total, loss_fn(logits, labels).total)
