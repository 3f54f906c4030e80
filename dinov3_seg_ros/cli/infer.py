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

"""dinov3-seg-infer: segment image files offline.

IMAGE is a file or a folder (every image in it, not recursive). For each image with file
stem S it writes DIR/S_labels.png (class ids, uint8 up to 256 classes, else uint16, same
size as the image) and DIR/S_overlay.png; --colored adds DIR/S_colored.png (the class
palette image); --save-features adds
DIR/S_features.npy (float32 (C, h, w), the head's input) and --save-logits DIR/S_logits.npy
(float32 (K, h, w), head logits before any resize). Heads after the first add their name:
S_labels_<head>.png, S_logits_<head>.npy. A video S.mp4 (.mkv, .avi, .mov) gives
DIR/S_overlay.mp4 and DIR/S_labels/000000.png, ... (one per frame; see infer_video).
"""

import argparse
import dataclasses
import logging
import os
import sys
import time
from typing import List, Optional, Sequence

import cv2
import numpy as np

from dinov3_seg_ros.cli.common import add_model_arguments, add_overlay_arguments
from dinov3_seg_ros.cli.common import add_verbosity_arguments
from dinov3_seg_ros.cli.common import error_line, EXIT_ERROR, model_config_from_args
from dinov3_seg_ros.cli.common import run_cli, setup_logging
from dinov3_seg_ros.cli.infer_video import add_video_arguments, is_video, segment_video
from dinov3_seg_ros.core.errors import ConfigError, ImageError, one_line

LOGGER = logging.getLogger('dinov3_seg_ros.infer')


def read_rgb(path: str) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB; gray, RGBA, palette, 16-bit convert.

    EXIF orientation is applied. Raises ImageError for a missing or undecodable file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError
    if not os.path.isfile(path):
        raise ImageError(f'image not found: {path!r}')
    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError,
            Image.DecompressionBombError) as exc:
        reason = one_line(exc) or type(exc).__name__
        raise ImageError(f'cannot read image {path!r}: {reason}') from None
    if image.mode in ('I', 'I;16', 'I;16B', 'I;16L', 'F'):
        gray = np.asarray(image, dtype=np.float64)
        if gray.max(initial=0) > 255:
            gray = gray * (255.0 / 65535.0)
        gray = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    return np.asarray(image.convert('RGB'), dtype=np.uint8)


def write_png(path: str, image: np.ndarray) -> None:
    """Write (H, W) uint8/uint16 or (H, W, 3) uint8 RGB as PNG (OSError on failure)."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode('.png', image)
    if not ok:
        raise OSError(f'cannot encode {path!r}')
    with open(path, 'wb') as stream:
        stream.write(data.tobytes())


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of dinov3-seg-infer."""
    parser = argparse.ArgumentParser(prog='dinov3-seg-infer',
                                     description=__doc__.split('\n\n', 1)[1])
    parser.add_argument('images', nargs='+', metavar='IMAGE',
                        help='image files, folders (every image in them) or videos '
                             '(.mp4, .mkv, .avi, .mov) to segment')
    parser.add_argument('--out-dir', required=True, metavar='DIR', help='output directory')
    add_model_arguments(parser)
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the backbone: ~19%% faster per image on the CPU, '
                             'but 25-35 s of compiling first and more when the input shape '
                             'changes (pays off for many images of one size)')
    parser.add_argument('--save-features', action='store_true',
                        help='also write S_features.npy: (C, h, w) float32 head input')
    parser.add_argument('--save-logits', action='store_true',
                        help='also write S_logits.npy: (K, h, w) float32 head output')
    parser.add_argument('--colored', action='store_true',
                        help='also write S_colored.png: the class palette image')
    add_overlay_arguments(parser)
    add_video_arguments(parser)
    add_verbosity_arguments(parser)
    return parser


IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def expand_inputs(paths: Sequence[str]) -> List[str]:
    """Replace every folder by its images (sorted, not recursive, hidden files skipped)."""
    images: List[str] = []
    for path in paths:
        if not os.path.isdir(path):
            images.append(path)
            continue
        found = sorted(os.path.join(path, name) for name in os.listdir(path)
                       if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith('.')
                       and os.path.isfile(os.path.join(path, name)))
        if not found:
            raise ImageError(f'no images ({", ".join(IMAGE_EXTENSIONS)}) in folder {path!r}')
        images.extend(found)
    return images


def _check_inputs(images: Sequence[str]) -> List[str]:
    """Stems of the images; missing files and clashing stems fail before the model loads."""
    stems: List[str] = []
    for path in images:
        if not os.path.isfile(path):
            raise ImageError(f'image not found: {path!r}')
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem in stems:
            raise ConfigError(f'two images share the file stem {stem!r}: their outputs would '
                              'overwrite each other')
        stems.append(stem)
    return stems


def _segment_one(segmenter, path: str, out_base: str, args: argparse.Namespace) -> str:
    """Segment one file and write its outputs; returns a one-line summary."""
    rgb = read_rgb(path)
    started = time.perf_counter()
    kwargs = {'overlay': True, 'alpha': args.alpha, 'draw_labels': not args.no_names,
              'colored': args.colored}
    if args.save_features or args.save_logits:
        features, info = segmenter.features(rgb)
        logits = segmenter.head_logits(features)
        result = segmenter.from_logits(rgb, logits, info, **kwargs)
        if args.save_features:
            np.save(f'{out_base}_features.npy', features[0].cpu().numpy().astype(np.float32))
        if args.save_logits:
            for i, (name, lg) in enumerate(zip(segmenter.head_names, logits)):
                suffix = '' if i == 0 else f'_{name}'
                np.save(f'{out_base}_logits{suffix}.npy',
                        lg[0].cpu().numpy().astype(np.float32))
    else:
        result = segmenter(rgb, **kwargs)
    elapsed = (time.perf_counter() - started) * 1e3
    write_png(f'{out_base}_labels.png', result.labels)
    write_png(f'{out_base}_overlay.png', result.overlay)
    if args.colored:
        write_png(f'{out_base}_colored.png', result.colored)
    for name, labels in result.extra_labels.items():
        write_png(f'{out_base}_labels_{name}.png', labels)
    present = np.unique(result.labels)
    top = ', '.join(segmenter.class_names[i] for i in present[:5])
    return (f'{path}: {rgb.shape[1]}x{rgb.shape[0]}, {present.size} classes ({top}'
            f'{", ..." if present.size > 5 else ""}) in {elapsed:.0f} ms')


def _tell_input_size(segmenter, path: str, told: set) -> None:
    """Print the effective model input size once per distinct size (from the image header)."""
    from PIL import Image
    from dinov3_seg_ros.core.preprocess import model_input_size
    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.getexif().get(0x0112) in (5, 6, 7, 8):  # EXIF rotation by 90 degrees
                width, height = height, width
    except (OSError, ValueError, SyntaxError):
        return  # unreadable: _segment_one reports it
    in_height, in_width = model_input_size(height, width, segmenter.input_size)
    if (in_height, in_width) not in told:
        told.add((in_height, in_width))
        print(f'model input {in_width}x{in_height} for {width}x{height} images '
              f'(input_size {segmenter.input_size})', flush=True)


def _main(argv: Optional[Sequence[str]]) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose - args.quiet)
    config = dataclasses.replace(model_config_from_args(args), compile=args.compile)
    if (args.save_features or args.save_logits) and config.backend == 'auto':
        config = dataclasses.replace(config, backend='torch')  # features need the torch path
    if (args.save_features or args.save_logits) and config.backend != 'torch':
        raise ConfigError('--save-features/--save-logits need --backend torch')
    images = expand_inputs(args.images)
    stems = _check_inputs(images)
    os.makedirs(args.out_dir, exist_ok=True)
    from dinov3_seg_ros.core.segmenter import Segmenter  # torch import: after the cheap checks
    segmenter = Segmenter(config)
    failures = 0
    sizes_told: set = set()
    for path, stem in zip(images, stems):
        try:
            if is_video(path):
                out_base = os.path.join(args.out_dir, stem)
                print(segment_video(segmenter, path, out_base, args, write_png), flush=True)
                continue
            if not args.quiet:
                _tell_input_size(segmenter, path, sizes_told)
            print(_segment_one(segmenter, path, os.path.join(args.out_dir, stem), args),
                  flush=True)
        except (ImageError, OSError) as exc:  # report, keep going with the other images
            print(error_line(exc), file=sys.stderr, flush=True)
            failures += 1
    return EXIT_ERROR if failures else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console-script entry point; returns the exit code."""
    return run_cli(_main, argv)


if __name__ == '__main__':
    sys.exit(main())
