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

"""dinov3-seg-bench-cache: training step rate with the live backbone vs the feature cache.

Both paths run the same optimizer step of the head (forward, focal + dice loss, backward,
clipping, AdamW); the live path first runs the frozen backbone on the images, the cached
path reads float16 features from a numpy memmap on disk (a temporary folder). Inputs are
random: only the speed is measured. The two paths alternate step by step (fair on a busy
machine); prints images/s of each from the median step time, and their ratio.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from dinov3_seg_ros.cli.common import add_verbosity_arguments, run_cli, setup_logging
from dinov3_seg_ros.cli.options import add_option
from dinov3_seg_ros.core.config import FrameSize
from dinov3_seg_ros.core.errors import ConfigError


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line interface."""
    parser = argparse.ArgumentParser(prog='dinov3-seg-bench-cache',
                                     description=__doc__.split('\n\n')[0])
    add_option(parser, 'backbone')
    add_option(parser, 'backbone_weights', note='Random weights time the same.')
    parser.add_argument('--size', default='640x640', metavar='WxH',
                        help='input width x height, multiples of 16 (default: %(default)s)')
    parser.add_argument('--batch-size', type=int, default=8, help='(default: %(default)s)')
    parser.add_argument('--classes', type=int, default=134, help='(default: %(default)s)')
    parser.add_argument('--target-size', type=int, default=320,
                        help='loss resolution, 0 = image size (default: %(default)s)')
    parser.add_argument('--steps', type=int, default=5, help='timed steps per path')
    parser.add_argument('--warmup', type=int, default=1, help='untimed steps per path')
    add_option(parser, 'device')
    parser.add_argument('--amp', default='auto', choices=('auto', 'off', 'bf16', 'fp16'),
                        help='CUDA autocast (CPU always fp32)')
    parser.add_argument('--json', action='store_true', help='print one JSON line')
    add_verbosity_arguments(parser)
    return parser


def _step_times(steps: Sequence[Callable[[int], None]], count: int, warmup: int,
                sync: Callable[[], None]) -> List[List[float]]:
    """Seconds of each timed call per step function, alternating them (fair under load)."""
    for i in range(warmup):
        for step in steps:
            step(i)
    times: List[List[float]] = [[] for _ in steps]
    for i in range(count):
        for k, step in enumerate(steps):
            sync()
            start = time.perf_counter()
            step(warmup + i)
            sync()
            times[k].append(time.perf_counter() - start)
    return times


def run_bench(args: argparse.Namespace) -> Dict[str, Any]:
    """Time both paths; returns images/s of each and the speed-up."""
    import numpy as np
    import torch
    from dinov3_seg_ros.core.backbone import build_backbone
    from dinov3_seg_ros.benchmark.flops import backbone_flops, head_flops
    from dinov3_seg_ros.core.heads import ASPPHead, HeadConfig
    from dinov3_seg_ros.training.distributed import pick_device
    from dinov3_seg_ros.training.losses import FocalDiceLoss
    from dinov3_seg_ros.training.optim import autocast_dtype, make_scaler, train_step
    size = FrameSize.parse(args.size, '--size')
    if size.width % 16 or size.height % 16:
        raise ConfigError(f'--size: expected WxH in multiples of 16, got {args.size!r}')
    device = pick_device(args.device)
    dtype = autocast_dtype(args.amp, device)
    backbone = build_backbone(args.backbone, args.backbone_weights).to(device)
    head = ASPPHead(HeadConfig(backbone.embed_dim, args.classes)).to(device).train()
    optimizer = torch.optim.AdamW(head.parameters(), lr=1e-4)
    scaler = make_scaler(dtype, device)
    loss_fn = FocalDiceLoss(target_size=(args.target_size, args.target_size))
    b, h, w = args.batch_size, size.height, size.width
    images = torch.randn(b, 3, h, w, device=device)
    labels = torch.randint(0, args.classes, (b, h, w), device=device)
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    pool = args.warmup + args.steps
    shape = (pool * b, backbone.embed_dim, h // 16, w // 16)

    def live(_: int) -> None:
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype or torch.float32,
                                             enabled=dtype is not None):
            features = backbone(images).float()
        train_step(head, features, labels, loss_fn, optimizer, scaler, 5.0, dtype)

    with tempfile.TemporaryDirectory(prefix='dinov3-bench-cache-') as tmp:
        cache = np.memmap(os.path.join(tmp, 'features.f16'), np.float16, 'w+', shape=shape)
        cache[:] = np.random.default_rng(0).standard_normal(shape, np.float32)
        cache.flush()

        def cached(i: int) -> None:
            rows = torch.from_numpy(np.array(cache[i * b:(i + 1) * b]))
            features = rows.to(device, non_blocking=True).float()
            train_step(head, features, labels, loss_fn, optimizer, scaler, 5.0, dtype)

        live_times, cached_times = _step_times([live, cached], args.steps, args.warmup, sync)
    live_rate = b / statistics.median(live_times)
    cached_rate = b / statistics.median(cached_times)
    backbone_gflop = backbone_flops(backbone.spec.name, h, w) / 1e9
    head_gflop = 3 * head_flops(head.config, h // 16, w // 16) / 1e9  # forward + backward
    return {'backbone_gflop': round(backbone_gflop, 1), 'head_train_gflop': round(head_gflop, 1),
            'flop_bound_speedup': round((backbone_gflop + head_gflop) / head_gflop, 2),
            'backbone': backbone.spec.name, 'size': str(size), 'batch_size': b,
            'device': str(device), 'amp': str(dtype).replace('torch.', '') if dtype else 'fp32',
            'threads': torch.get_num_threads(), 'live_images_per_s': round(live_rate, 2),
            'cached_images_per_s': round(cached_rate, 2),
            'speedup': round(cached_rate / live_rate, 2)}


def _main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose - args.quiet)
    if (args.batch_size < 1 or args.steps < 1 or args.warmup < 0 or args.classes < 2
            or args.target_size < 0):
        raise ConfigError('--batch-size and --steps must be >= 1, --warmup and --target-size '
                          '>= 0, --classes >= 2')
    result = run_bench(args)
    if args.json:
        print(json.dumps(result), flush=True)
    else:
        print(f'{result["backbone"]} {result["size"]} batch {result["batch_size"]} on '
              f'{result["device"]} ({result["amp"]}, {result["threads"]} threads)\n'
              f'  live backbone : {result["live_images_per_s"]:8.2f} images/s\n'
              f'  feature cache : {result["cached_images_per_s"]:8.2f} images/s\n'
              f'  speed-up      : {result["speedup"]:8.2f}x\n'
              f'  FLOPs per image: backbone {result["backbone_gflop"]} G, head forward + '
              f'backward ~{result["head_train_gflop"]} G: the cache can at most give '
              f'{result["flop_bound_speedup"]}x (the loss comes on top of both)', flush=True)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console-script entry point."""
    return run_cli(_main, argv)


if __name__ == '__main__':
    sys.exit(main())
