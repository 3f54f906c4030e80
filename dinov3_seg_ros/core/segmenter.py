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

"""The Segmenter facade: RGB frames -> labels (+ overlay, colored mask, confidence).

preprocess -> backend -> postprocess -> overlay. One backbone pass feeds every head; the
backend (backends.selection: torch, onnxruntime, openvino, or 'auto') is one object behind
one interface. segment_batch stacks frames of one model input size into one backend call.
With backend openvino or onnxruntime on the CPU nothing here imports torch.
"""

from dataclasses import dataclass, field
import logging
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .backends.base import Backend, COMPILE, ModelInfo, split_batch
from .backends.selection import create_backend
from .config import InputSize, ModelConfig
from .input_size_choice import effective_input_size, with_trained_input_size
from .heap import trim_heap
from .overlay import class_palette, colorize, render_overlay
from .postprocess import confidence_map, label_dtype, labels_from_logits, LogitsLike
from .postprocess import on_accelerator, postprocess
from .preprocess import check_rgb, Preprocessor, ResizeInfo
from .timing import StageTimer

LOGGER = logging.getLogger(__name__)


@dataclass
class SegmentationResult:
    """Outputs for one frame; every image has the input's H and W.

    labels (H, W) uint8/uint16 class ids of the first head; confidence (H, W) float32 max
    softmax probability; overlay and colored (H, W, 3) uint8 RGB; extra_labels: labels of
    the other heads by head name; timings_ms: preprocess, backbone, head, postprocess,
    overlay, total.
    """

    labels: np.ndarray
    confidence: Optional[np.ndarray] = None
    overlay: Optional[np.ndarray] = None
    colored: Optional[np.ndarray] = None
    extra_labels: Dict[str, np.ndarray] = field(default_factory=dict)
    timings_ms: Dict[str, float] = field(default_factory=dict)


def warmup_frame_size(size: InputSize) -> Tuple[int, int]:
    """(H, W) of a typical frame for warm-up: the fixed size, else 3:4 at the long side."""
    if size.mode == 'fixed':
        return size.height, size.width
    long_side = size.long_side if size.mode == 'long' else 640
    return long_side * 3 // 4, long_side


class Segmenter:
    """Build once from a ModelConfig, then call with (H, W, 3) uint8 RGB frames.

    Raises CheckpointError / ConfigError for bad weights or configuration (ConfigError for
    device='cuda' without CUDA; 'auto' falls back to the CPU with a warning). engine is the
    backend; info its ModelInfo (kept by reference, never copied). With config.compile and a
    backend that declares COMPILE, the backbone is compiled at start-up (compile_seconds).
    """

    def __init__(self, config: ModelConfig) -> None:
        self.engine: Backend = create_backend(config)
        self.info: ModelInfo = self.engine.info
        self.config = config = with_trained_input_size(config, self.info)
        self.input_size: InputSize = effective_input_size(config, self.info.fixed_size)
        self.label_dtype = label_dtype(self.num_classes)
        self.palette = class_palette(self.class_names)
        self._timer_device = self.engine.torch_device if self.engine.wants_torch_input else 'cpu'
        self.preprocessor = Preprocessor(self.input_size, self.info.mean, self.info.std,
                                         self.engine.torch_device, reuse_output=True)
        self.compile_seconds: Optional[float] = None
        if config.compile and not self.engine.supports(COMPILE):
            LOGGER.warning('compile: true is ignored: backend %s has no torch.compile (it '
                           'applies to backend torch only)', self.backend)
        elif config.compile:
            frame = np.full(warmup_frame_size(self.input_size) + (3,), 128, np.uint8)
            self.compile_seconds = self.engine.compile(self.preprocessor(frame)[0])
        if config.warmup:
            self.warmup(*warmup_frame_size(self.input_size), runs=config.warmup)
        trim_heap()  # what building and warming up freed goes back to the OS

    backend = property(lambda self: self.engine.name, doc="The backend's name ('auto' resolved).")
    class_names = property(lambda self: list(self.info.class_names[0]),
                           doc='Class names of the first head (index = label id).')
    head_class_names = property(lambda self: [list(n) for n in self.info.class_names],
                                doc='Class names of every head.')
    head_names = property(lambda self: list(self.info.head_names), doc='One name per head.')
    num_classes = property(lambda self: len(self.info.class_names[0]),
                           doc='Classes of the first head.')
    mean = property(lambda self: self.info.mean, doc='Input normalization mean (RGB).')
    std = property(lambda self: self.info.std, doc='Input normalization std (RGB).')
    backbone_name = property(lambda self: self.info.backbone, doc="Short variant ('vits16').")
    untrained = property(lambda self: self.info.untrained, doc='Random weights somewhere.')
    device = property(lambda self: self.info.device, doc="'cpu', 'cuda:N' or 'gpu'.")
    precision = property(lambda self: self.info.precision, doc='Compute precision name.')
    precision_reason = property(lambda self: self.info.precision_reason,
                                doc='Why that precision was chosen.')
    compiled = property(lambda self: self.compile_seconds is not None,
                        doc='The backbone runs torch.compile-d.')
    max_batch = property(lambda self: self.info.max_batch,
                         doc='Most frames per backend call (1: fixed-shape engine; 0: any).')

    def features(self, rgb: np.ndarray) -> Tuple[Any, ResizeInfo]:
        """(H, W, 3) uint8 RGB -> ((1, C, h, w) float32 backbone features, ResizeInfo).

        Needs a backend with the FEATURES capability (CapabilityError otherwise).
        """
        x, info = self.preprocessor(check_rgb(rgb))
        return self.engine.features(x), info

    def head_logits(self, features: Any) -> List[Any]:
        """(1, C, h, w) features -> one (1, K_i, h, w) float32 logits tensor per head."""
        return self.engine.head_logits(features)

    def _prepare(self, rgb: np.ndarray) -> Tuple[Any, ResizeInfo]:
        """One frame -> (1, 3, h, w) backend input (numpy or torch), ResizeInfo."""
        if self.engine.wants_torch_input:
            return self.preprocessor(rgb)
        x, info = self.preprocessor.to_numpy(rgb)
        return x, info

    def _logits(self, rgb: np.ndarray, timer: StageTimer
                ) -> Tuple[List[LogitsLike], ResizeInfo]:
        """Preprocess and run the backend; float32 logits, left on the device on CUDA."""
        x, info = self._prepare(rgb)
        timer.mark('preprocess')
        return self.engine(x, timer), info

    def __call__(self, rgb: np.ndarray, overlay: bool = False, colored: bool = False,
                 confidence: bool = False, alpha: float = 0.5,
                 draw_labels: bool = True) -> SegmentationResult:
        """Segment one (H, W, 3) uint8 RGB frame (ImageError if malformed)."""
        started = time.perf_counter()
        rgb = check_rgb(rgb)
        timer = StageTimer(self._timer_device)
        logits, info = self._logits(rgb, timer)
        result = self.from_logits(rgb, logits, info, overlay, colored, confidence, alpha,
                                  draw_labels)
        timings = timer.results()
        timings.update(result.timings_ms)
        timings['total'] = (time.perf_counter() - started) * 1e3
        result.timings_ms = timings
        return result

    def from_logits(self, rgb: np.ndarray, logits: Sequence[LogitsLike], info: ResizeInfo,
                    overlay: bool = False, colored: bool = False, confidence: bool = False,
                    alpha: float = 0.5, draw_labels: bool = True) -> SegmentationResult:
        """Labels and images from per-head (1, K_i, h, w) logits of rgb (see __call__).

        timings_ms holds 'postprocess' and 'overlay' only. Logits on a GPU: labels of every
        head are computed there and copied in one transfer (on CUDA 'postprocess' then also
        holds the wait for the model, which runs asynchronously).
        """
        t0 = time.perf_counter()
        if on_accelerator(logits[0]):
            from .device_labels import labels_to_host
            labels, *others = labels_to_host(logits, info.height, info.width)
            extra = dict(zip(self.head_names[1:], others))
            conf = confidence_map(logits[0], info.height, info.width) if confidence else None
        else:
            labels, conf = postprocess(logits[0], info, confidence, self.label_dtype)
            extra = {name: labels_from_logits(lg, info.height, info.width)
                     for name, lg in zip(self.head_names[1:], logits[1:])}
        t1 = time.perf_counter()
        colored_image = colorize(labels, self.palette) if colored else None
        overlay_image = None
        if overlay:
            overlay_image = render_overlay(rgb, labels, self.palette, self.class_names, alpha,
                                           draw_labels, self.untrained, colored_image)
        timings = {'postprocess': (t1 - t0) * 1e3, 'overlay': (time.perf_counter() - t1) * 1e3}
        return SegmentationResult(labels, conf, overlay_image, colored_image, extra, timings)

    def segment_batch(self, frames: Sequence[np.ndarray], overlay: bool = False,
                      colored: bool = False, confidence: bool = False, alpha: float = 0.5,
                      draw_labels: bool = True) -> List[SegmentationResult]:
        """Segment several (H, W, 3) uint8 RGB frames (e.g. one per camera), in input order.

        Frames are grouped by model input size; each group is stacked into ONE (N, 3, h, w)
        backend call, split into calls of max_batch frames for an engine that takes no more
        (a fixed-shape model: one frame per call); every result has its own frame's
        resolution. timings_ms of a result hold its call's preprocess/backbone/head times,
        its own postprocess/overlay, 'total' (the whole batch so far) and 'batch' (frames in
        its call).
        """
        started = time.perf_counter()
        frames = [check_rgb(f) for f in frames]
        groups: Dict[Tuple[int, int], List[int]] = {}
        for i, rgb in enumerate(frames):
            info = self.preprocessor.resize_info(rgb)
            groups.setdefault((info.in_height, info.in_width), []).append(i)
        results: List[Optional[SegmentationResult]] = [None] * len(frames)
        step = self.max_batch or len(frames)
        calls = [group[k:k + step] for group in groups.values()
                 for k in range(0, len(group), step)]
        for members in calls:
            timer = StageTimer(self._timer_device)
            batch, infos = None, []
            for j, i in enumerate(members):
                x, info = self._prepare(frames[i])
                if len(members) == 1:
                    batch = x
                else:  # one copy per frame: the preprocessor reuses its output buffer
                    batch = _empty_batch(x, len(members)) if batch is None else batch
                    batch[j] = x[0]
                infos.append(info)
            timer.mark('preprocess')
            outputs = self.engine(batch, timer)
            shared = None
            for i, info, logits in zip(members, infos, split_batch(outputs)):
                result = self.from_logits(frames[i], logits, info, overlay, colored,
                                          confidence, alpha, draw_labels)
                shared = shared or timer.results()
                result.timings_ms = {**shared, **result.timings_ms, 'batch': len(members),
                                     'total': (time.perf_counter() - started) * 1e3}
                results[i] = result
        return [r for r in results if r is not None]

    def warmup(self, height: int = 480, width: int = 640, runs: int = 1) -> None:
        """Run the whole pipeline on gray frames so the first real frame is not slow."""
        frame = np.full((height, width, 3), 128, np.uint8)
        for _ in range(runs):
            self(frame, overlay=True, colored=True)


def _empty_batch(x: Any, n: int) -> Any:
    """Return an empty (n, 3, h, w) batch like the (1, 3, h, w) input x (numpy or torch)."""
    if isinstance(x, np.ndarray):
        return np.empty((n,) + x.shape[1:], x.dtype)
    return x.new_empty((n,) + tuple(x.shape[1:]))
