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

"""ament_flake8-style check: package, tests, launch files, setup.py and doc/conf.py are clean."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ('dinov3_seg_ros', 'test', 'launch', 'setup.py', 'doc/conf.py')


def test_flake8():
    pytest.importorskip('flake8')
    # the [flake8] section of setup.cfg sets max-line-length = 99 and the excludes
    result = subprocess.run(
        [sys.executable, '-m', 'flake8', '--config', os.path.join(ROOT, 'setup.cfg'),
         *[t for t in TARGETS if os.path.exists(os.path.join(ROOT, t))]],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (
        f'flake8 found {len(result.stdout.splitlines())} problem(s):\n'
        f'{result.stdout}{result.stderr}')
