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

"""dinov3-seg-train: train a segmentation head on a frozen DINOv3 backbone.

Examples:
  dinov3-seg-train --config config/train_coco_panoptic.yaml data.root=/data/coco
  dinov3-seg-train --config run.yaml optim.lr=1e-4 stages.0.epochs=2 --resume auto
  torchrun --nproc_per_node 4 -m dinov3_seg_ros.cli.train --config run.yaml
"""

import argparse
import json
import logging
import os
import sys
from typing import Optional, Sequence

import yaml

from dinov3_seg_ros.cli.common import add_verbosity_arguments, run_cli, setup_logging
from dinov3_seg_ros.training.checkpointing import LAST


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line interface."""
    parser = argparse.ArgumentParser(
        prog='dinov3-seg-train', description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Overrides use dotted keys of the YAML file, list entries by index, values '
               'as YAML: optim.lr=1e-4 stages.1.epochs=5 loss.alpha=[0.25,0.75]. '
               'Writes config.yaml, checkpoints/, metrics.jsonl and plots/ into run.dir.')
    parser.add_argument('--config', default='', metavar='YAML',
                        help='training config (see config/train_coco_panoptic.yaml)')
    parser.add_argument('overrides', nargs='*', metavar='KEY=VALUE',
                        help='config overrides, e.g. data.root=/data/coco optim.lr=1e-4')
    parser.add_argument('--resume', default='', metavar='auto|PATH',
                        help="continue from a training checkpoint; 'auto' takes "
                             'run.dir/checkpoints/last.pth when it exists, else starts fresh')
    parser.add_argument('--print-config', action='store_true',
                        help='print the resolved config as YAML and exit')
    add_verbosity_arguments(parser)
    return parser


def resolve_resume(resume: str, run_dir: str) -> str:
    """'' (fresh), 'auto' (last.pth of run_dir if present) or an explicit path."""
    if resume != 'auto':
        return resume
    path = os.path.join(run_dir, 'checkpoints', LAST)
    return path if os.path.isfile(path) else ''


def _main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose - args.quiet)
    # Per-epoch loss and val mIoU at the default verbosity; -q/-v decide otherwise.
    logging.getLogger('dinov3_seg_ros.training').setLevel(
        logging.INFO if args.verbose - args.quiet == 0 else logging.getLogger().level)
    from dinov3_seg_ros.training.train_config import load_config
    config = load_config(args.config, args.overrides)
    if args.print_config:
        yaml.safe_dump(config.to_dict(), sys.stdout, sort_keys=False)
        return 0
    from dinov3_seg_ros.training.distributed import init_distributed, shutdown
    from dinov3_seg_ros.training.engine import Trainer
    ctx = init_distributed(config.run.device)
    try:
        trainer = Trainer(config, ctx, resolve_resume(args.resume, config.run.dir))
        result = trainer.run()
    finally:
        shutdown(ctx)
    if ctx.is_main:
        print(json.dumps(result), flush=True)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console-script entry point."""
    return run_cli(_main, argv)


if __name__ == '__main__':
    sys.exit(main())
