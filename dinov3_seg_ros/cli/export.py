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

"""dinov3-seg-export: write the fused (backbone + heads) or head-only ONNX model.

Example: dinov3-seg-export --backbone vits16plus --backbone-weights dinov3_vits16plus.pth
--head-weights model.pth --out dinov3_seg.onnx --check

--int8 also writes <out>.xml/.bin: an int8 OpenVINO IR quantized by NNCF from the exported
ONNX, calibrated on --calibration-images (default: scikit-image's sample photos).

--out m.xml writes the OpenVINO IR (m.xml + m.bin, float32 weights, the metadata in
rt_info) instead of the ONNX: the one file a robot needs (onnx_model: m.xml; no torch at
run time); with --int8 the int8 IR goes to m-int8.xml.

Without --backbone-weights / --head-weights the random weights are the ones dinov3-seg-infer,
-bench and -eval build from the same --seed (marked untrained in the metadata), so
`--backend onnxruntime --onnx-model` gives the labels `--backend torch` gives.
"""

import argparse
import os
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from dinov3_seg_ros.cli.common import add_verbosity_arguments, run_cli, setup_logging
from dinov3_seg_ros.cli.options import add_option
from dinov3_seg_ros.core.config import InputSize, ModelConfig
from dinov3_seg_ros.core.errors import ConfigError

DEFAULT_SIZE = '640x480'
Int8Plan = Tuple[List[str], str, List[str], int]  # sources, their text, keep, count


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser."""
    parser = argparse.ArgumentParser(
        prog='dinov3-seg-export', description=__doc__.split('\n')[0].split(': ', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ('backbone', 'normalization', 'backbone_weights', 'head_weights',
                 'classes_file', 'seed'):
        add_option(parser, name)
    parser.add_argument('--out', required=True, metavar='PATH',
                        help='output .onnx file, or an OpenVINO IR .xml (+ .bin)')
    parser.add_argument('--head-only', action='store_true',
                        help="export the head alone: 'features' (N,C,h,w) -> 'logits' "
                             '(for TensorRT pipelines that run the backbone themselves)')
    add_option(parser, 'input_size', default=DEFAULT_SIZE,
               note='Recorded in the model; the export traces a 640x480 frame at this size '
                    '(fixed WxH as given, a long side at 4:3) and falls back to that fixed '
                    'size if dynamic H/W fails.')
    parser.add_argument('--opset', type=int, default=18, help='ONNX opset (default: 18)')
    parser.add_argument('--exporter', default='auto', choices=('auto', 'dynamo', 'legacy'),
                        help='torch.onnx exporter; auto tries dynamo, then the TorchScript '
                             'one (default: %(default)s)')
    parser.add_argument('--static', action='store_true',
                        help='export for the fixed --input-size (no dynamic H/W)')
    parser.add_argument('--precision', default='float32', choices=('float32', 'float16'),
                        help='float16: fp16 weights and compute for the ONNX Runtime CUDA '
                             'provider, float32 input/outputs (default: %(default)s)')
    parser.add_argument('--int8', action='store_true',
                        help='also write an int8 OpenVINO IR (<out>.xml + .bin) by NNCF '
                             'post-training quantization of the fused ONNX')
    parser.add_argument('--calibration-images', nargs='+', default=[], metavar='DIR|FILE',
                        help='--int8 calibration images: folders and/or files (default: '
                             "scikit-image's sample photos)")
    parser.add_argument('--calibration-count', type=int, default=0, metavar='N',
                        help='--int8: calibrate on N images, cycling the sources '
                             '(default: every source once)')
    parser.add_argument('--int8-keep', default='head', metavar='LIST',
                        help='--int8: comma-separated parts kept in float: classifier '
                             '(the last conv of each head), head (all head convs), '
                             'patch_embed, MVN (LayerNorm), Softmax, ScaledDotProductAttention'
                             "; '' quantizes all NNCF would (default: %(default)s)")
    parser.add_argument('--check', action='store_true',
                        help='run ONNX Runtime and PyTorch on a photo and print the parity')
    add_verbosity_arguments(parser)
    return parser


def traced_size(text: str) -> Tuple[str, Tuple[int, int]]:
    """--input-size -> (recorded input size, traced (H, W) in multiples of 16).

    The traced size is what the preprocessing feeds the model for a 640x480 (4:3) frame.
    """
    from dinov3_seg_ros.core.preprocess import model_input_size
    size = InputSize.parse(text)
    return str(size), model_input_size(480, 640, size)


def sample_image(size: Tuple[int, int], mean: Sequence[float],
                 std: Sequence[float]) -> 'np.ndarray':
    """Return a real photo (skimage astronaut, else a synthetic scene) as (1, 3, H, W)."""
    from dinov3_seg_ros.core.preprocess import Preprocessor
    try:
        from skimage import data
        rgb = data.astronaut()
    except ImportError:
        yy, xx = np.mgrid[0:size[0], 0:size[1]]
        rgb = np.stack([xx * 255 // max(1, size[1]), yy * 255 // max(1, size[0]),
                        (xx + yy) % 256], axis=-1).astype(np.uint8)
    return Preprocessor(f'{size[1]}x{size[0]}', mean, std).to_numpy(rgb)[0]


def _main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose - args.quiet)
    if not args.out.endswith('.xml'):
        return _export(args, '')
    if args.head_only or args.precision != 'float32':
        raise ConfigError('--out .xml writes the float32 fused model: drop --head-only / '
                          '--precision')
    with tempfile.TemporaryDirectory(prefix='dinov3-export-') as folder:
        xml_path, args.out = args.out, os.path.join(folder, 'fused.onnx')
        if not os.path.isdir(os.path.dirname(os.path.abspath(xml_path))):
            raise ConfigError(f'--out: the directory of {xml_path!r} does not exist')
        return _export(args, xml_path)


def _export(args: argparse.Namespace, xml_path: str) -> int:
    """Export args.out (.onnx); then the IR at xml_path when given."""
    import torch
    from dinov3_seg_ros.core.backbone import build_backbone, create_backbone
    from dinov3_seg_ros.core.checkpoint import load_head_checkpoint
    from dinov3_seg_ros.core.export import onnx as onnx_export
    from dinov3_seg_ros.core.export.parity import check_parity
    from dinov3_seg_ros.core.backends.torch_backend import head_names_for, load_heads
    if not args.out.endswith('.onnx'):
        raise ConfigError(f'--out: {args.out!r} should end with .onnx or .xml')
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        raise ConfigError(f'--out: the directory of {args.out!r} does not exist')
    if args.head_only and len(args.head_weights) > 1:
        raise ConfigError('--head-only exports one head: give one --head-weights file')
    if not args.int8 and (args.calibration_images or args.calibration_count):
        raise ConfigError('--calibration-images / --calibration-count need --int8')
    int8 = _int8_plan(args) if args.int8 else None
    recorded, size = traced_size(args.input_size)
    if args.head_weights:
        heads = [load_head_checkpoint(path, args.classes_file if i == 0 else '')
                 for i, path in enumerate(args.head_weights)]
    else:  # the random head infer/bench build from the same seed
        heads = load_heads(ModelConfig(backbone=args.backbone, classes_file=args.classes_file,
                                       seed=args.seed), args.backbone)
    names = head_names_for(args.head_weights)
    grid = (size[0] // 16, size[1] // 16)
    if args.head_only:
        with torch.device('meta'):  # metadata only (name, mean, std): no weights allocated
            backbone = create_backbone(args.backbone)
        result = onnx_export.export_head(heads[0], args.out, head_name=names[0],
                                         backbone=backbone, grid=grid, opset=args.opset,
                                         exporter=args.exporter)
    else:
        backbone = build_backbone(args.backbone, args.backbone_weights, seed=args.seed,
                                  normalization=args.normalization)
        result = onnx_export.export_fused(backbone, heads, args.out, head_names=names,
                                          size=size, input_size=recorded, opset=args.opset,
                                          dynamic=not args.static, exporter=args.exporter)
    from dinov3_seg_ros.core.export.precision import convert_precision
    convert_precision(args.out, args.precision)
    meta = result.metadata
    megabytes = os.path.getsize(args.out) / 1e6
    shape = 'dynamic N, H, W' if result.dynamic else f'FIXED {size[1]}x{size[0]} (WxH)'
    if xml_path:
        from dinov3_seg_ros.core.export.ir import ir_megabytes, write_ir
        write_ir(args.out, xml_path)
        megabytes = ir_megabytes(xml_path)
    print(f'wrote {xml_path or args.out} ({megabytes:.1f} MB): {meta["kind"]} '
          f'{meta["backbone"]}, heads '
          + ', '.join(f'{n} [{k} classes]' for n, k in zip(meta['head_names'],
                                                           meta['num_classes']))
          + f', {shape}, opset {args.opset}, exporter {result.exporter}, {args.precision}'
          + (', OpenVINO IR' if xml_path else '')
          + (', UNTRAINED weights' if meta.get('untrained') else ''))
    if args.check:  # the torch reference, built only when asked for
        modules = onnx_export.prepare_heads(heads, True)
        if args.head_only:
            module = modules[0]
            x = torch.randn(1, heads[0].head.in_channels, *grid,
                            generator=torch.Generator().manual_seed(0))
        else:
            module = onnx_export.FusedModel(backbone, modules)
            x = torch.from_numpy(sample_image(size, meta['mean'], meta['std']))
        report = check_parity(args.out, module.eval(), x)
        print(f'parity at {x.shape[3]}x{x.shape[2]}: {report}')
    if int8 is not None:
        int8_path = (os.path.splitext(xml_path)[0] + '-int8.xml' if xml_path
                     else os.path.splitext(args.out)[0] + '.xml')
        try:
            _write_int8(args.out, int8, meta, int8_path)
        except BaseException:
            from dinov3_seg_ros.core.export.int8 import remove_failed_export
            remove_failed_export(args.out)  # a failed --int8 export leaves nothing behind
            raise
    return 0


def _int8_plan(args: argparse.Namespace) -> Int8Plan:
    """Check the --int8 options before exporting."""
    from dinov3_seg_ros.core.export.calibration import check_readable, resolve_sources
    from dinov3_seg_ros.core.export.int8 import KEEP_CHOICES
    if args.head_only or args.precision != 'float32':
        raise ConfigError('--int8 quantizes a float32 fused model: drop --head-only / '
                          '--precision')
    if args.calibration_count < 0:
        raise ConfigError('--calibration-count: must be >= 0')
    keep = [k for k in args.int8_keep.split(',') if k]
    unknown = [k for k in keep if k not in KEEP_CHOICES]
    if unknown:
        raise ConfigError(f'--int8-keep: {",".join(unknown)} not in {",".join(KEEP_CHOICES)}')
    sources, text = resolve_sources(args.calibration_images)
    check_readable(sources, args.calibration_count)  # before the export, not after it
    return sources, text, keep, args.calibration_count


def _write_int8(onnx_path: str, plan: Int8Plan, meta: Dict[str, Any], xml_path: str) -> None:
    """Quantize the written ONNX to xml_path and print agreement and speed."""
    from dinov3_seg_ros.core.export import int8 as int8_export
    from dinov3_seg_ros.core.export.calibration import calibration_images
    sources, text, keep, count = plan
    size = meta['export_size']
    frames = list(calibration_images(sources, size, meta['mean'], meta['std'], count))
    report = int8_export.quantize_to_int8(onnx_path, xml_path, frames, source=text, keep=keep)
    megabytes = sum(os.path.getsize(os.path.splitext(xml_path)[0] + e)
                    for e in ('.xml', '.bin')) / 1e6
    print(f'wrote {xml_path} ({megabytes:.1f} MB): int8 OpenVINO IR, calibrated on '
          f'{len(frames)} images ({text}), kept float: {",".join(keep) or "nothing"}')
    print(f'{report} on the calibration images')
    photo = sample_image(tuple(size), meta['mean'], meta['std'])
    fp32 = int8_export.ms_per_frame(int8_export.compile_model(onnx_path, 'f32'), photo)
    quantized = int8_export.ms_per_frame(int8_export.compile_model(xml_path, 'f32'), photo)
    print(f'OpenVINO CPU at {size[1]}x{size[0]}: fp32 {fp32:.1f} ms/frame, int8 '
          f'{quantized:.1f} ms/frame (f32 inference precision hint, median of 10)')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console-script entry point."""
    return run_cli(_main, argv)


if __name__ == '__main__':
    raise SystemExit(main())
