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
import os
import sys
from typing import Any, Callable, Optional, Sequence

from dinov3_seg_ros.cli.options import add_option, cli_terms
from dinov3_seg_ros.core.config import ModelConfig
from dinov3_seg_ros.core.errors import ConfigError, Dinov3SegError, one_line

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

    A ConfigError naming a model option by its node parameter name names the flag instead.

    Anything else is a bug and keeps its traceback. Ctrl-C exits with 130, quietly.
    """
    try:
        code = main_fn(argv)
    except (Dinov3SegError, OSError) as exc:
        if isinstance(exc, ConfigError):  # 'onnx_model: ...' from the core -> '--onnx-model: ...'
            exc = cli_terms(exc)
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


MODEL_OPTION_NAMES = ('backbone', 'normalization', 'backbone_weights', 'head_weights',
                      'classes_file', 'input_size', 'device', 'dtype', 'backend', 'onnx_model',
                      'seed', 'warmup')


def add_model_arguments(parser: argparse.ArgumentParser, warmup: int = 0) -> None:
    """Add the ModelConfig options every inference CLI accepts (see model_config_from_args)."""
    group = parser.add_argument_group('model')
    for name in MODEL_OPTION_NAMES:
        add_option(group, name, default=warmup if name == 'warmup' else None)
    add_cache_arguments(group)


def add_cache_arguments(parser: Any) -> None:
    """Add --cache-dir (the option table) and --no-cache; cache_dir(args) reads them."""
    add_option(parser, 'cache_dir')
    parser.add_argument('--no-cache', action='store_true',
                        help='no model cache: convert the model at every start (= --cache-dir '
                             'none)')


def cache_dir(args: argparse.Namespace) -> str:
    """ModelConfig.cache_dir from --cache-dir / --no-cache ('none' when off)."""
    return 'none' if args.no_cache else args.cache_dir


def add_overlay_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --alpha and --no-names: how the overlay image is drawn."""
    parser.add_argument('--alpha', type=float, default=0.5,
                        help='overlay opacity (default: %(default)s)')
    parser.add_argument('--no-names', action='store_true',
                        help='do not draw class names on the overlay')


def add_seed_argument(parser: Any) -> None:
    """Add --seed: the seed of random weights, the same in every CLI and in training."""
    add_option(parser, 'seed')


def check_onnx_model(onnx_model: str, backend: str) -> None:
    """--onnx-model is never silently ignored and names a file dinov3-seg-export wrote.

    Raises ConfigError for the torch backend, a folder, or a missing file.
    """
    if not onnx_model:
        return
    if backend == 'torch':
        raise ConfigError(f'--onnx-model {onnx_model!r} needs --backend onnxruntime, openvino '
                          'or auto (the torch backend builds the model from '
                          '--backbone-weights/--head-weights)')
    if os.path.isdir(onnx_model):
        raise ConfigError(f'--onnx-model: {onnx_model!r} is a directory: give the .onnx file '
                          '(or OpenVINO .xml) that dinov3-seg-export wrote')
    if not os.path.isfile(onnx_model):
        raise ConfigError(f'--onnx-model: {onnx_model!r} not found: write one with '
                          'dinov3-seg-export --out model.onnx')


def model_config_from_args(args: argparse.Namespace, **extra: Any) -> ModelConfig:
    """Build a validated ModelConfig from add_model_arguments' options (ConfigError if invalid).

    extra sets further fields (compile, threads, ...); errors name the flags.
    """
    check_onnx_model(args.onnx_model, args.backend)
    fields = {name: getattr(args, name) for name in MODEL_OPTION_NAMES}
    fields['head_weights'] = tuple(fields['head_weights'])
    fields['cache_dir'] = cache_dir(args)
    fields.update(extra)
    try:
        return ModelConfig(**fields)
    except ConfigError as error:
        raise cli_terms(error) from None  # run_cli would do it too; callers may catch it
