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


"""Training logs: one INFO line per epoch by default, optional TensorBoard scalars."""

import os

import pytest

from dinov3_seg_ros.cli import train as train_cli
from dinov3_seg_ros.training.tensorboard_log import summary_writer_class, TensorBoardLog
from test_training_engine import train_args
from test_training_feature_cache import prepare_dataset


@pytest.fixture(scope='module')
def tiny_root(tmp_path_factory):
    return prepare_dataset(tmp_path_factory.mktemp('coco'), (('train2017', 4, 0),
                                                             ('val2017', 2, 1)))


def test_epoch_loss_and_miou_logged_at_default_verbosity(tiny_root, tmp_path, capsys):
    args = train_args(tiny_root, str(tmp_path / 'run'), 'stages=[{epochs: 2}]',
                      'run.eval_every_epochs=2')
    assert train_cli.main(args) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if ' epoch ' in line]
    epochs = [line for line in lines if 'loss' in line and 'val mIoU' in line]
    assert len(epochs) == 2
    assert 'epoch 1/2' in epochs[0] and 'val mIoU not evaluated' in epochs[0]
    assert 'epoch 2/2' in epochs[1] and 'val mIoU 0.' in epochs[1]
    assert train_cli.main(args[:1] + [f'run.dir={tmp_path / "quiet"}'] + args[2:] + ['-q']) == 0
    assert 'val mIoU' not in capsys.readouterr().err


@pytest.mark.skipif(__import__('importlib').util.find_spec('tensorboard') is not None,
                    reason='tensorboard is installed')
def test_tensorboard_requested_but_missing_is_one_line(tiny_root, tmp_path, capsys):
    code = train_cli.main(train_args(tiny_root, str(tmp_path / 'run'), 'run.tensorboard=true'))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith('error:')]
    assert code == 2 and len(lines) == 1 and 'Traceback' not in err
    assert 'run.tensorboard' in lines[0] and 'not installed' in lines[0]
    assert not os.path.exists(tmp_path / 'run' / 'checkpoints' / 'last.pth')
    with pytest.raises(Exception, match='pip install tensorboard'):
        summary_writer_class()


class FakeWriter:
    def __init__(self, log_dir):
        self.log_dir, self.scalars, self.closed = log_dir, [], False

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))

    def flush(self):
        pass

    def close(self):
        self.closed = True


def test_tensorboard_log_mirrors_metrics_records(tmp_path):
    log = TensorBoardLog(str(tmp_path), FakeWriter)
    log.write({'kind': 'step', 'step': 5, 'loss': 0.5, 'lr': 1e-4, 'images_per_s': 3.0})
    log.write({'kind': 'epoch', 'step': 6, 'loss': 0.4, 'focal': 0.1, 'dice': 0.3})
    log.write({'kind': 'eval', 'step': 6, 'miou': 0.25, 'pixel_accuracy': 0.8,
               'val_loss': 0.7, 'per_class_iou': {'sky': 0.5, 'cat': None}})
    log.close()
    assert log.writer.log_dir == str(tmp_path) and log.writer.closed
    assert log.writer.scalars == [
        ('train/loss', 0.5, 5), ('train/lr', 1e-4, 5), ('train/images_per_s', 3.0, 5),
        ('epoch/loss', 0.4, 6), ('epoch/focal', 0.1, 6), ('epoch/dice', 0.3, 6),
        ('val/miou', 0.25, 6), ('val/pixel_accuracy', 0.8, 6), ('val/loss', 0.7, 6),
        ('val_iou/sky', 0.5, 6)]
