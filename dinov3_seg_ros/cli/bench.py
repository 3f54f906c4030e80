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

"""dinov3-seg-bench: time every stage of the Segmenter on a real photo; print one JSON object.

Stages (medians over --repeat frames): preprocess, backbone, head, postprocess, overlay and
total, plus the backbone's work (GFLOP), its speed (GFLOP/s) and the device's matmul peak
(in the precision in use) measured on the spot. Random weights unless weights are given.
--compare runs every installed backend and precision instead. The measurements live in
dinov3_seg_ros/benchmark/ (stages, compare); this module only parses and prints.
--backbones times several variants side by side (benchmark/backbones.py).
"""

import argparse
import json
import sys
from typing import Optional, Sequence

from dinov3_seg_ros.benchmark.backbones import add_backbones_arguments
from dinov3_seg_ros.cli.common import add_model_arguments, add_verbosity_arguments
from dinov3_seg_ros.cli.common import model_config_from_args, run_cli, setup_logging
from dinov3_seg_ros.cli.options import add_option
from dinov3_seg_ros.core.config import FrameSize
from dinov3_seg_ros.core.errors import ConfigError

COMPARE_HELP = ('compare torch fp32/bf16, onnxruntime, openvino fp32/bf16 (and --int8-model) '
                'on the same photos; feature_cosine is the cosine of the logits (flattened) '
                'with torch fp32, as the engines do not expose features')


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser."""
    parser = argparse.ArgumentParser(prog='dinov3-seg-bench',
                                     description=__doc__.split('\n')[0].split(': ', 1)[1])
    parser.add_argument('--size', default='640x480', metavar='WxH',
                        help='camera frame width x height (default: %(default)s)')
    add_model_arguments(parser, warmup=2)
    parser.add_argument('--repeat', type=int, default=10, help='timed frames (default: 10)')
    parser.add_argument('--threads', type=int, default=0,
                        help='CPU threads for torch (default: physical cores; ONNX Runtime '
                             'always uses the physical cores)')
    parser.add_argument('--exporter', default='auto', choices=('auto', 'dynamo', 'legacy'),
                        help='exporter of the temporary ONNX model (--backend onnxruntime '
                             'without --onnx-model, and --compare) (default: %(default)s)')
    add_option(parser, 'compile', note='The compile time goes into the notes.')
    parser.add_argument('--no-overlay', action='store_true', help='skip the overlay stage')
    parser.add_argument('--json', action='store_true', help='print compact JSON only')
    parser.add_argument('--compare', action='store_true', help=COMPARE_HELP)
    parser.add_argument('--frames', type=int, default=10,
                        help='--compare: timed frames per row (default: %(default)s)')
    parser.add_argument('--int8-model', default='', metavar='PATH',
                        help='--compare: an int8 OpenVINO IR (.xml) to add as a row')
    add_backbones_arguments(parser)
    add_verbosity_arguments(parser)
    return parser


def _main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose - args.quiet)
    size = FrameSize.parse(args.size, '--size')
    if args.backbones:
        from dinov3_seg_ros.benchmark.backbones import run_backbones
        return run_backbones(args, sys.argv[1:] if argv is None else argv)
    if args.repeat < 1 or args.warmup < 0 or args.threads < 0:
        raise ConfigError('--repeat must be >= 1, --warmup and --threads >= 0')
    if args.compile and args.backend != 'torch':
        raise ConfigError('--compile applies to the torch backend only (--backend torch)')
    if args.compare:
        from dinov3_seg_ros.benchmark.compare import compare, format_table
        config = model_config_from_args(args, backend='torch', warmup=0, threads=args.threads)
        report = compare(config, size, args.frames, args.exporter, args.int8_model)
        print(json.dumps(report, sort_keys=True) if args.json else format_table(report))
        return 0
    from dinov3_seg_ros.benchmark.stages import bench_stages
    temporary = args.backend == 'onnxruntime' and not args.onnx_model
    config = model_config_from_args(args, warmup=0, compile=args.compile, threads=args.threads,
                                    **({'backend': 'torch'} if temporary else {}))
    report = bench_stages(config, size, args.warmup, args.repeat, not args.no_overlay,
                          args.exporter, export_onnx=temporary)
    print(json.dumps(report, sort_keys=True) if args.json
          else json.dumps(report, indent=2, sort_keys=True))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console-script entry point."""
    return run_cli(_main, argv)


if __name__ == '__main__':
    raise SystemExit(main())
