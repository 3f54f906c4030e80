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

"""dinov3-seg-bench --compare on a tiny model: report shape, baseline, agreement ranges."""

import json

import pytest

from dinov3_seg_ros.cli import bench

ROW_KEYS = {'backend', 'precision', 'total_ms', 'model_ms', 'non_model_ms', 'speedup',
            'label_agreement', 'feature_cosine'}


def test_compare_json_has_a_row_per_backend_and_precision(capsys):
    pytest.importorskip('onnxruntime')
    argv = ['--compare', '--json', '--backbone', 'vits16', '--size', '64x48', '--input-size',
            '64', '--frames', '1', '--exporter', 'legacy', '-q']
    assert bench.main(argv) == 0
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1
    report = json.loads(out)
    assert report['baseline'] == 'torch/float32' and isinstance(report['cpu_flags_bf16'], bool)
    names = [f"{r['backend']}/{r['precision']}" for r in report['rows']]
    assert names[0] == 'torch/float32' and 'onnxruntime/float32' in names
    assert 'torch/bfloat16' in names and len(set(names)) == len(names)
    for row in report['rows']:
        assert ROW_KEYS <= set(row), row
        assert 0.0 <= row['label_agreement'] <= 1.0 and -1.0 <= row['feature_cosine'] <= 1.0
        assert row['total_ms'] >= row['model_ms'] > 0
    base = report['rows'][0]
    assert base['speedup'] == 1.0 and base['label_agreement'] == 1.0
    ort = report['rows'][names.index('onnxruntime/float32')]
    assert ort['label_agreement'] > 0.99 and ort['feature_cosine'] > 0.999


def test_compare_rejects_a_missing_int8_model(capsys, tmp_path):
    argv = ['--compare', '--int8-model', str(tmp_path / 'no.xml'), '--size', '64x48', '-q']
    assert bench.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert '--int8-model' in err and len(err.splitlines()) == 1
