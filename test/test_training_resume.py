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


"""--resume: raising the epoch count continues training; bad resume files are one line."""

import os

import torch
import yaml

from dinov3_seg_ros.cli import train as train_cli
from dinov3_seg_ros.training.plots import read_records
from test_training_engine import train_args
from test_training_feature_cache import prepare_dataset


def _epochs(run_dir):
    return [r['epoch'] for r in read_records(os.path.join(run_dir, 'metrics.jsonl'))
            if r['kind'] == 'epoch']


def _config_epochs(run_dir):
    with open(os.path.join(run_dir, 'config.yaml')) as stream:
        return [s['epochs'] for s in yaml.safe_load(stream)['stages']]


def test_resume_auto_after_raising_epochs_trains_the_new_epoch(tmp_path, capsys):
    root = prepare_dataset(tmp_path / 'coco', (('train2017', 8, 0), ('val2017', 4, 1)))
    run_dir = str(tmp_path / 'run')
    last = os.path.join(run_dir, 'checkpoints', 'last.pth')
    assert train_cli.main(train_args(root, run_dir, 'stages=[{epochs: 1}]')) == 0
    first = torch.load(last, weights_only=True)
    assert first['epoch'] == 1 and first['step'] == 2 and _epochs(run_dir) == [1]
    # Same count: nothing to train, and the config is left as it was.
    assert train_cli.main(train_args(root, run_dir, 'stages=[{epochs: 1}]',
                                     'optim.lr=5e-4', '--resume', 'auto')) == 0
    assert 'nothing to train' in capsys.readouterr().err and _epochs(run_dir) == [1]
    with open(os.path.join(run_dir, 'config.yaml')) as stream:
        assert yaml.safe_load(stream)['optim']['lr'] == 1e-4
    assert train_cli.main(train_args(root, run_dir, 'stages=[{epochs: 2}]',
                                     '--resume', 'auto')) == 0
    lines = [line for line in capsys.readouterr().err.splitlines()
             if 'resum' in line or 'stages' in line or 'Position' in line]
    assert lines == [  # one INFO line in the config's terms, no WARN, no Position(...)
        f'INFO: resuming {last}: training goes on at epoch 2 of 2, after 2 optimizer steps; '
        'stages.0.epochs was raised from 1 to 2, so stage 0 continues with its learning-rate '
        'schedule stretched to 2 epochs']
    second = torch.load(last, weights_only=True)
    assert second['epoch'] == 2 and second['step'] == 4 and second['stage'] == 1
    assert _epochs(run_dir) == [1, 2] and _config_epochs(run_dir) == [2]
    assert second['scheduler']['total_steps'] == 4  # the extended schedule
    assert any(not torch.equal(first['state_dict'][k], second['state_dict'][k])
               for k in first['state_dict'])
    steps = [s['step'] for s in second['optimizer']['state'].values()]
    assert all(float(s) == 4 for s in steps)  # Adam state continued, not restarted
    evals = [r['epoch'] for r in read_records(os.path.join(run_dir, 'metrics.jsonl'))
             if r['kind'] == 'eval']
    assert evals == [1, 2]


def test_resume_cannot_change_a_finished_stage(tmp_path, capsys):
    root = prepare_dataset(tmp_path / 'coco', (('train2017', 4, 0), ('val2017', 2, 1)))
    run_dir = str(tmp_path / 'run')
    stages = 'stages=[{epochs: 1}, {epochs: 1}]'
    assert train_cli.main(train_args(root, run_dir, stages)) == 0
    code = train_cli.main(train_args(root, run_dir, 'stages=[{epochs: 3}, {epochs: 1}]',
                                     '--resume', 'auto'))
    assert code == 2
    err = capsys.readouterr().err
    assert 'stages.0.epochs: the checkpoint finished stage 0 after 1 epochs' in err
    assert _config_epochs(run_dir) == [1, 1]


def test_corrupt_or_directory_resume_file_is_one_line(tmp_path, capsys):
    root = prepare_dataset(tmp_path / 'coco', (('train2017', 4, 0), ('val2017', 2, 1)))
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(b'PK\x03\x04 truncated zip')
    for path, message in ((str(bad), 'truncated/corrupt'), (str(tmp_path), 'is a directory')):
        code = train_cli.main(train_args(root, str(tmp_path / 'r'), '--resume', path))
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.startswith('error:')]
        assert code == 2 and len(lines) == 1 and path in lines[0] and message in lines[0]
        assert 'Traceback' not in err


def test_checkpoints_follow_the_umask_and_best_is_a_link(tmp_path, monkeypatch):
    import stat
    from dinov3_seg_ros.training.checkpointing import CheckpointKeeper, link_best, TrainingState
    old = os.umask(0o027)
    try:
        keeper = CheckpointKeeper(str(tmp_path), keep_best=2)
        state = TrainingState()
        for epoch, miou in enumerate([0.3, 0.5, 0.4], start=1):
            keeper.save({'epoch': epoch}, state, miou, epoch)
    finally:
        os.umask(old)
    for name in ('last.pth', 'best-e002.pth', 'best-e003.pth'):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o640, name
    assert os.readlink(tmp_path / 'best.pth') == 'best-e002.pth'  # relative, no duplicate
    assert torch.load(tmp_path / 'best.pth', weights_only=True)['epoch'] == 2
    assert sorted(os.listdir(tmp_path)) == ['best-e002.pth', 'best-e003.pth', 'best.pth',
                                            'last.pth']

    def refuse(*args):
        raise OSError(1, 'Operation not permitted')

    monkeypatch.setattr(os, 'symlink', refuse)
    assert link_best(str(tmp_path / 'best-e003.pth'), str(tmp_path / 'best.pth')) == 'hardlink'
    assert os.path.samefile(tmp_path / 'best.pth', tmp_path / 'best-e003.pth')
    monkeypatch.setattr(os, 'link', refuse)
    assert link_best(str(tmp_path / 'best-e002.pth'), str(tmp_path / 'best.pth')) == 'copy'
    assert not os.path.islink(tmp_path / 'best.pth')
    assert torch.load(tmp_path / 'best.pth', weights_only=True)['epoch'] == 2
    assert not [n for n in os.listdir(tmp_path) if n.startswith('.tmp-')]


def test_resume_names_the_position_and_only_truly_changed_settings(caplog):
    from dinov3_seg_ros.training.checkpointing import Position
    from dinov3_seg_ros.training.resume import changed_settings, resume_line
    from dinov3_seg_ros.training.train_config import load_config
    config = load_config('', ['stages=[{epochs: 2}, {epochs: 3, lr: 1e-3}]'])
    saved = config.to_dict()
    now = load_config('', ['stages=[{epochs: 4}, {epochs: 3, lr: 2e-3}]',
                           'run.seed=9']).to_dict()
    assert changed_settings(saved, now) == ['stages.0.epochs', 'stages.1.lr']
    assert changed_settings(saved, now, (0, 2, 4)) == ['stages.1.lr']  # run.* never listed
    pos = Position(stage=1, epoch=1, batch=3, global_epoch=3, step=14, stage_step=9)
    assert resume_line('last.pth', pos, config) == (
        'resuming last.pth: training goes on at epoch 4 of 5 (stage 1, its epoch 2 of 3) '
        'from its batch 4, after 14 optimizer steps')
