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

"""Compute-precision choice: CPU bf16 flags mocked both ways, the CUDA rule, the log-once."""

import logging
import subprocess
import sys

import pytest
import torch

from dinov3_seg_ros.core import precision
from dinov3_seg_ros.core.device import resolve_torch_dtype, select_dtype
from dinov3_seg_ros.core.errors import ConfigError

REAL_CPU_FLAGS = precision.cpu_flags  # conftest pins cpu_flags to frozenset() per test
AVX512_ONLY = frozenset({'fpu', 'sse2', 'avx2', 'avx512f', 'avx512bw'})


def _cpuinfo(tmp_path, flags):
    path = tmp_path / 'cpuinfo'
    path.write_text('processor\t: 0\nvendor_id\t: GenuineIntel\n'
                    f'flags\t\t: {" ".join(flags)}\n\nprocessor\t: 1\nflags\t\t: fpu\n')
    return str(path)


def test_cpu_flags_reads_the_first_flags_line(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, 'cpu_flags', REAL_CPU_FLAGS)
    path = _cpuinfo(tmp_path, ['fpu', 'avx512_bf16', 'amx_tile'])
    assert precision.cpu_flags(path) == {'fpu', 'avx512_bf16', 'amx_tile'}


def test_unreadable_cpuinfo_gives_no_flags_and_no_bf16(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, 'cpu_flags', REAL_CPU_FLAGS)
    assert precision.cpu_flags(str(tmp_path / 'missing')) == frozenset()
    assert precision.cpu_flags(str(tmp_path)) == frozenset()  # a directory: OSError
    monkeypatch.setattr(precision, 'CPUINFO', str(tmp_path / 'missing'))
    assert not precision.cpu_has_native_bf16()
    assert precision.resolve_dtype('auto', 'cpu')[0] == 'float32'


@pytest.mark.parametrize('flags, native', [
    (AVX512_ONLY, False),
    (AVX512_ONLY | {'avx512_bf16'}, True),
    (AVX512_ONLY | {'amx_bf16', 'amx_tile'}, True),
    ({'amx_tile', 'avx512_fp16'}, False),  # neither is a bf16 matmul instruction
    ((), False),
])
def test_native_bf16_comes_from_the_flags_only(flags, native):
    assert precision.cpu_has_native_bf16(flags) is native


@pytest.mark.parametrize('flags, expected', [
    (AVX512_ONLY, 'float32'), (AVX512_ONLY | {'avx512_bf16'}, 'bfloat16'),
    (frozenset({'amx_bf16'}), 'bfloat16'), (frozenset(), 'float32')])
def test_auto_on_the_cpu_follows_the_mocked_capabilities(monkeypatch, flags, expected):
    monkeypatch.setattr(precision, 'cpu_flags', lambda path=None: frozenset(flags))
    name, reason = precision.resolve_dtype('auto', 'cpu')
    assert name == expected
    assert ('native bf16' in reason) and (('no native' in reason) == (expected == 'float32'))
    assert select_dtype('auto', torch.device('cpu')) == getattr(torch, expected)
    assert resolve_torch_dtype('auto', torch.device('cpu')) == (getattr(torch, expected), reason)


@pytest.mark.parametrize('supported, expected', [(True, 'bfloat16'), (False, 'float16')])
def test_auto_on_cuda_is_bf16_where_supported_else_fp16(supported, expected):
    name, reason = precision.resolve_dtype('auto', 'cuda:1', cuda_bf16=supported)
    assert name == expected and 'dinov3#181' in reason


def test_auto_on_cuda_probes_torch_lazily(monkeypatch):
    calls = []
    monkeypatch.setattr(precision, '_probe_cuda_bf16', lambda: calls.append(1) or True)
    assert precision.resolve_dtype('auto', 'cuda')[0] == 'bfloat16' and calls == [1]
    assert precision.resolve_dtype('auto', 'cuda', cuda_bf16=False)[0] == 'float16'
    assert calls == [1]  # a given answer is not probed again


@pytest.mark.parametrize('device', ['cpu', 'cuda'])
@pytest.mark.parametrize('requested', ['float32', 'bfloat16'])
def test_explicit_dtypes_pass_through(monkeypatch, requested, device):
    monkeypatch.setattr(precision, 'cpu_flags', lambda path=None: frozenset())
    assert precision.resolve_dtype(requested, device, cuda_bf16=False)[0] == requested


def test_float16_is_kept_on_cuda_and_falls_back_on_the_cpu(caplog):
    assert precision.resolve_dtype('float16', 'cuda', cuda_bf16=True)[0] == 'float16'
    assert precision.resolve_dtype('float16', 'cpu')[0] == 'float32'
    with caplog.at_level(logging.WARNING):
        assert select_dtype('float16', torch.device('cpu')) == torch.float32
    assert 'not supported on the CPU' in caplog.text


def test_unknown_dtype_is_a_config_error():
    with pytest.raises(ValueError, match='half'):
        precision.resolve_dtype('half', 'cpu')
    with pytest.raises(ConfigError, match="'half'"):
        select_dtype('half', torch.device('cpu'))


def test_the_choice_is_logged_once_at_info(monkeypatch, caplog):
    monkeypatch.setattr(precision, '_LOGGED', set())
    monkeypatch.setattr(precision, 'cpu_flags', lambda path=None: frozenset({'avx512_bf16'}))
    with caplog.at_level(logging.INFO, logger='dinov3_seg_ros.core.precision'):
        for _ in range(3):
            select_dtype('auto', torch.device('cpu'))
    records = [r for r in caplog.records if r.name == 'dinov3_seg_ros.core.precision']
    assert len(records) == 1 and records[0].levelno == logging.INFO
    assert 'bfloat16' in records[0].getMessage() and 'avx512_bf16' in records[0].getMessage()


def test_precision_does_not_import_torch():
    code = ('import sys; import dinov3_seg_ros.core.precision as p; p.cpu_flags(); '
            "p.resolve_dtype('auto', 'cpu'); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, '-c', code], check=True)
