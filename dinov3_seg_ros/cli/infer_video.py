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

"""Video files in dinov3-seg-infer: every (or every Nth) frame, an overlay video, lossless labels.

A .mp4/.mkv/.avi/.mov argument with file stem S is read frame by frame with OpenCV's
VideoCapture (FFmpeg inside opencv-python, already a dependency: no second decoder to
install, and it reads every container and codec FFmpeg does) and gives S_overlay.mp4 (same
size; same frame rate, divided by N with --every N so the duration is kept) and
S_labels/<frame>.png, the class ids of source frame <frame> (000000.png, 000001.png, ...;
uint8, uint16 above 256 classes); extra heads add S_labels_<head>/.
"""

import argparse
import os
import sys
import time
from typing import Any, Callable

import cv2
import numpy as np

from dinov3_seg_ros.core.errors import ConfigError, ImageError

VIDEO_EXTENSIONS = ('.mp4', '.mkv', '.avi', '.mov')


def is_video(path: str) -> bool:
    """Tell whether a path names a video file (by its extension)."""
    return path.lower().endswith(VIDEO_EXTENSIONS)


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --every N (video frames to take)."""
    parser.add_argument('--every', type=int, default=1, metavar='N',
                        help=f'videos ({", ".join(VIDEO_EXTENSIONS)}): segment every Nth frame '
                             '(default: %(default)s)')


def segment_video(segmenter: Any, path: str, out_base: str, args: argparse.Namespace,
                  write_png: Callable[[str, np.ndarray], None]) -> str:
    """Segment the frames of one video and write its outputs; returns a one-line summary.

    Raises ImageError for a video that cannot be opened or decodes no frame (nothing is
    written then) and ConfigError for a bad --every.
    """
    if args.every < 1:
        raise ConfigError(f'--every must be >= 1, got {args.every}')
    if args.save_features or args.save_logits:
        raise ConfigError(f'{path}: --save-features/--save-logits are for image files')
    capture = cv2.VideoCapture(path)
    try:
        ok, bgr = capture.read() if capture.isOpened() else (False, None)
        if not ok or bgr is None:
            raise ImageError(f'cannot read video {path!r}: not a video, corrupt, or a codec '
                             'OpenCV cannot decode')
        fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        return _segment_frames(segmenter, capture, bgr, fps, total, path, out_base, args,
                               write_png)
    finally:
        capture.release()


def _segment_frames(segmenter: Any, capture: Any, bgr: np.ndarray, fps: float, total: Any,
                    path: str, out_base: str, args: argparse.Namespace,
                    write_png: Callable[[str, np.ndarray], None]) -> str:
    from tqdm import tqdm
    height, width = bgr.shape[:2]
    overlay_path = f'{out_base}_overlay.mp4'
    writer = cv2.VideoWriter(overlay_path, cv2.VideoWriter_fourcc(*'mp4v'), fps / args.every,
                             (width, height))
    if not writer.isOpened():
        raise OSError(f'cannot write video {overlay_path!r}')
    folders = {name: f'{out_base}_labels' + (f'_{name}' if i else '')
               for i, name in enumerate(segmenter.head_names)}
    for folder in folders.values():
        os.makedirs(folder, exist_ok=True)
    kwargs = {'overlay': True, 'alpha': args.alpha, 'draw_labels': not args.no_names}
    index, done, started = 0, 0, time.perf_counter()
    bar = tqdm(total=(total + args.every - 1) // args.every if total else None, unit='frame',
               desc=os.path.basename(path), dynamic_ncols=True, disable=args.quiet > 0,
               file=sys.stderr)
    try:
        while bgr is not None:
            if index % args.every == 0:
                result = segmenter(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), **kwargs)
                writer.write(cv2.cvtColor(result.overlay, cv2.COLOR_RGB2BGR))
                name = f'{index:06d}.png'
                write_png(os.path.join(folders[segmenter.head_names[0]], name), result.labels)
                for head, labels in result.extra_labels.items():
                    write_png(os.path.join(folders[head], name), labels)
                done += 1
                bar.update(1)
            index += 1
            ok, bgr = capture.read()
            bgr = bgr if ok else None
    finally:
        bar.close()
        writer.release()
    elapsed = time.perf_counter() - started
    return (f'{path}: {width}x{height} at {fps:g} fps, {done} of {index} frames segmented '
            f'(every {args.every}) in {elapsed:.1f} s ({elapsed * 1e3 / done:.0f} ms/frame) '
            f'-> {overlay_path}, {folders[segmenter.head_names[0]]}/')
