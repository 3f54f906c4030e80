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
"""dinov3-seg-cache: list or clear the compiled-model cache (backends.model_cache).

Examples: dinov3-seg-cache list; dinov3-seg-cache clear --cache-dir /data/dinov3_cache.
list prints one line per entry (key, size, date, model, and why it is unusable if so)
and the total; clear removes every entry and OpenVINO's compiled blobs (the next start
rebuilds what it needs). Torch-free.
"""

import argparse
from typing import Optional, Sequence

from dinov3_seg_ros.cli.common import run_cli
from dinov3_seg_ros.core.backends import model_cache
from dinov3_seg_ros.core.errors import ConfigError


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser."""
    parser = argparse.ArgumentParser(prog='dinov3-seg-cache',
                                     description=__doc__.split('\n')[0].split(': ', 1)[1])
    parser.add_argument('action', choices=('list', 'clear'), help='what to do')
    parser.add_argument('--cache-dir', default='', metavar='DIR',
                        help='the cache folder (default: $XDG_CACHE_HOME/dinov3_seg_ros, '
                             'else ~/.cache/dinov3_seg_ros)')
    return parser


def _main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    folder = model_cache.resolve_cache_dir(args.cache_dir)
    if folder is None:
        raise ConfigError(f'--cache-dir {args.cache_dir!r}: name a folder')
    if args.action == 'clear':
        freed = model_cache.clear(folder)
        print(f'cleared {folder}: {freed / 2**20:.1f} MiB freed')
        return 0
    entries = model_cache.list_entries(folder)
    for entry in entries:
        state = f'  UNUSABLE: {entry["problem"]}' if entry['problem'] else ''
        print(f'{entry["key"]}  {entry["bytes"] / 2**20:8.1f} MiB  {entry["created"] or "-"}'
              f'  {entry["about"] or "-"}{state}')
    total = sum(entry['bytes'] for entry in entries)
    print(f'{len(entries)} entries, {total / 2**20:.1f} MiB in {folder}')
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console-script entry point."""
    return run_cli(_main, argv)


if __name__ == '__main__':
    raise SystemExit(main())
