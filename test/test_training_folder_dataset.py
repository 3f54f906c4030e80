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


"""data.format folder: images/, masks/ (class-id PNGs) and classes.txt, trained end to end."""

import os

import cv2
import numpy as np
import pytest

from dinov3_seg_ros.cli import train as train_cli
from dinov3_seg_ros.core.checkpoint import load_head_checkpoint
from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.training.datasets import SemanticSegmentationDataset
from dinov3_seg_ros.training.plots import read_records
from dinov3_seg_ros.training.train_config import flatten, TrainConfig
from test_training_engine import SMALL

CLASSES = ['floor', 'wall', 'box']


def write_folder_dataset(root, split, count, seed, size=(48, 64)):
    """Images whose colour follows the mask: class 0 dark, 1 mid, 2 bright; void on a border."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, split, 'images'))
    os.makedirs(os.path.join(root, split, 'masks'))
    height, width = size
    for i in range(count):
        mask = np.zeros(size, np.uint8)
        mask[:, width // 2:] = 1
        y, x = rng.integers(0, height - 16), rng.integers(0, width - 16)
        mask[y:y + 16, x:x + 16] = 2
        image = (np.stack([mask * 100] * 3, -1) + rng.integers(0, 30, size + (3,))).astype(
            np.uint8)
        mask[0] = 255
        cv2.imwrite(os.path.join(root, split, 'images', f'im{i:02d}.jpg'), image)
        cv2.imwrite(os.path.join(root, split, 'masks', f'im{i:02d}.png'), mask)
    with open(os.path.join(root, 'classes.txt'), 'w') as stream:
        stream.write('\n'.join(CLASSES) + '\n')


def test_folder_dataset_trains_one_epoch(tmp_path):
    root = str(tmp_path / 'mydata')
    write_folder_dataset(root, 'train', 8, 0)
    write_folder_dataset(root, 'val', 4, 1)
    dataset = SemanticSegmentationDataset(root, 'val', image_size='64x48', mean=(0.5,) * 3,
                                          std=(0.25,) * 3, layout='folder')
    assert dataset.class_names == CLASSES and len(dataset) == 4
    sample = dataset[0]
    assert tuple(sample['image'].shape) == (3, 48, 64)
    assert set(sample['label'].unique().tolist()) <= {0, 1, 2, 255}
    assert (sample['label'][0] == 255).all()
    run_dir = str(tmp_path / 'run')
    args = [f'data.root={root}', 'data.format=folder', 'data.train_split=train',
            'data.val_split=val', f'run.dir={run_dir}', *SMALL, 'data.image_size=64x48',
            'stages=[{epochs: 1}]']
    assert train_cli.main(args) == 0
    checkpoint = load_head_checkpoint(os.path.join(run_dir, 'checkpoints', 'last.pth'))
    assert checkpoint.class_names == CLASSES and checkpoint.input_size == '64x48'
    records = read_records(os.path.join(run_dir, 'metrics.jsonl'))
    evals = [r for r in records if r['kind'] == 'eval']
    assert [r['kind'] for r in records if r['kind'] != 'step'] == ['epoch', 'eval']
    assert evals[0]['images'] == 4 and sorted(evals[0]['per_class_iou']) == sorted(CLASSES)
    assert evals[0]['pixels'] == 4 * 47 * 64  # the void top row is ignored


def test_folder_dataset_errors_name_the_layout(tmp_path):
    root = str(tmp_path / 'mydata')
    write_folder_dataset(root, 'train', 2, 0)
    os.unlink(os.path.join(root, 'train', 'masks', 'im01.png'))
    with pytest.raises(ConfigError, match=r'1 of 2 images have no label .*masks'):
        SemanticSegmentationDataset(root, 'train', mean=(0.5,) * 3, std=(0.25,) * 3,
                                    layout='folder')
    os.unlink(os.path.join(root, 'classes.txt'))
    with pytest.raises(ConfigError, match='classes.txt .*data.format folder') as error:
        SemanticSegmentationDataset(root, 'train', mean=(0.5,) * 3, std=(0.25,) * 3,
                                    layout='folder')
    hint = 'data.class_names_file'  # the hint names a setting that exists
    assert hint in str(error.value) and hint in flatten(TrainConfig().to_dict())
