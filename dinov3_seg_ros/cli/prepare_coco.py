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

"""dinov3-seg-prepare-coco: COCO panoptic PNGs + JSON -> uint8 semantic label PNGs.

Re-runnable: finished files are skipped, and every PNG is written under a temporary name
and renamed, so an interrupted run leaves no half-written label.
"""

import argparse
import logging
import multiprocessing
import os
from typing import Optional, Sequence

from dinov3_seg_ros.cli.common import add_verbosity_arguments, run_cli, setup_logging
from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.training.coco_panoptic import (
    convert_job, plan_conversion, remove_stale_temporaries, VOID_MODES, write_class_names)

LOGGER = logging.getLogger('dinov3-seg-prepare-coco')


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of dinov3-seg-prepare-coco."""
    parser = argparse.ArgumentParser(
        prog='dinov3-seg-prepare-coco',
        description='Convert COCO panoptic annotations (annotations/panoptic_<split>.json and '
                    'annotations/panoptic_<split>/*.png) into single-channel uint8 semantic '
                    'label PNGs with the same file names, plus class_names.txt.')
    parser.add_argument('--coco-root', required=True, metavar='DIR',
                        help='COCO folder holding annotations/ and the <split>/ images')
    parser.add_argument('--split', required=True, metavar='SPLIT',
                        help='train2017 or val2017 (any split with panoptic_<split>.json)')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                        help='parallel processes (default: %(default)s, the CPU count)')
    parser.add_argument('--void', default='ignore', choices=VOID_MODES,
                        help="ignore: classes 0..K-1, void pixels 255 (default); background: "
                             "0 is 'background' (void) and classes 1..K, the upstream's "
                             '134-class layout')
    parser.add_argument('--out', default='', metavar='DIR',
                        help='output folder (default: <coco-root>/semantic_<split>)')
    add_verbosity_arguments(parser)
    return parser


def _main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose - args.quiet)
    if args.workers < 1:
        raise ConfigError(f'--workers: must be >= 1, got {args.workers}')
    out_dir = args.out or os.path.join(args.coco_root, f'semantic_{args.split}')
    layout, jobs = plan_conversion(args.coco_root, args.split, out_dir, args.void)
    os.makedirs(out_dir, exist_ok=True)
    stale = remove_stale_temporaries(out_dir)
    if stale:
        LOGGER.info('removed %d temporary files of an interrupted run', stale)
    names_path = write_class_names(out_dir, layout.names)
    todo = [job for job in jobs if not os.path.exists(job.out_path)]
    skipped = len(jobs) - len(todo)
    _convert_all(todo, args.workers, show_progress=args.quiet == 0)
    print(f'{len(todo)} converted, {skipped} already done, {len(layout.names)} classes '
          f'(void={args.void}, void label {layout.void_value}) -> {out_dir} ({names_path})')
    return 0


def _convert_all(jobs: list, workers: int, show_progress: bool) -> None:
    """Run convert_job over jobs with a progress bar, in a process pool when workers > 1."""
    from tqdm import tqdm
    with tqdm(total=len(jobs), unit='img', desc='converting',
              disable=not show_progress or not jobs) as progress:
        if workers == 1 or len(jobs) < 2:
            for job in jobs:
                convert_job(job)
                progress.update()
            return
        chunksize = max(1, min(64, len(jobs) // (workers * 8)))
        with multiprocessing.get_context('spawn').Pool(workers) as pool:
            for _ in pool.imap_unordered(convert_job, jobs, chunksize=chunksize):
                progress.update()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console-script entry point; bad data gives one line naming the file and exit code 2."""
    return run_cli(_main, argv)


if __name__ == '__main__':
    raise SystemExit(main())
