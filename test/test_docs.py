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

"""The documentation: README.md and doc/*.md links resolve, the toctree lists every page, the
CHANGELOG follows package.xml, and Sphinx builds doc/ with warnings as errors.
"""

import glob
import os
import re
import subprocess
import sys
from typing import Dict, List, Tuple
from urllib.parse import unquote

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, 'doc')
README = os.path.join(ROOT, 'README.md')
FENCE = re.compile(r'^ {0,3}(```|~~~)')
INLINE_CODE = re.compile(r'(`+).*?\1')
# [text](target "title") and ![alt](target); the text may hold one level of brackets.
INLINE_LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^()\s<>]+)>?(?:\s+"[^"]*")?\s*\)')
REFERENCE_LINK = re.compile(r'^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$')
HEADING = re.compile(r'^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$')
SCHEME = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:')
MAX_README_LINES = 150


def pages() -> List[str]:
    """README.md and every Markdown page of doc/ (absolute paths)."""
    return [README] + sorted(glob.glob(os.path.join(DOC, '*.md')))


def prose_lines(text: str) -> List[Tuple[int, str]]:
    """(line number, line) of the text outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def links(text: str) -> List[Tuple[int, str]]:
    """(line number, target) of every Markdown link and image outside code."""
    found = []
    for number, line in prose_lines(text):
        reference = REFERENCE_LINK.match(line)
        if reference:
            found.append((number, reference.group(1)))
            continue
        prose = INLINE_CODE.sub('', line)
        found.extend((number, match.group(1)) for match in INLINE_LINK.finditer(prose))
    return found


def slug(title: str) -> str:
    """GitHub's (and myst-parser's) anchor of a heading: lower case, no punctuation, '-'."""
    title = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', title)  # a link in a heading keeps its text
    return re.sub(r'[^\w\- ]', '', title.strip().lower().replace(' ', '-'))


def anchors(text: str) -> List[str]:
    """Anchors of every heading outside code, duplicates numbered -1, -2 as GitHub does."""
    seen: Dict[str, int] = {}
    result = []
    for _, line in prose_lines(text):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            result.append(base if count == 0 else f'{base}-{count}')
    return result


def broken_links(path: str) -> List[str]:
    """'file:line: target (why)' for every relative link of the page that does not resolve."""
    with open(path, encoding='utf-8') as stream:
        text = stream.read()
    problems = []
    for number, target in links(text):
        if SCHEME.match(target):
            continue  # http(s), mailto: not checked here (no network in the tests)
        file_part, _, anchor = unquote(target).partition('#')
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) \
            if file_part else path
        where = f'{os.path.relpath(path, ROOT)}:{number}: {target}'
        if not os.path.exists(resolved):
            problems.append(f'{where} (no such file)')
        elif anchor and resolved.endswith('.md'):
            with open(resolved, encoding='utf-8') as stream:
                if anchor not in anchors(stream.read()):
                    problems.append(f'{where} (no heading with that anchor)')
    return problems


def test_link_parser_skips_code_and_reports_missing_targets(tmp_path):
    page = tmp_path / 'page.md'
    (tmp_path / 'there.md').write_text(
        '# A `code` title: with, punctuation\n\n## Twice\n## Twice\n')
    page.write_text('\n'.join([
        '# Page', '', '[ok](there.md#a-code-title-with-punctuation) [dup](there.md#twice-1)',
        '![missing image](images/none.png) [web](https://example.invalid/x.md)',
        '`[in code](nowhere.md)` [self](#page) [bad anchor](there.md#nope)',
        '```', '[in a fence](nowhere.md)', '```', '[ref]: gone.md']))
    problems = broken_links(str(page))
    assert [p.split(': ', 1)[1] for p in problems] == [
        'images/none.png (no such file)', 'there.md#nope (no heading with that anchor)',
        'gone.md (no such file)']


@pytest.mark.parametrize('path', pages(), ids=lambda p: os.path.relpath(p, ROOT))
def test_relative_links_resolve(path):
    assert not broken_links(path), '\n'.join(broken_links(path))


def test_readme_is_a_front_page_linking_into_doc():
    with open(README, encoding='utf-8') as stream:
        text = stream.read()
    assert len(text.splitlines()) <= MAX_README_LINES
    targets = [target for _, target in links(text)]
    for page in ('install', 'node', 'robot_integration', 'backends', 'training', 'benchmarks',
                 'development'):
        assert f'doc/{page}.md' in targets, f'README.md does not link doc/{page}.md'
    images = [t for t in targets if t.lower().endswith(('.png', '.jpg', '.jpeg'))]
    assert images, 'README.md shows no picture'
    assert all(os.path.getsize(os.path.join(ROOT, image)) < 150_000 for image in images)


def test_toctree_lists_every_doc_page():
    with open(os.path.join(DOC, 'index.md'), encoding='utf-8') as stream:
        text = stream.read()
    toctree = re.search(r'```\{toctree\}\n(.*?)```', text, re.S)
    assert toctree, 'doc/index.md has no toctree'
    entries = {line.strip() for line in toctree.group(1).splitlines()
               if line.strip() and not line.startswith(':')}
    names = {os.path.splitext(os.path.basename(p))[0] for p in pages()[1:]} - {'index'}
    assert names == entries, f'toctree {sorted(entries)} vs doc/ pages {sorted(names)}'


@pytest.mark.filterwarnings('ignore::DeprecationWarning')  # catkin_pkg's docutils calls
def test_changelog_starts_with_the_package_version():
    with open(os.path.join(ROOT, 'package.xml'), encoding='utf-8') as stream:
        version = re.search(r'<version>([^<]+)</version>', stream.read()).group(1)
    with open(os.path.join(ROOT, 'CHANGELOG.rst'), encoding='utf-8') as stream:
        text = stream.read()
    assert 'Changelog for package dinov3_seg_ros' in text
    newest = re.search(r'^(\d+\.\d+\.\d+) \((\d{4}-\d{2}-\d{2})\)\n-+$', text, re.M)
    assert newest and newest.group(1) == version
    changelog = pytest.importorskip('catkin_pkg.changelog')
    parsed = changelog.get_changelog_from_path(os.path.join(ROOT, 'CHANGELOG.rst'))
    assert [v for v, _, _ in parsed.foreach_version()][0] == version


def test_sphinx_builds_doc_with_warnings_as_errors(tmp_path):
    pytest.importorskip('sphinx')
    pytest.importorskip('myst_parser')
    result = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q', '-b', 'html',
         '-d', str(tmp_path / 'doctrees'), DOC, str(tmp_path / 'html')],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / 'html' / 'index.html').is_file()
