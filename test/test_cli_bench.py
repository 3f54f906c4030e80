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

"""dinov3-seg-bench smoke runs (tiny sizes; figures are checked for shape, never for speed)."""

import json

import pytest

from dinov3_seg_ros.cli import bench
from dinov3_seg_ros.benchmark import machine
from dinov3_seg_ros.benchmark.flops import backbone_flops, head_flops
from dinov3_seg_ros.core.heads import HeadConfig

STAGE_KEYS = ('preprocess_ms', 'backbone_ms', 'head_ms', 'postprocess_ms', 'overlay_ms',
              'total_ms')
POSITIVE_KEYS = ('preprocess_ms', 'backbone_ms', 'postprocess_ms', 'overlay_ms', 'total_ms',
                 'backbone_gflop', 'head_gflop', 'backbone_gflops', 'matmul_peak_gflops',
                 'backbone_pct_of_peak', 'threads')
TINY = ['--size', '80x60', '--input-size', '64', '--backbone', 'vits16', '--repeat', '2',
        '--warmup', '1', '--device', 'cpu', '--json', '-q']


def _run(argv, capsys):
    assert bench.main(argv) == 0
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1  # exactly one JSON object on stdout
    return json.loads(out)


def test_bench_torch_reports_every_stage_and_the_work(capsys):
    report = _run(TINY + ['--backend', 'torch'], capsys)
    for key in STAGE_KEYS + POSITIVE_KEYS + ('non_model_ms', 'non_model_pct_of_backbone'):
        assert key in report, key
    for key in POSITIVE_KEYS + ('head_ms',):
        assert report[key] > 0, key
    assert report['backend'] == 'torch' and report['device'] == 'cpu'
    assert report['size'] == '80x60' and report['input_size'] == '64x48'
    assert report['feature_grid'] == '4x3' and report['untrained'] is True
    assert report['backbone_gflop'] == pytest.approx(backbone_flops('vits16', 48, 64) / 1e9,
                                                     abs=1e-3)
    assert report['total_ms'] >= report['backbone_ms']
    assert set(report['cpu_isa'].split()) <= set(machine.ISA_FLAGS)


def test_the_cpu_is_described_by_model_cores_and_matmul_flags(monkeypatch):
    monkeypatch.setattr(machine, 'cpu_flags', lambda: frozenset({'sse2', 'fma', 'avx2',
                                                                 'avx512_bf16'}))
    monkeypatch.setattr(machine, 'cpu_model_name', lambda: 'AMD EPYC')
    monkeypatch.setattr(machine, 'physical_cores', lambda: 2)
    assert machine.cpu_isa() == 'avx2 fma avx512_bf16'
    assert machine.cpu_description() == 'AMD EPYC, 2 cores, flags avx2 fma avx512_bf16'
    monkeypatch.setattr(machine, 'cpu_flags', lambda: frozenset())
    assert machine.cpu_description().startswith('AMD EPYC, 2 cores, flags none of avx2 fma')


def test_bench_onnxruntime_exports_a_temporary_fused_model(capsys):
    pytest.importorskip('onnxruntime')
    report = _run(TINY + ['--backend', 'onnxruntime', '--exporter', 'legacy'], capsys)
    assert report['backend'] == 'onnxruntime' and report['head_ms'] == 0
    for key in POSITIVE_KEYS:
        assert report[key] > 0, key
    assert any('head_ms is 0' in note for note in report['notes'])
    assert any('temporary' in note for note in report['notes'])


@pytest.mark.parametrize('height, width', [(32, 32), (48, 64)])
def test_backbone_flops_match_the_vit_formula(height, width):
    # vits16: C = 384, 12 blocks, MLP 4C, N = patches + 5 prefix tokens (cls + 4 registers);
    # per block 2NC(3C + C + 8C) for the matmuls and 2 * 2N^2C for the attention.
    c, patches = 384, (height // 16) * (width // 16)
    n = patches + 5
    expected = 12 * (24 * n * c * c + 4 * n * n * c) + 2 * (3 * 16 * 16) * c * patches
    assert backbone_flops('vits16', height, width) == expected


def test_head_flops_scale_with_the_grid():
    config = HeadConfig(in_channels=384, num_classes=10)
    assert head_flops(config, 4, 4) == 4 * head_flops(config, 2, 2)  # convolutions only


def test_bad_size_is_one_line_and_exit_2(capsys):
    assert bench.main(['--size', '640by480', '-q']) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('error:') and '--size' in err and len(err.splitlines()) == 1


@pytest.mark.parametrize('option', [['--threads', '-1'], ['--repeat', '0'], ['--warmup', '-1']])
def test_bad_counts_are_one_line_and_exit_2(capsys, option):
    assert bench.main(['--size', '64x48', '-q'] + option) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('error:') and option[0] in err and len(err.splitlines()) == 1


def test_bf16_bench_is_held_to_the_bf16_matmul_peak(capsys):
    report = _run(TINY + ['--backend', 'torch', '--dtype', 'bfloat16', '--repeat', '1'], capsys)
    assert report['matmul_peak_dtype'] == 'bfloat16' and report['backbone_pct_of_peak'] > 0
    assert _run(TINY + ['--dtype', 'float32', '--repeat', '1'],
                capsys)['matmul_peak_dtype'] == 'float32'
