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

"""ament_copyright-style check: every Python file starts with the Apache-2.0 header."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = {'.git', '.venv', 'build', 'install', 'log', 'demo_output', '__pycache__',
             '.pytest_cache'}


def python_files(root: str):
    """Yield every .py file of the source tree (build outputs and venvs excluded)."""
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs
                            if d not in SKIP_DIRS and not d.endswith('.egg-info'))
        for name in sorted(files):
            if name.endswith('.py'):
                yield os.path.join(directory, name)


def test_every_python_file_has_the_license_header():
    with open(os.path.join(ROOT, '.license_header.txt')) as stream:
        header = stream.read()
    assert 'Apache License, Version 2.0' in header
    files = list(python_files(ROOT))
    assert len(files) > 10
    missing = []
    for path in files:
        with open(path, encoding='utf-8') as stream:
            text = stream.read()
        if text.startswith('#!'):  # a shebang line may precede the header
            text = text.split('\n', 1)[1] if '\n' in text else ''
        if not text.startswith(header):
            missing.append(os.path.relpath(path, ROOT))
    assert not missing, f'files without the license header: {missing}'
