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

"""dinov3-seg-eval: one-line errors; scores at the original label resolution."""

import json
import os

import cv2
import numpy as np
import pytest
import torch

from dinov3_seg_ros.cli.evaluate import main
from dinov3_seg_ros.core.preprocess import resize_rgb
from dinov3_seg_ros.core.heads import build_head, HeadConfig


def test_head_of_the_wrong_width_is_one_line_before_the_data(capsys, tmp_path):
    wide = tmp_path / 'wide.pth'
    torch.save(build_head(HeadConfig(in_channels=768, num_classes=7)).state_dict(), wide)
    code = main(['--checkpoint', str(wide), '--data', str(tmp_path / 'no_data'),
                 '--backbone', 'vits16', '--out', str(tmp_path / 'eval'), '--no-progress'])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and 'WARNING' not in line]
    assert code == 2 and 'Traceback' not in err
    assert len(lines) == 1 and lines[0].startswith('error: '), err
    assert 'wide.pth' in lines[0] and '768' in lines[0] and '384' in lines[0], lines[0]
    assert not (tmp_path / 'eval').exists()


@pytest.mark.parametrize('case', ['missing', 'folder', 'workers'])
def test_bad_arguments_name_their_flag_in_one_line(capsys, tmp_path, case):
    args = {'missing': ['--checkpoint', str(tmp_path / 'nope.pth')],
            'folder': ['--checkpoint', str(tmp_path)],
            'workers': ['--checkpoint', str(tmp_path / 'nope.pth'), '--workers', '-1']}[case]
    code = main(args + ['--data', str(tmp_path), '--out', str(tmp_path / 'eval')])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    expected = {'missing': "--checkpoint: '", 'folder': 'is a directory',
                'workers': '--workers must be >= 0, got -1'}[case]
    assert err.startswith('error: ') and expected in err


def _write_nonsquare_set(root, sizes, num_classes):
    rng = np.random.default_rng(0)
    os.makedirs(root / 'val', exist_ok=True)
    os.makedirs(root / 'semantic_val', exist_ok=True)
    (root / 'semantic_val' / 'class_names.txt').write_text(
        ''.join(f'class{i}\n' for i in range(num_classes)))
    for n, (height, width) in enumerate(sizes):
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        label = rng.integers(0, num_classes, (height // 8 + 1, width // 8 + 1)).astype(np.uint8)
        label = np.kron(label, np.ones((8, 8), np.uint8))[:height, :width].copy()
        label[:3, :5] = 255  # void
        cv2.imwrite(str(root / 'val' / f'im{n}.png'), image)
        cv2.imwrite(str(root / 'semantic_val' / f'im{n}.png'), label)


def _direct_scores(root, checkpoint, size, num_classes):
    """Features, logits and metrics computed here without the CLI's evaluation code."""
    from dinov3_seg_ros.core.backbone import build_backbone
    from dinov3_seg_ros.core.checkpoint import load_head_checkpoint
    from dinov3_seg_ros.core.postprocess import reference_labels
    from dinov3_seg_ros.training.datasets import SemanticSegmentationDataset
    torch.manual_seed(0)
    backbone = build_backbone('vits16', '')
    head = load_head_checkpoint(str(checkpoint)).build().eval()
    dataset = SemanticSegmentationDataset(str(root), 'val', image_size=size,
                                          mean=backbone.mean, std=backbone.std)
    mat = np.zeros((num_classes, num_classes), np.int64)
    for image_path, label_path in dataset.samples:
        target = cv2.imread(label_path, cv2.IMREAD_UNCHANGED).astype(np.int64)
        rgb = cv2.cvtColor(cv2.imread(image_path), cv2.COLOR_BGR2RGB)
        h, w = dataset.output_size(*rgb.shape[:2])
        x = dataset.normalize(torch.from_numpy(resize_rgb(rgb, h, w)).permute(2, 0, 1))[None]
        with torch.no_grad():
            pred = reference_labels(head(backbone(x)), *target.shape)
        for t, p in zip(target.ravel(), pred.ravel()):
            if t != 255:
                mat[t, p] += 1
    tp, gt, pr = np.diag(mat), mat.sum(1), mat.sum(0)
    present = gt > 0
    iou = tp[present] / (gt + pr - tp)[present]
    return mat, iou.mean(), (tp[present] / gt[present]).mean(), tp.sum() / mat.sum()


@pytest.mark.parametrize('size', ['64x48', '64'])
def test_eval_scores_at_original_resolution_like_a_direct_computation(tmp_path, size):
    num_classes = 4
    root = tmp_path / 'data'
    _write_nonsquare_set(root, [(45, 70), (90, 52), (33, 33)], num_classes)
    checkpoint = tmp_path / 'head.pth'
    torch.manual_seed(1)
    head = build_head(HeadConfig(in_channels=384, num_classes=num_classes, proj_channels=16,
                                 branch_channels=8, num_branches=2))
    torch.save(head.state_dict(), checkpoint)
    out = tmp_path / 'eval'
    code = main(['--checkpoint', str(checkpoint), '--data', str(root), '--split', 'val',
                 '--input-size', size, '--out', str(out), '--workers', '0', '--no-progress',
                 '--num-overlays', '2', '--batch-size', '2', '--backbone', 'vits16'])
    assert code == 0
    report = json.loads((out / 'report.json').read_text())
    mat, miou, mean_acc, pixel_acc = _direct_scores(root, checkpoint, size, num_classes)
    assert (np.load(out / 'confusion.npy') == mat).all()
    assert report['pixels'] == mat.sum() == 45 * 70 + 90 * 52 + 33 * 33 - 3 * 3 * 5
    assert report['miou'] == pytest.approx(miou, abs=1e-12)
    assert report['mean_accuracy'] == pytest.approx(mean_acc, abs=1e-12)
    assert report['pixel_accuracy'] == pytest.approx(pixel_acc, abs=1e-12)
    assert 'original' in report['resolution'] and report['images'] == 3
    assert sorted(os.listdir(out / 'overlays')) == ['im0.jpg', 'im1.jpg']
    assert cv2.imread(str(out / 'overlays' / 'im1.jpg')).shape == (90, 52, 3)
    assert os.path.getsize(out / 'confusion.png') > 1000
