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

"""dinov3-seg-train with a wrong path: one error line naming the setting, before the model."""

import os

import pytest

from dinov3_seg_ros.cli import train as train_cli
from test_training_engine import SMALL
from test_training_feature_cache import prepare_dataset


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return prepare_dataset(tmp_path_factory.mktemp('coco'), (('train2017', 2, 0),
                                                             ('val2017', 2, 1)))


def test_wrong_paths_are_one_line_before_the_backbone_is_built(root, tmp_path, capsys):
    a_file = tmp_path / 'a_file'
    a_file.write_text('')
    run = str(tmp_path / 'run')
    cases = (
        (['--config', str(tmp_path / 'nope.yaml')], f'config file {tmp_path}/nope.yaml does '
                                                    'not exist; give a training YAML'),
        (['--config', str(tmp_path)], f'config file {tmp_path} is a folder'),
        ([f'data.root={tmp_path / "nope"}', f'run.dir={run}'],
         f'data.root: {tmp_path}/nope does not exist; set it to the dataset folder'),
        ([f'data.root={a_file}', f'run.dir={run}'], f'data.root: {a_file} is a file'),
        ([f'data.root={root}', f'run.dir={run}', 'data.train_split=train2071'],
         f"data.train_split: no image folder {root}/train2071 for split 'train2071'"),
        ([f'data.root={root}', f'run.dir={run}', 'data.format=folder'],
         f"data.train_split: no image folder {root}/train2017/images"),
        ([f'data.root={root}', f'run.dir={a_file}'], f'run.dir: {a_file} is a file; name a '
                                                     'folder'),
        ([f'data.root={root}', f'run.dir={run}', '--resume', str(tmp_path / 'nope.pth')],
         f"--resume checkpoint file not found: '{tmp_path}/nope.pth'"))
    for argv, message in cases:
        assert train_cli.main(SMALL + argv) == 2
        err = capsys.readouterr().err.splitlines()
        assert err == [f'error: {message}'] or (len(err) == 1 and err[0].startswith(
            f'error: {message}')), err  # no random-weights warning: the model was not built
    assert not os.path.exists(run)
