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

"""argparse flags built from the one option table (core/options.py), and CLI-terms errors.

The node parameter `x_y` is the flag `--x-y` in every CLI, with the same description; an
option that takes several values takes them after one flag or from the flag repeated
(nargs='+', action='extend'). A renamed flag keeps its old spelling for one release: it
still works and prints one deprecation line.
"""

import argparse
import re
import sys
from typing import Any, Optional, Sequence

from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.core.options import flag_of, OPTIONS

SEVERAL = ' Several paths after one flag, or the flag repeated.'
_PREFIX = re.compile(r'^(\w+):')


class DeprecatedAlias(argparse.Action):
    """Store the value like the new flag and print one deprecation line to stderr."""

    def __init__(self, option_strings: Sequence[str], dest: str, new_flag: str = '',
                 **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.new_flag = new_flag
        self.warned = False

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: Optional[str] = None) -> None:
        """Warn once per parser, then store values under the new flag's dest."""
        if not self.warned:
            self.warned = True
            print(f'warning: {option_string} is deprecated and goes in the next release: use '
                  f'{self.new_flag}', file=sys.stderr, flush=True)
        setattr(namespace, self.dest, values)


def cli_help(name: str) -> str:
    """Return the option's description in CLI terms (argparse-escaped, no default)."""
    spec = OPTIONS[name]
    return (spec.text(cli=True) + (SEVERAL if spec.several else '')).replace('%', '%%')


def add_option(parser: Any, name: str, default: Any = None, note: str = '') -> None:
    """Add the flag of model option name to parser (an ArgumentParser or a group).

    default replaces the table's default for this CLI; note is appended to the help (what
    the option means in this command). Deprecated spellings get a hidden alias.
    """
    spec = OPTIONS[name]
    value = spec.default if default is None else default
    text = cli_help(name) + (f' {note}' if note else '')
    kwargs: dict = {'dest': name, 'help': text}
    if isinstance(spec.default, bool):
        kwargs.update(action='store_true', default=bool(value))
    elif spec.several:
        kwargs.update(nargs='+', action='extend', default=list(value or []))
    else:
        kwargs.update(default=value, type=type(spec.default))
        if value != '':
            kwargs['help'] += ' (default: %(default)s)'
    if spec.choices:
        kwargs['choices'] = spec.choices
    if spec.metavar:
        kwargs['metavar'] = spec.metavar
    parser.add_argument(spec.flag, **kwargs)
    for alias in spec.deprecated:
        parser.add_argument(alias, dest=name, action=DeprecatedAlias, new_flag=spec.flag,
                            help=argparse.SUPPRESS, metavar=spec.metavar or None)


def cli_terms(error: ConfigError) -> ConfigError:
    """Return error with a leading 'name:' of a node parameter as its flag ('--name:')."""
    message = str(error)
    match = _PREFIX.match(message)
    if not match or match.group(1) not in OPTIONS:
        return error
    return ConfigError(flag_of(match.group(1)) + message[match.end(1):])
