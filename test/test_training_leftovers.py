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

"""A save killed half-way leaves a .tmp-*.pth; the next (resumed) run removes it."""

import os
import subprocess
import sys
import textwrap

from dinov3_seg_ros.cli import train as train_cli
from test_training_engine import train_args
from test_training_feature_cache import prepare_dataset


def killed_save(directory):
    """Run atomic_save in a child that dies (os._exit, like SIGKILL) inside torch.save."""
    script = textwrap.dedent(f'''
        import os
        import torch
        from dinov3_seg_ros.core.checkpoint import atomic_save

        def die(obj, stream):
            stream.write(b'partial checkpoint')
            stream.flush()
            os._exit(9)
        torch.save = die
        atomic_save({{'state_dict': {{}}}}, os.path.join({str(directory)!r}, 'last.pth'))
    ''')
    code = subprocess.run([sys.executable, '-c', script], timeout=300).returncode
    assert code == 9
    return sorted(n for n in os.listdir(directory) if n.startswith('.tmp-'))


def test_resume_removes_the_temporary_file_of_a_killed_save(tmp_path, capsys):
    root = prepare_dataset(tmp_path / 'coco', (('train2017', 4, 0), ('val2017', 2, 1)))
    run_dir = str(tmp_path / 'run')
    checkpoints = os.path.join(run_dir, 'checkpoints')
    assert train_cli.main(train_args(root, run_dir, 'stages=[{epochs: 1}]')) == 0
    left = killed_save(checkpoints)
    assert len(left) == 1 and left[0].endswith('.pth')
    capsys.readouterr()
    assert train_cli.main(train_args(root, run_dir, 'stages=[{epochs: 2}]',
                                     '--resume', 'auto')) == 0
    assert not [n for n in os.listdir(checkpoints) if n.startswith('.tmp-')]
    said = [line for line in capsys.readouterr().err.splitlines() if 'interrupted save' in line]
    assert len(said) == 1 and left[0] in said[0]
