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

"""doc/cli.md's table of model options is the one definition (core/options.py), rendered.

Regenerate the table after changing an option: python test/test_doc_cli.py
"""

import importlib
import os

from dinov3_seg_ros.cli.options import cli_help
from dinov3_seg_ros.core.options import MODEL_OPTIONS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, 'doc', 'cli.md')
COMMANDS = (('dinov3-seg-infer', 'infer'), ('dinov3-seg-export', 'export'),
            ('dinov3-seg-bench', 'bench'), ('dinov3-seg-eval', 'evaluate'),
            ('dinov3-seg-bench-cache', 'bench_cache'))


def _flags(module):
    """(dest, flag) of the CLI's flags that are model options (help from the table)."""
    parser = importlib.import_module(f'dinov3_seg_ros.cli.{module}').build_parser()
    names = {spec.name for spec in MODEL_OPTIONS}
    return {(action.dest, s) for action in parser._actions for s in action.option_strings
            if action.dest in names and action.help.startswith(cli_help(action.dest))}


def render():
    """Return the Markdown table of the model options (flag, parameter, commands, text)."""
    flags = {command: _flags(module) for command, module in COMMANDS}
    rows = ['| flag | node parameter | node default | commands | description |',
            '| --- | --- | --- | --- | --- |']
    for spec in MODEL_OPTIONS:
        commands = [c.replace('dinov3-seg-', '') for c, _ in COMMANDS
                    if (spec.name, spec.flag) in flags[c]]
        text = cli_help(spec.name).replace('%%', '%').replace('|', '\\|').replace('<', '&lt;')
        if spec.deprecated:
            text += f' Old spelling: {", ".join(spec.deprecated)} (deprecated).'
        default = f'`{spec.default!r}`' if spec.default != '' else 'empty'
        rows.append(f'| `{spec.flag}` | {f"`{spec.name}`" if spec.node else "(CLI only)"} | '
                    f'{default} | {", ".join(commands) or "-"} | {text} |')
    return '\n'.join(rows) + '\n'


def test_the_doc_table_is_the_option_table_rendered():
    with open(DOC, encoding='utf-8') as stream:
        text = stream.read()
    assert render() in text, 'doc/cli.md is stale: regenerate it with python test/test_doc_cli.py'
    assert '## CLI options' in text


if __name__ == '__main__':
    print(render(), end='')
