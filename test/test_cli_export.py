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

"""dinov3-seg-export from the command line: random weights, bad files (one line, no output)."""

import shutil

import numpy as np
import pytest

pytest.importorskip('onnxruntime')

from dinov3_seg_ros.cli import export as export_cli  # noqa: E402
from dinov3_seg_ros.core.config import ModelConfig  # noqa: E402
from dinov3_seg_ros.core.export.metadata import read_metadata  # noqa: E402


def test_export_without_weights_builds_the_model_infer_builds(photos, tmp_path, capsys):
    from dinov3_seg_ros.core.segmenter import Segmenter
    out = str(tmp_path / 'random.onnx')
    code = export_cli.main(['--out', out, '--input-size', '96', '--exporter', 'legacy',
                            '--seed', '5', '-q'])
    assert code == 0, capsys.readouterr()
    assert 'UNTRAINED' in capsys.readouterr().out and read_metadata(out)['untrained']
    rgb = photos['astronaut']  # 512x512 -> 96x96
    common = dict(input_size='96', device='cpu', warmup=0)
    torch_seg = Segmenter(ModelConfig(backend='torch', seed=5, **common))
    ort_seg = Segmenter(ModelConfig(backend='onnxruntime', onnx_model=out, **common))
    assert ort_seg.untrained and torch_seg.untrained
    expected, got = torch_seg(rgb).labels, ort_seg(rgb).labels
    assert (got == expected).mean() >= 0.999
    assert len(np.unique(expected)) > 1  # a real comparison, not two constant maps
    other = Segmenter(ModelConfig(backend='torch', seed=6, **common))(rgb).labels
    assert (other == expected).mean() < 0.9  # the seed matters: the check above can fail


def test_export_cli_reports_bad_files_in_one_line(upstream_head_reference, tmp_path, capsys):
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(b'\x00garbage')
    out = tmp_path / 'model.onnx'
    assert export_cli.main(['--head-weights', str(bad), '--out', str(out), '-q']) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('error:') and len(err.splitlines()) == 1 and 'bad.pth' in err
    shutil.copy(upstream_head_reference[1], tmp_path / 'head.pth')
    assert export_cli.main(['--head-weights', str(tmp_path / 'head.pth'), '--out',
                            str(tmp_path / 'absent_dir' / 'm.onnx'), '-q']) == 2
    assert 'does not exist' in capsys.readouterr().err
    assert not out.exists()
