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

"""Helpers shared by the console scripts: logging, one-line errors, model arguments.

Every CLI's entry point is ``def main(argv=None) -> int: return run_cli(_main, argv)``;
setuptools' console-script wrapper passes the returned code to sys.exit.
"""

import argparse
import logging
import sys
from typing import Any, Callable, Optional, Sequence

from dinov3_seg_ros.core.config import BACKENDS, DEVICES, DTYPES, ModelConfig
from dinov3_seg_ros.core.errors import ConfigError, Dinov3SegError, one_line
from dinov3_seg_ros.core.normalization import NORMALIZATIONS
from dinov3_seg_ros.core.variants import BACKBONES

RANDOM_SEED = 0  # = core.backends.torch_backend.RANDOM_SEED (not imported: it pulls in torch)
EXIT_OK = 0
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
LOG_FORMAT = '%(levelname)s: %(message)s'


def setup_logging(verbosity: int = 0) -> None:
    """Log to stderr: warnings by default, info with -v, debug with -vv, errors only with -q."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(
        max(-1, min(verbosity, 2)), logging.DEBUG)
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr, force=True)


def error_line(exc: BaseException) -> str:
    """Format an exception as one line: 'error: <message>' (newlines folded into spaces)."""
    message = one_line(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        where = f' {exc.filename!r}' if exc.filename else ''
        message = f'{exc.strerror}{where}'
    return f'error: {message}'


def run_cli(main_fn: Callable[[Optional[Sequence[str]]], Optional[int]],
            argv: Optional[Sequence[str]] = None) -> int:
    """Run main_fn(argv); a Dinov3SegError or OSError becomes one stderr line and exit code 2.

    Anything else is a bug and keeps its traceback. Ctrl-C exits with 130, quietly.
    """
    try:
        code = main_fn(argv)
    except (Dinov3SegError, OSError) as exc:
        print(error_line(exc), file=sys.stderr, flush=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    return EXIT_OK if code is None else int(code)


def add_verbosity_arguments(parser: argparse.ArgumentParser) -> None:
    """-v / -q flags read by setup_logging(args.verbose - args.quiet)."""
    parser.add_argument('-v', '--verbose', action='count', default=0,
                        help='more log output (-vv for debug)')
    parser.add_argument('-q', '--quiet', action='count', default=0,
                        help='only errors in the log')


def add_model_arguments(parser: argparse.ArgumentParser, warmup: int = 0) -> None:
    """Add the ModelConfig options every inference CLI accepts (see model_config_from_args)."""
    group = parser.add_argument_group('model')
    group.add_argument('--backbone', default='vits16plus',
                       help=f'DINOv3 variant: {", ".join(BACKBONES)} (default: %(default)s)')
    add_normalization_argument(group)
    group.add_argument('--backbone-weights', default='', metavar='PATH',
                       help="Meta's DINOv3 .pth or a timm .safetensors (default: random weights)")
    group.add_argument('--head-weights', action='append', default=[], metavar='PATH',
                       help='head checkpoint (project .pth or the upstream bare model.pth); '
                            'repeat for several heads on one backbone pass '
                            '(default: a random head)')
    group.add_argument('--classes', default='', metavar='PATH',
                       help='class names, one per line (needed for the upstream model.pth to '
                            'have names other than the default COCO panoptic list)')
    group.add_argument('--input-size', default='640',
                       help="'native', a long side like 640 (aspect kept, multiples of 16) or "
                            'a fixed WxH like 640x640 (default: %(default)s)')
    group.add_argument('--device', default='auto', choices=DEVICES,
                       help='auto picks CUDA when present (default: %(default)s)')
    group.add_argument('--dtype', default='auto', choices=DTYPES,
                       help='auto: bfloat16 on CPUs with native bf16 (AMX/AVX512-BF16), '
                       'else float32; bfloat16 on CUDA where supported, else float16 '
                       '(default: %(default)s)')
    group.add_argument('--backend', default='auto', choices=BACKENDS,
                       help='torch, onnxruntime (with --onnx), openvino (--onnx .onnx/.xml, '
                       'or converted from torch), auto (backends.selection) '
                       '(default: %(default)s)')
    group.add_argument('--onnx', default='', metavar='PATH',
                       help='fused .onnx model from dinov3-seg-export (needs --backend '
                            'onnxruntime)')
    add_seed_argument(group)
    group.add_argument('--warmup', type=int, default=warmup,
                       help='warm-up passes before the first real frame (default: %(default)s)')


def add_normalization_argument(parser: Any) -> None:
    """Add --normalization: the input mean/std of the backbone's pretraining data."""
    parser.add_argument('--normalization', default='auto', choices=NORMALIZATIONS,
                        help='input mean/std: auto (from the backbone weights file: Meta\'s '
                             'SAT-493M name or keys, else the head checkpoint, else LVD), lvd '
                             '(ImageNet, LVD-1689M) or sat (SAT-493M, for a renamed or timm '
                             'satellite file) (default: %(default)s)')


def add_seed_argument(parser: Any) -> None:
    """Add --seed: the seed of random weights, the same in every CLI and in training."""
    parser.add_argument('--seed', type=int, default=RANDOM_SEED,
                        help='seed of the random backbone/head weights used without '
                             "--backbone-weights/--head-weights (dinov3-seg-train's run.seed; "
                             'default: %(default)s)')


def check_onnx_backend(onnx: str, backend: str) -> None:
    """--onnx is never silently ignored: it needs a backend that runs ONNX models."""
    if onnx and backend == 'torch':
        raise ConfigError(f'--onnx {onnx!r} needs --backend onnxruntime, openvino or auto (the '
                          'torch backend '
                          'builds the model from --backbone-weights/--head-weights)')


def model_config_from_args(args: argparse.Namespace) -> ModelConfig:
    """Build a validated ModelConfig from add_model_arguments' options (ConfigError if invalid)."""
    check_onnx_backend(args.onnx, args.backend)
    return ModelConfig(backbone=args.backbone, backbone_weights=args.backbone_weights,
                       head_weights=tuple(args.head_weights), classes_file=args.classes,
                       input_size=args.input_size, device=args.device, dtype=args.dtype,
                       backend=args.backend, onnx_model=args.onnx, warmup=args.warmup,
                       seed=args.seed, normalization=args.normalization)
