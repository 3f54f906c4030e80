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

"""Sphinx configuration of the user documentation (rosdoc2 layout: Markdown pages in doc/).

Build with `make docs` (warnings are errors); the HTML goes to doc/_build/html.
"""

import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))


def package_version() -> str:
    """Return the <version> of package.xml, the one version of the package."""
    with open(os.path.join(HERE, '..', 'package.xml'), encoding='utf-8') as stream:
        return re.search(r'<version>([^<]+)</version>', stream.read()).group(1)


project = 'dinov3_seg_ros'
author = 'The dinov3_seg_ros Authors'
copyright = '2026, The dinov3_seg_ros Authors'
release = version = package_version()

extensions = ['myst_parser']
source_suffix = {'.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['_build']
# GitHub-style anchors for headings down to ###, so `page.md#a-heading` links work in both.
myst_heading_anchors = 3
myst_enable_extensions = ['colon_fence']

html_theme = 'alabaster'
html_title = f'dinov3_seg_ros {release}'
html_static_path = []
