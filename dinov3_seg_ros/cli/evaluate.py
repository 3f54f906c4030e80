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

"""dinov3-seg-eval: mIoU, mean/pixel accuracy and per-class IoU of a head on a prepared split.

Example:
  dinov3-seg-eval --checkpoint runs/coco/checkpoints/best.pth --data /data/coco
      --split val2017 --backbone-weights dinov3_vits16plus_pretrain_lvd1689m-4057cbaa.pth
By default predictions are scored at the ORIGINAL label resolution (the mmseg / torchvision /
Mask2Former protocol) through the node's labels_from_logits; --resolution input scores at
the model input size like the training-time val (fast, not comparable with papers).
Writes <out>/report.json, <out>/confusion.npy, <out>/confusion.png, <out>/per_class_iou.png,
--num-overlays images under <out>/overlays/ and, when a metrics.jsonl lies next to the
checkpoint (or one folder up), <out>/loss.png and <out>/miou.png.
"""

import argparse
import json
import logging
import os
import sys
from typing import Any, Dict, Optional, Sequence

from dinov3_seg_ros.cli.common import add_verbosity_arguments, run_cli, setup_logging
from dinov3_seg_ros.cli.options import add_option
from dinov3_seg_ros.core.errors import ConfigError

LOGGER = logging.getLogger('dinov3-seg-eval')
DEFAULT_SIZE = '640x640'


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line interface."""
    parser = argparse.ArgumentParser(prog='dinov3-seg-eval',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--checkpoint', required=True, metavar='PATH',
                        help='head checkpoint (dinov3-seg-train output or upstream model.pth)')
    parser.add_argument('--data', required=True, metavar='ROOT',
                        help='dataset root: prepared by dinov3-seg-prepare-coco, or your own '
                             '(--format folder)')
    parser.add_argument('--split', default='val2017', help='split (default: %(default)s)')
    parser.add_argument('--format', default='auto', choices=('auto', 'coco', 'folder'),
                        help="dataset layout: coco (dinov3-seg-prepare-coco), folder "
                             "(<data>/<split>/images + masks, <data>/classes.txt: training's "
                             "data.format folder) or auto (folder when <data>/<split>/images "
                             "exists) (default: %(default)s)")
    add_option(parser, 'classes_file', note="Default: the dataset's own class names.")
    add_option(parser, 'backbone_weights')
    add_option(parser, 'backbone', note="Used when the checkpoint does not name one.")
    add_option(parser, 'normalization')
    add_option(parser, 'input_size', default='',
               note=f"Default: the checkpoint's, else {DEFAULT_SIZE}; a fixed WxH evaluates in "
                    'batches, a long side or native one image at a time.')
    parser.add_argument('--out', default='', metavar='DIR',
                        help='output folder (default: ./eval_<split>)')
    parser.add_argument('--batch-size', type=int, default=8, help='(default: %(default)s)')
    parser.add_argument('--workers', type=int, default=2, help='loader processes')
    parser.add_argument('--max-images', type=int, default=0, help='first N images only')
    add_option(parser, 'device')
    add_option(parser, 'seed')
    parser.add_argument('--resolution', default='original', choices=('original', 'input'),
                        help='score at the label files\' own size (default) or at the model '
                             'input size (the training-time val)')
    parser.add_argument('--num-overlays', type=int, default=8, metavar='N',
                        help='write N prediction overlays to <out>/overlays (default: '
                             '%(default)s)')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    add_verbosity_arguments(parser)
    return parser


def find_metrics_log(checkpoint: str) -> str:
    """metrics.jsonl beside the checkpoint or in its parent folder ('' if none)."""
    folder = os.path.dirname(os.path.abspath(checkpoint))
    for candidate in (folder, os.path.dirname(folder)):
        path = os.path.join(candidate, 'metrics.jsonl')
        if os.path.isfile(path):
            return path
    return ''


def evaluate_checkpoint(args: argparse.Namespace, out: str = '') -> Dict[str, Any]:
    """Load everything, run the evaluation, return the report dict."""
    import torch
    from torch.utils.data import DataLoader, Subset
    from tqdm import tqdm
    from dinov3_seg_ros.core.backbone import backbone_spec, build_backbone, check_heads_data
    from dinov3_seg_ros.core.checkpoint import load_head_checkpoint
    from dinov3_seg_ros.core.backends.torch_backend import check_head_fits
    from dinov3_seg_ros.training.datasets import SemanticSegmentationDataset
    from dinov3_seg_ros.training.distributed import pick_device
    from dinov3_seg_ros.training.evaluation import evaluate
    from dinov3_seg_ros.training.losses import FocalDiceLoss
    from dinov3_seg_ros.training.original_eval import collate_keep_originals, evaluate_original
    checkpoint = load_head_checkpoint(args.checkpoint)
    variant = checkpoint.backbone or args.backbone
    check_head_fits(checkpoint, args.checkpoint, backbone_spec(variant))  # before any loading
    device = pick_device(args.device)
    torch.manual_seed(args.seed)
    backbone = build_backbone(variant, args.backbone_weights,
                              normalization=args.normalization)
    check_heads_data([checkpoint], [args.checkpoint], backbone)
    backbone.to(device)
    mean = checkpoint.mean or backbone.mean
    std = checkpoint.std or backbone.std
    size = args.input_size or checkpoint.input_size or DEFAULT_SIZE
    layout = args.format
    if layout == 'auto':
        folder = os.path.isdir(os.path.join(args.data, args.split, 'images'))
        layout = 'folder' if folder else 'coco'
    dataset = SemanticSegmentationDataset(args.data, args.split, image_size=size, mean=mean,
                                          std=std,
                                          original_labels=args.resolution == 'original',
                                          class_names_file=args.classes_file or None,
                                          layout=layout, keys=('--format', '--classes-file'))
    if dataset.num_classes != checkpoint.head.num_classes:
        raise ConfigError(f'{args.data}: {dataset.num_classes} classes in '
                          f'{args.split} but the head has {checkpoint.head.num_classes}: '
                          'evaluate on the classes the head was trained on (--classes-file, '
                          'or the dataset prepared for it)')
    if dataset.class_names != checkpoint.class_names:
        LOGGER.warning('the class names of the dataset and the checkpoint differ; '
                       'reporting the dataset names')
    indices = range(min(len(dataset), args.max_images) if args.max_images else len(dataset))
    fixed = dataset.image_size is not None and dataset.image_size.mode == 'fixed'
    loader = DataLoader(Subset(dataset, list(indices)),
                        batch_size=args.batch_size if fixed else 1,
                        num_workers=args.workers, pin_memory=device.type == 'cuda',
                        collate_fn=collate_keep_originals if dataset.original_labels else None)
    head = checkpoint.build().to(device)
    batches = tqdm(loader, desc='evaluating', unit='batch', disable=args.no_progress)
    dtype = torch.float16 if device.type == 'cuda' else None
    if dataset.original_labels:
        summary = evaluate_original(head, backbone, batches, dataset.class_names,
                                    dataset.ignore_index, device, dtype,
                                    os.path.join(out, 'overlays'), args.num_overlays)
        summary['resolution'] = 'original label resolution'
    else:
        summary = evaluate(head, batches, backbone,
                           FocalDiceLoss(ignore_index=dataset.ignore_index),
                           dataset.class_names, dataset.ignore_index, device, dtype)
        summary['resolution'] = f'model input {dataset.image_size} (labels nearest-resized)'
    return {'checkpoint': os.path.abspath(args.checkpoint), 'data': os.path.abspath(args.data),
            'split': args.split, 'backbone': backbone.spec.name,
            'backbone_weights': args.backbone_weights, 'input_size': str(dataset.image_size),
            **summary}


def _main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose - args.quiet)
    limits = (('--batch-size', args.batch_size, 1), ('--workers', args.workers, 0),
              ('--max-images', args.max_images, 0), ('--num-overlays', args.num_overlays, 0))
    for flag, value, least in limits:
        if value < least:
            raise ConfigError(f'{flag} must be >= {least}, got {value}')
    if not os.path.isfile(args.checkpoint):
        what = 'is a directory' if os.path.isdir(args.checkpoint) else 'not found'
        raise ConfigError(f'--checkpoint: {args.checkpoint!r} {what}: give the head checkpoint '
                          '(a dinov3-seg-train .pth or the upstream model.pth)')
    out = args.out or f'eval_{args.split}'
    report = evaluate_checkpoint(args, out)
    os.makedirs(out, exist_ok=True)
    from dinov3_seg_ros.training import plots
    confusion = report.pop('confusion', None)
    if confusion is not None:
        import numpy as np
        np.save(os.path.join(out, 'confusion.npy'), confusion)
        plots.plot_confusion(confusion, list(report['per_class_iou']),
                             os.path.join(out, 'confusion.png'))
    report_path = os.path.join(out, 'report.json')
    with open(report_path, 'w', encoding='utf-8') as stream:
        json.dump(report, stream, indent=1)
    plots.plot_per_class_iou(report['per_class_iou'], os.path.join(out, 'per_class_iou.png'),
                             f'IoU per class, {args.split} (mIoU {report["miou"] or 0:.3f})')
    log = find_metrics_log(args.checkpoint)
    if log:
        plots.plot_curves(plots.read_records(log), out)
    mean_acc = report.get('mean_accuracy')
    mean_acc = '' if mean_acc is None else f'  mean accuracy {mean_acc:.4f}'
    print(f'mIoU {report["miou"] or 0:.4f}{mean_acc}  pixel accuracy '
          f'{report["pixel_accuracy"] or 0:.4f}  images {report["images"]}  '
          f'({report["resolution"]})  -> {report_path}', flush=True)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console-script entry point."""
    return run_cli(_main, argv)


if __name__ == '__main__':
    sys.exit(main())
