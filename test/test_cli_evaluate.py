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

"""dinov3-seg-eval: a head that does not fit the backbone is one error line, before loading."""

import torch

from dinov3_seg_ros.cli.evaluate import main
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
