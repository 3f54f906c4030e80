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

"""dinov3-seg-bench --backbones: several DINOv3 variants side by side in one run.

Each listed variant runs the ordinary benchmark (same options, default backend and dtype
unless given) in its own process, so its resident memory is its own; --rounds repeats the
list (A B C, A B C, ...) and keeps each variant's fastest round, which filters out load from
other processes. Every other variant gets an untimed row with its parameters and channels.
"""

import argparse
import json
import subprocess
import sys
from typing import Any, Dict, List, Sequence

from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.core.variants import backbone_spec, BACKBONES

COLUMNS = ('backbone', 'ms_per_frame', 'backbone_ms', 'rss_mb', 'parameters_m',
           'feature_channels')


def add_backbones_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --backbones and --rounds to the dinov3-seg-bench parser."""
    parser.add_argument('--backbones', default='', metavar='LIST',
                        help='comma-separated variants timed side by side in one run, e.g. '
                             'vits16,vits16plus,convnext_tiny,convnext_small (one process '
                             'each); prints a table with every variant\'s parameters')
    parser.add_argument('--rounds', type=int, default=2,
                        help='--backbones: passes over the list; the fastest pass of each '
                             'variant counts (default: %(default)s)')


def child_argv(argv: Sequence[str]) -> List[str]:
    """Drop --backbones/--rounds/--backbone/--json from argv (each child gets its own)."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
            continue
        name = item.split('=', 1)[0]
        if name in ('--backbones', '--rounds', '--backbone'):
            skip = '=' not in item
            continue
        if name != '--json':
            out.append(item)
    return out


def parameter_count(variant: str) -> int:
    """Parameters of a backbone, counted on the meta device (no memory, no weights)."""
    import torch

    from dinov3_seg_ros.core.backbone import create_backbone
    with torch.device('meta'):
        return sum(p.numel() for p in create_backbone(variant).parameters())


def run_backbones(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Time each of --backbones in a child process (--rounds passes); print table + JSON."""
    names = [backbone_spec(n.strip()).name for n in args.backbones.split(',') if n.strip()]
    if not names or args.rounds < 1:
        raise ConfigError('--backbones: give at least one variant; --rounds must be >= 1')
    best: Dict[str, Dict[str, Any]] = {}
    for _ in range(args.rounds):
        for name in names:
            command = [sys.executable, '-m', 'dinov3_seg_ros.cli.bench', *child_argv(argv),
                       '--backbone', name, '--json']
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise ConfigError(f'--backbones: {name} failed: '
                                  f'{(done.stderr.strip().splitlines() or ["?"])[-1]}')
            report = json.loads(done.stdout.strip().splitlines()[-1])
            if name not in best or report['total_ms'] < best[name]['total_ms']:
                best[name] = report
    rows = [row_of(name, best.get(name)) for name in names]
    rows += [row_of(name, None) for name in BACKBONES if name not in names]
    print(table(rows, best[names[0]], args.rounds))
    print(json.dumps({'rows': rows, 'reports': best}, sort_keys=True))
    return 0


def row_of(name: str, report: Any) -> Dict[str, Any]:
    """One table row: timings and memory when measured, parameters and channels always."""
    row = {'backbone': name, 'parameters_m': round(parameter_count(name) / 1e6, 1),
           'feature_channels': backbone_spec(name).embed_dim}
    if report:
        row.update({'ms_per_frame': report['total_ms'], 'backbone_ms': report['backbone_ms'],
                    'rss_mb': report['rss_mb']})
    return row


def table(rows: Sequence[Dict[str, Any]], first: Dict[str, Any], rounds: int) -> str:
    """Format rows as a Markdown table headed by the machine, backend and precision of the run."""
    head = (f"{first['cpu']} (flags {first.get('cpu_isa') or '?'}), {first['threads']} threads, "
            f"{first['backend']} "
            f"{first['precision']}, frame {first['size']} -> input {first['input_size']}, "
            f"median of {first['repeat']} frames, best of {rounds} rounds")

    def cell(value: Any) -> str:
        return '' if value is None else (f'{value:.1f}' if isinstance(value, float)
                                         else str(value))
    lines = [head, '', '| ' + ' | '.join(COLUMNS) + ' |',
             '|' + '---|' * len(COLUMNS)]
    lines += ['| ' + ' | '.join(cell(r.get(c)) for c in COLUMNS) + ' |' for r in rows]
    return '\n'.join(lines)
