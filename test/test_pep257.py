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

"""ament_pep257-style check: docstrings of the package and launch files follow pep257."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# D100/D104: module/package docstrings optional, D105: magic methods, D107: __init__.
IGNORE = 'D100,D104,D105,D107'


def test_pep257():
    pytest.importorskip('pydocstyle')
    result = subprocess.run(
        [sys.executable, '-m', 'pydocstyle', '--convention=pep257', f'--add-ignore={IGNORE}',
         'dinov3_seg_ros', 'launch'],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    problems = [line for line in result.stdout.splitlines() if line.startswith(' ')]
    assert result.returncode == 0, (
        f'pydocstyle found {len(problems)} problem(s):\n{result.stdout}{result.stderr}')
