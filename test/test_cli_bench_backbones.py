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

"""dinov3-seg-bench --backbones: variants side by side, one table (figures checked for shape)."""

import json

import pytest

from dinov3_seg_ros.cli import bench
from dinov3_seg_ros.benchmark.backbones import child_argv
from dinov3_seg_ros.core.variants import BACKBONES


def test_children_get_the_options_but_not_the_list():
    argv = ['--backbones', 'vits16,convnext_tiny', '--rounds=2', '--size', '80x60',
            '--backbone', 'vitb16', '--json', '-q']
    assert child_argv(argv) == ['--size', '80x60', '-q']


@pytest.mark.slow  # two child benchmarks
def test_two_backbones_side_by_side_with_every_variant_listed(capsys):
    code = bench.main(['--backbones', 'vits16,convnext_tiny', '--rounds', '1', '--size',
                       '80x60', '--input-size', '64', '--repeat', '1', '--warmup', '0',
                       '--backend', 'torch', '--device', 'cpu', '--no-overlay', '-q'])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    rows = {r['backbone']: r for r in result['rows']}
    assert list(rows) == ['vits16', 'convnext_tiny'] + [
        b for b in BACKBONES if b not in ('vits16', 'convnext_tiny')]
    assert rows['convnext_tiny']['feature_channels'] == 768
    assert rows['vits16']['feature_channels'] == 384
    assert 27 < rows['convnext_tiny']['parameters_m'] < 29  # Meta: 29M with its norms
    for name in ('vits16', 'convnext_tiny'):
        assert rows[name]['ms_per_frame'] > 0 and rows[name]['rss_mb'] > 0
        assert result['reports'][name]['backend'] == 'torch'
    assert 'ms_per_frame' not in rows['convnext_large']
    assert rows['convnext_large']['feature_channels'] == 1536
    assert any(line.startswith('| convnext_tiny |') for line in lines)
