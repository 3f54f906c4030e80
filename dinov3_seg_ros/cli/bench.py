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
total, plus the backbone's work (GFLOP), its speed (GFLOP/s) and the device's float32
matmul peak (in the precision in use) measured on the spot. Random weights unless weights are
given. --compare runs every installed backend and precision instead (cli/bench_compare.py);
--backbones times several variants side by side (cli/bench_backbones.py).
"""

import argparse
import json
import re
import resource
import statistics
import sys
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from dinov3_seg_ros.cli.bench_backbones import add_backbones_arguments, run_backbones
from dinov3_seg_ros.cli.bench_compare import add_compare_arguments, cpu_model_name, run_compare
from dinov3_seg_ros.cli.common import add_normalization_argument
from dinov3_seg_ros.cli.common import add_seed_argument, add_verbosity_arguments
from dinov3_seg_ros.cli.common import check_onnx_backend, run_cli, setup_logging
from dinov3_seg_ros.core.config import BACKENDS, DEVICES, DTYPES, ModelConfig
from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.core.precision import cpu_has_native_bf16
from dinov3_seg_ros.core.variants import backbone_spec, BACKBONES

STAGES = ('preprocess', 'backbone', 'head', 'postprocess', 'overlay', 'total')


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser."""
    parser = argparse.ArgumentParser(prog='dinov3-seg-bench',
                                     description=__doc__.split('\n')[0].split(': ', 1)[1])
    parser.add_argument('--size', default='640x480', help='frame WxH (default: %(default)s)')
    parser.add_argument('--backend', default='auto', choices=BACKENDS)
    parser.add_argument('--onnx', default='', metavar='PATH',
                        help='fused model (onnxruntime); default: export a temporary one')
    parser.add_argument('--backbone', default='vits16plus',
                        help=f'{", ".join(BACKBONES)} (default: %(default)s)')
    add_normalization_argument(parser)
    parser.add_argument('--backbone-weights', default='', metavar='PATH')
    parser.add_argument('--head-weights', action='append', default=[], metavar='PATH')
    add_seed_argument(parser)
    parser.add_argument('--input-size', default='640',
                        help="model input: long side, WxH or 'native' (default: %(default)s)")
    parser.add_argument('--repeat', type=int, default=10, help='timed frames (default: 10)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed frames (default: 2)')
    parser.add_argument('--device', default='auto', choices=DEVICES)
    parser.add_argument('--dtype', default='auto', choices=DTYPES)
    parser.add_argument('--threads', type=int, default=0,
                        help='CPU threads for torch (default: physical cores; ONNX Runtime '
                             'always uses the physical cores)')
    parser.add_argument('--exporter', default='auto', choices=('auto', 'dynamo', 'legacy'),
                        help='exporter of the temporary ONNX model (default: %(default)s)')
    parser.add_argument('--compile', action='store_true',
                        help='torch backend: torch.compile the backbone at start-up (the '
                             'compile time goes into notes; 25-35 s cold on 2 CPU cores)')
    parser.add_argument('--no-overlay', action='store_true', help='skip the overlay stage')
    parser.add_argument('--json', action='store_true', help='print compact JSON only')
    add_compare_arguments(parser)
    add_backbones_arguments(parser)
    add_verbosity_arguments(parser)
    return parser


def parse_size(text: str) -> Tuple[int, int]:
    """'640x480' -> (height 480, width 640)."""
    match = re.fullmatch(r'\s*(\d+)\s*x\s*(\d+)\s*', str(text))
    if not match or min(int(match.group(1)), int(match.group(2))) < 1:
        raise ConfigError(f'--size: expected WxH like 640x480, got {text!r}')
    return int(match.group(2)), int(match.group(1))


def photo(height: int, width: int) -> np.ndarray:
    """Return the astronaut photo of skimage.data resized to (height, width, 3) uint8 RGB."""
    import cv2
    from skimage import data
    return np.ascontiguousarray(cv2.resize(data.astronaut(), (width, height),
                                           interpolation=cv2.INTER_LINEAR))


def export_temporary(args: argparse.Namespace, directory: str,
                     size: Tuple[int, int]) -> str:
    """Export the fused model the torch backend would build (same seeded random weights)."""
    from dinov3_seg_ros.core.backbone import build_backbone
    from dinov3_seg_ros.core.export.onnx import export_fused
    from dinov3_seg_ros.core.backends.torch_backend import head_names_for, load_heads
    config = ModelConfig(backbone=args.backbone, backbone_weights=args.backbone_weights,
                         head_weights=tuple(args.head_weights), input_size=args.input_size,
                         seed=args.seed, normalization=args.normalization)
    heads = load_heads(config, args.backbone)
    backbone = build_backbone(args.backbone, args.backbone_weights, seed=args.seed,
                              normalization=args.normalization)
    path = f'{directory}/bench.onnx'
    export_fused(backbone, heads, path, head_names=head_names_for(config.head_weights),
                 size=size, input_size=args.input_size, exporter=args.exporter)
    return path


def rss_mb() -> float:
    """Resident memory of this process now (VmRSS), in MiB (0 where /proc is missing)."""
    try:
        with open('/proc/self/status', encoding='ascii') as stream:
            for line in stream:
                if line.startswith('VmRSS:'):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def compile_note(segmenter: Any) -> str:
    """Say how long ModelConfig(compile=True) took to compile, or that it fell back to eager."""
    if segmenter.compiled:
        return f'backbone compiled with torch.compile in {segmenter.compile_seconds:.1f} s'
    return 'torch.compile failed (see the warning): the backbone ran eagerly'


def time_stages(segmenter: Any, rgb: np.ndarray, warmup: int, repeat: int,
                overlay: bool) -> Dict[str, float]:
    """Median milliseconds per stage over repeat frames (after warmup frames).

    'non_model' is the per-frame total minus backbone and head, then the median.
    """
    runs: List[Dict[str, float]] = []
    for i in range(warmup + repeat):
        timings = dict(segmenter(rgb, overlay=overlay).timings_ms)
        timings['non_model'] = max(0.0, timings['total'] - timings.get('backbone', 0.0)
                                   - timings.get('head', 0.0))
        if i >= warmup:
            runs.append(timings)
    return {stage: statistics.median(r.get(stage, 0.0) for r in runs)
            for stage in STAGES + ('non_model',)}


def work_figures(segmenter: Any, in_size: Tuple[int, int], ms: Dict[str, float],
                 device: str) -> Dict[str, Any]:
    """GFLOP per frame, achieved GFLOP/s and the share of the measured matmul peak."""
    from dinov3_seg_ros.core.flops import backbone_flops, head_flops, matmul_peak_gflops
    rows, cols = in_size[0] // 16, in_size[1] // 16
    backbone = backbone_flops(segmenter.backbone_name, *in_size) / 1e9
    head = sum(head_flops(c, rows, cols) for c in segmenter.info.head_configs) / 1e9
    work = backbone if segmenter.backend == 'torch' else backbone + head
    achieved = work / (ms['backbone'] / 1e3) if ms['backbone'] > 0 else 0.0
    import torch
    # the peak of the precision in use: a bf16 model (torch autocast or the OpenVINO bf16
    # hint) is held to the bf16 matmul peak; int8 to the bf16 one too (no int8 torch.mm)
    dtype = {'bfloat16': torch.bfloat16, 'float16': torch.float16,
             'int8': torch.bfloat16}.get(str(segmenter.precision).replace('torch.', ''))
    peak = matmul_peak_gflops(device, dtype=dtype)
    non_model = ms['non_model']
    return {'backbone_gflop': round(backbone, 3), 'head_gflop': round(head, 3),
            'backbone_gflops': round(achieved, 2), 'matmul_peak_gflops': round(peak, 2),
            'backbone_pct_of_peak': round(100.0 * achieved / peak, 1) if peak else 0.0,
            'matmul_peak_dtype': str(dtype or 'float32').replace('torch.', ''),
            'non_model_ms': round(non_model, 3),
            'non_model_pct_of_backbone': round(100.0 * non_model / ms['backbone'], 2)
            if ms['backbone'] > 0 else 0.0, 'feature_grid': f'{cols}x{rows}'}


def _main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose - args.quiet)
    if args.compare:
        return run_compare(args)
    if args.backbones:
        return run_backbones(args, sys.argv[1:] if argv is None else argv)
    if args.repeat < 1 or args.warmup < 0 or args.threads < 0:
        raise ConfigError('--repeat must be >= 1, --warmup and --threads >= 0')
    check_onnx_backend(args.onnx, args.backend)
    if args.compile and args.backend != 'torch':
        raise ConfigError('--compile applies to the torch backend only')
    import torch
    from dinov3_seg_ros.core.host import physical_cores
    from dinov3_seg_ros.core.preprocess import model_input_size
    from dinov3_seg_ros.core.segmenter import Segmenter
    height, width = parse_size(args.size)
    threads = args.threads or physical_cores()
    torch.set_num_threads(threads)
    in_size = model_input_size(height, width, args.input_size)
    notes = []
    with tempfile.TemporaryDirectory(prefix='dinov3-seg-bench-') as tmp:
        onnx_path = args.onnx
        if args.backend == 'onnxruntime' and not onnx_path:
            onnx_path = export_temporary(args, tmp, in_size)
            notes.append('temporary fused ONNX model exported from the random/given weights')
        config = ModelConfig(backbone=args.backbone, backbone_weights=args.backbone_weights,
                             head_weights=tuple(args.head_weights), input_size=args.input_size,
                             device=args.device, dtype=args.dtype, backend=args.backend,
                             onnx_model=onnx_path, warmup=0, compile=args.compile,
                             seed=args.seed, threads=args.threads,
                             normalization=args.normalization)
        segmenter = Segmenter(config)  # compiles the backbone now with --compile
        if args.compile:
            notes.append(compile_note(segmenter))
        if segmenter.backend != 'torch':
            notes.append(f"{segmenter.backend} runs the fused model: backbone_ms includes the "
                         "heads, head_ms is 0; backbone_gflops counts backbone + head work")
            threads = segmenter.info.threads or threads
        rgb = photo(height, width)
        info = segmenter.preprocessor.resize_info(rgb)
        in_size = (info.in_height, info.in_width)
        ms = time_stages(segmenter, rgb, args.warmup, args.repeat, not args.no_overlay)
        if segmenter.backend != 'torch':  # the heads run inside the fused model
            ms['backbone'], ms['head'] = ms['backbone'] + ms['head'], 0.0
        device = segmenter.device if segmenter.device.startswith('cuda') else 'cpu'
        report: Dict[str, Any] = {f'{k}_ms': round(v, 3) for k, v in ms.items()
                                  if k != 'non_model'}
        report.update(work_figures(segmenter, in_size, ms, device))
        report.update({'device': segmenter.device, 'backend': segmenter.backend,
                       'precision': str(segmenter.precision).replace('torch.', ''),
                       'precision_reason': segmenter.precision_reason,
                       'cpu': cpu_model_name(), 'cpu_native_bf16': cpu_has_native_bf16(),
                       'backbone': segmenter.backbone_name, 'threads': threads,
                       'rss_mb': rss_mb(), 'peak_rss_mb': round(
                           resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                       'feature_channels': backbone_spec(segmenter.backbone_name).embed_dim,
                       'size': f'{width}x{height}',
                       'input_size': f'{in_size[1]}x{in_size[0]}',
                       'repeat': args.repeat, 'warmup': args.warmup,
                       'untrained': bool(segmenter.untrained), 'notes': notes})
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print(json.dumps(report, indent=2, sort_keys=True))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console-script entry point."""
    return run_cli(_main, argv)


if __name__ == '__main__':
    raise SystemExit(main())
