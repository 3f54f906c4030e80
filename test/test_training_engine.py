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

"""Training end to end: learning, checkpoints for the node, eval CLI, exact resume, DDP."""

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch

from dinov3_seg_ros.cli import evaluate as eval_cli
from dinov3_seg_ros.cli import train as train_cli
from dinov3_seg_ros.core.checkpoint import load_head_checkpoint
from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.training.checkpointing import CheckpointKeeper, TrainingState
from dinov3_seg_ros.training.optim import lr_factor
from dinov3_seg_ros.training.plots import read_records
from dinov3_seg_ros.training.train_config import dump_config, load_config, ScheduleConfig
from test_training_feature_cache import prepare_dataset

SMALL = ['data.image_size=64', 'model.backbone=vits16', 'model.backbone_weights=',
         'model.head.proj_channels=32', 'model.head.branch_channels=16',
         'model.head.num_branches=2', 'run.num_workers=0', 'run.progress=false',
         'optim.batch_size=4']


def train_args(root, run_dir, *extra):
    return [f'data.root={root}', f'run.dir={run_dir}', *SMALL, *extra]


def chance_miou(root, split='val2017'):
    """Best mIoU of a constant prediction (every pixel one class) on the split's labels."""
    folder = os.path.join(root, f'semantic_{split}')
    labels = np.concatenate([cv2.imread(os.path.join(folder, f), cv2.IMREAD_UNCHANGED).ravel()
                             for f in sorted(os.listdir(folder)) if f.endswith('.png')])
    labels = labels[labels != 255]
    present = np.unique(labels)
    return max(np.mean(labels == c) / len(present) for c in present)


@pytest.fixture(scope='module')
def learned_run(tmp_path_factory):
    """48 training images, 24 epochs from the feature cache of a random vits16."""
    root = prepare_dataset(tmp_path_factory.mktemp('coco'),
                           (('train2017', 48, 0), ('val2017', 16, 1)))
    run_dir = str(tmp_path_factory.mktemp('run'))
    code = train_cli.main(train_args(root, run_dir, 'stages=[{epochs: 24}]',
                                     'optim.lr=3e-3', 'optim.batch_size=8',
                                     'run.eval_every_epochs=12', 'run.keep_best=1'))
    assert code == 0
    return root, run_dir


def test_head_learns_far_above_chance(learned_run):
    root, run_dir = learned_run
    evals = [r for r in read_records(os.path.join(run_dir, 'metrics.jsonl'))
             if r['kind'] == 'eval']
    chance = chance_miou(root)
    print(f'held-out mIoU {evals[-1]["miou"]:.3f} vs constant-prediction chance {chance:.3f}')
    assert [r['epoch'] for r in evals] == [12, 24]
    assert evals[-1]['miou'] > max(0.5, 5 * chance)
    epochs = [r for r in read_records(os.path.join(run_dir, 'metrics.jsonl'))
              if r['kind'] == 'epoch']
    assert epochs[-1]['loss'] < 0.7 * epochs[0]['loss']
    for name in ('loss.png', 'miou.png', 'per_class_iou.png'):
        assert os.path.getsize(os.path.join(run_dir, 'plots', name)) > 1000


def test_training_checkpoint_loads_in_the_node_loader(learned_run):
    root, run_dir = learned_run
    path = os.path.join(run_dir, 'checkpoints', 'last.pth')
    checkpoint = load_head_checkpoint(path)
    payload = torch.load(path, weights_only=True)
    with open(os.path.join(root, 'semantic_val2017', 'class_names.txt')) as stream:
        assert checkpoint.class_names == stream.read().split('\n')[:6]
    assert checkpoint.backbone == 'vits16' and checkpoint.input_size == '64x64'
    assert checkpoint.head.num_classes == 6 and checkpoint.head.proj_channels == 32
    assert len(checkpoint.mean) == 3 and len(checkpoint.std) == 3
    head = checkpoint.build()
    for key, value in head.state_dict().items():
        assert torch.equal(value, payload['state_dict'][key])
    assert payload['epoch'] == 24 and payload['step'] == 144 and payload['stage'] == 1
    assert payload['rng']['torch'].dtype == torch.uint8
    assert {'optimizer', 'scheduler', 'scaler', 'config', 'best_metric'} <= set(payload)
    best = os.listdir(os.path.join(run_dir, 'checkpoints'))
    assert sorted(best) == ['best-e024.pth', 'best.pth', 'last.pth']  # keep_best=1


def test_eval_cli_writes_json_report_and_plots(learned_run, tmp_path, capsys):
    root, run_dir = learned_run
    checkpoint = os.path.join(run_dir, 'checkpoints', 'best.pth')
    out = str(tmp_path / 'eval')
    code = eval_cli.main(['--checkpoint', checkpoint, '--data', root, '--split', 'val2017',
                          '--out', out, '--workers', '0', '--no-progress',
                          '--resolution', 'input'])
    assert code == 0
    with open(os.path.join(out, 'report.json')) as stream:
        report = json.load(stream)
    metric = torch.load(checkpoint, weights_only=True)['metric']
    assert report['miou'] == pytest.approx(metric, abs=0.02)  # cache fp16 vs live fp32
    assert report['images'] == 16 and list(report['per_class_iou']) == load_head_checkpoint(
        checkpoint).class_names
    assert 0 < report['pixel_accuracy'] <= 1
    assert 'mIoU' in capsys.readouterr().out
    for name in ('per_class_iou.png', 'loss.png', 'miou.png'):
        assert os.path.getsize(os.path.join(out, name)) > 1000


def test_bad_image_and_config_errors_are_one_line(tmp_path, capsys):
    root = prepare_dataset(tmp_path / 'coco', (('train2017', 4, 0), ('val2017', 2, 1)))
    assert train_cli.main(train_args(root, str(tmp_path / 'r0'), 'optim.lrate=1')) == 2
    assert 'optim.lrate: unknown key' in capsys.readouterr().err
    assert train_cli.main(train_args(root, str(tmp_path / 'r0'), 'stages.0.lr=fast')) == 2
    assert "stages.0.lr: expected a number, got 'fast'" in capsys.readouterr().err
    bad = os.path.join(root, 'val2017', sorted(os.listdir(os.path.join(root, 'val2017')))[0])
    with open(bad, 'wb') as stream:
        stream.write(b'not a jpeg')
    assert train_cli.main(train_args(root, str(tmp_path / 'r1'), 'stages=[{epochs: 1}]')) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and bad in errors[0] and 'Traceback' not in err


def _env():
    env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()),
               PYTHONDONTWRITEBYTECODE='1')
    env.pop('WORLD_SIZE', None)
    return env


RESUME = ['stages=[{epochs: 2, augment: true, feature_cache: false}, {epochs: 1}]',
          'augment={hflip: 0.5, rotate: 10, color_jitter: {brightness: 0.3, p: 0.5}}',
          'run.checkpoint_every_steps=1', 'schedule.type=cosine', 'schedule.warmup_steps=2',
          'optim.lr=1e-3']


def test_sigkill_and_resume_reaches_the_same_weights(tmp_path):
    """8 images, batch 4: 6 steps over an augmented live stage and a cached stage."""
    root = prepare_dataset(tmp_path / 'coco', (('train2017', 8, 0), ('val2017', 4, 1)))
    straight, killed = str(tmp_path / 'straight'), str(tmp_path / 'killed')
    assert train_cli.main(train_args(root, straight, *RESUME)) == 0  # never interrupted
    command = [sys.executable, '-m', 'dinov3_seg_ros.cli.train']
    last = os.path.join(killed, 'checkpoints', 'last.pth')
    proc = subprocess.Popen(command + train_args(root, killed, *RESUME), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not os.path.exists(last) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL, 'the run ended before it could be killed'
    interrupted = torch.load(last, weights_only=True)
    assert 0 < interrupted['step'] < 6
    resumed = subprocess.run(command + train_args(root, killed, *RESUME) + ['--resume', 'auto'],
                             env=_env(), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = torch.load(os.path.join(straight, 'checkpoints', 'last.pth'), weights_only=True)
    b = torch.load(last, weights_only=True)
    assert a['step'] == b['step'] == 6
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key in a['state_dict']:
        assert torch.equal(a['state_dict'][key], b['state_dict'][key]), key
    for index, state in a['optimizer']['state'].items():
        assert torch.equal(state['exp_avg'], b['optimizer']['state'][index]['exp_avg'])
    logs = [[(r['kind'], r['epoch'], r['step'], r.get('loss'), r.get('miou'))
             for r in read_records(os.path.join(d, 'metrics.jsonl')) if r['kind'] != 'step']
            for d in (straight, killed)]
    assert logs[0] == logs[1] and len(logs[0]) == 6  # 3 epoch + 3 eval records, no duplicates


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_two_process_ddp_run_with_gloo(tmp_path):
    root = prepare_dataset(tmp_path / 'coco')
    run_dir = str(tmp_path / 'ddp')
    command = [sys.executable, '-m', 'torch.distributed.run', '--nnodes', '1',
               '--nproc-per-node', '2', '--master-addr', '127.0.0.1',
               '--master-port', str(_free_port()), '-m', 'dinov3_seg_ros.cli.train',
               *train_args(root, run_dir, 'run.device=cpu',
                           'stages=[{epochs: 1, augment: true, feature_cache: false}, '
                           '{epochs: 1}]', 'augment={hflip: 0.5}')]
    env = _env()
    env['OMP_NUM_THREADS'] = '1'
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    records = read_records(os.path.join(run_dir, 'metrics.jsonl'))
    evals = [r for r in records if r['kind'] == 'eval']
    assert [r['kind'] for r in records if r['kind'] != 'step'] == ['epoch', 'eval'] * 2
    folder = os.path.join(root, 'semantic_val2017')
    labels = [cv2.imread(os.path.join(folder, f), cv2.IMREAD_UNCHANGED)
              for f in os.listdir(folder) if f.endswith('.png')]
    # Each rank evaluated half the images: the all-reduced matrix counts every pixel once.
    assert evals[-1]['images'] == 8
    assert evals[-1]['pixels'] == sum(int((label != 255).sum()) for label in labels)
    payload = torch.load(os.path.join(run_dir, 'checkpoints', 'last.pth'), weights_only=True)
    assert payload['step'] == 4  # 16 images / 2 ranks / batch 4 = 2 steps per epoch
    caches = os.listdir(os.path.join(run_dir, 'feature_cache'))
    assert len(caches) == 2  # train and val, each filled by both ranks
    for key in caches:
        done_flags = np.fromfile(os.path.join(run_dir, 'feature_cache', key, 'done.u8'),
                                 np.uint8)
        assert done_flags.all()
    assert load_head_checkpoint(os.path.join(run_dir, 'checkpoints', 'last.pth'))


def test_config_overrides_and_key_errors(tmp_path):
    config = load_config('config/train_coco_panoptic.yaml',
                         ['optim.lr=3e-4', 'stages.1.epochs=2', 'loss.alpha=[0.5, 2]'])
    assert config.optim.lr == 3e-4 and config.stages[1].epochs == 2
    assert config.loss.alpha == [0.5, 2.0] and config.loss.target_size == 320
    assert [(s.epochs, s.lr, s.augment, s.feature_cache) for s in load_config(
        'config/train_coco_panoptic.yaml').stages] == [(15, 1e-4, True, False),
                                                       (15, 1e-5, False, True)]
    dump_config(config, str(tmp_path / 'resolved.yaml'))
    assert load_config(str(tmp_path / 'resolved.yaml')) == config
    for override, message in (('stages.2.epochs=1', 'stages.2: no such list entry'),
                              ('run.amp=fp8', "run.amp: 'fp8' is not one of"),
                              ('data.image_size=100', 'data.image_size: 100x100 must be'),
                              ('augment.hflip=2', 'augment.hflip: expected a number'),
                              ('optim.lr=.nan', 'optim.lr: expected a finite number'),
                              ('loss.alpha=[0.5, .inf]', 'loss.alpha.1: expected a finite'),
                              ('model.head=3', 'model.head: expected a mapping')):
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_config('config/train_coco_panoptic.yaml', [override])


def test_lr_schedule_per_step():
    cosine = ScheduleConfig(type='cosine', warmup_steps=4, min_lr_ratio=0.1)
    factors = [lr_factor(step, 14, cosine) for step in range(14)]
    assert factors[:4] == pytest.approx([0.2, 0.4, 0.6, 0.8])  # linear warm-up
    assert factors[4] == pytest.approx(1.0)
    assert factors[9] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert all(a >= b for a, b in zip(factors[4:], factors[5:]))
    poly = ScheduleConfig(type='poly', power=2.0)
    assert lr_factor(5, 10, poly) == pytest.approx(0.25)
    assert lr_factor(7, 10, ScheduleConfig(type='constant')) == 1.0


def test_keeper_keeps_last_and_best_k(tmp_path):
    keeper = CheckpointKeeper(str(tmp_path), keep_best=2)
    state = TrainingState()
    for epoch, miou in enumerate([0.3, 0.5, 0.4, 0.2, 0.6], start=1):
        state.position.global_epoch = epoch
        keeper.save({'epoch': epoch}, state, miou, epoch)
    assert sorted(os.listdir(tmp_path)) == ['best-e002.pth', 'best-e005.pth', 'best.pth',
                                            'last.pth']
    assert torch.load(tmp_path / 'best.pth', weights_only=True)['epoch'] == 5
    last = torch.load(tmp_path / 'last.pth', weights_only=True)
    assert last['epoch'] == 5 and last['best_metric'] == pytest.approx(0.6)
    assert [b['file'] for b in last['training']['best']] == ['best-e005.pth', 'best-e002.pth']
