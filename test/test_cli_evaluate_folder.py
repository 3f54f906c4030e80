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

"""dinov3-seg-eval on a data.format=folder dataset; its errors name eval's own options."""

import json
import os

from dinov3_seg_ros.cli.evaluate import main
from dinov3_seg_ros.core.heads import build_head, HeadConfig
import pytest
import torch

from test_training_folder_dataset import CLASSES, write_folder_dataset


@pytest.fixture
def folder_set(tmp_path):
    root = tmp_path / 'mydata'
    write_folder_dataset(str(root), 'val', 3, 1)
    torch.manual_seed(1)
    head = build_head(HeadConfig(in_channels=384, num_classes=len(CLASSES), proj_channels=16,
                                 branch_channels=8, num_branches=2))
    torch.save(head.state_dict(), tmp_path / 'head.pth')
    return root, tmp_path / 'head.pth'


def run(root, checkpoint, out, *extra):
    return main(['--checkpoint', str(checkpoint), '--data', str(root), '--split', 'val',
                 '--input-size', '64x48', '--out', str(out), '--workers', '0',
                 '--no-progress', '--num-overlays', '0', '--backbone', 'vits16', *extra])


def test_eval_reads_a_folder_dataset(folder_set, tmp_path):
    root, checkpoint = folder_set
    assert run(root, checkpoint, tmp_path / 'auto') == 0  # found by its images/ folder
    report = json.loads((tmp_path / 'auto' / 'report.json').read_text())
    assert report['images'] == 3 and report['pixels'] == 3 * 47 * 64  # void row ignored
    assert sorted(report['per_class_iou']) == sorted(CLASSES)
    assert run(root, checkpoint, tmp_path / 'named', '--format', 'folder') == 0
    named = json.loads((tmp_path / 'named' / 'report.json').read_text())
    assert named['miou'] == report['miou']


def test_folder_errors_name_eval_options(folder_set, tmp_path, capsys):
    root, checkpoint = folder_set
    os.rename(root / 'classes.txt', tmp_path / 'names.txt')
    assert run(root, checkpoint, tmp_path / 'e1') == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith('error:') and '--classes-file' in err and '--format folder' in err
    assert 'data.' not in err.replace(str(root), '')
    assert run(root, checkpoint, tmp_path / 'e2', '--classes-file',
               str(tmp_path / 'names.txt')) == 0
