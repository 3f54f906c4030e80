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

"""The Segmenter facade: RGB frame -> labels (+ overlay, colored mask, confidence).

One backbone pass feeds every head. Backends: torch (CPU or CUDA with fp16/bf16 autocast)
or onnxruntime on a fused model exported by dinov3-seg-export.
"""

from dataclasses import dataclass, field
import logging
import os
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .backbone import backbone_spec, BackboneSpec, build_backbone
from .checkpoint import default_class_names, HeadCheckpoint, load_head_checkpoint
from .checkpoint import read_class_names
from .compiled_forward import compile_forward, compile_now
from .config import InputSize, ModelConfig
from .device import autocast, device_label, select_device, select_dtype, StageTimer
from .errors import CheckpointError, ConfigError
from .heads import build_head, HeadConfig
from .overlay import class_palette, colorize, render_overlay
from .device_labels import labels_to_host, on_accelerator
from .postprocess import confidence_map, label_dtype, labels_from_logits, LogitsLike
from .postprocess import postprocess
from .preprocess import check_rgb, Preprocessor, ResizeInfo

LOGGER = logging.getLogger(__name__)
DEFAULT_NUM_CLASSES = 134
RANDOM_SEED = 0  # the default seed of random backbone/head weights (ModelConfig.seed)


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


def head_names_for(paths: Sequence[str]) -> List[str]:
    """Name heads by their file stems, made unique ('model', 'model_1'); 'head0' if none."""
    names: List[str] = []
    for i, path in enumerate(paths):
        stem = os.path.splitext(os.path.basename(path))[0] or f'head{i}'
        name, n = stem, 1
        while name in names:
            name, n = f'{stem}_{n}', n + 1
        names.append(name)
    return names or ['head0']


def random_head(in_channels: int, class_names: Sequence[str],
                seed: int = RANDOM_SEED) -> HeadCheckpoint:
    """Build a randomly initialised (seeded, reproducible) ASPP head marked untrained."""
    config = HeadConfig(in_channels=in_channels, num_classes=len(class_names))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = build_head(config).state_dict()
    return HeadCheckpoint(state, config, list(class_names), metadata={'untrained': True})


def load_heads(config: ModelConfig, backbone: str) -> List[HeadCheckpoint]:
    """Load the head checkpoints of config and check them against the backbone.

    classes_file names the first head's classes; without head weights the result is one
    random, untrained head with the classes_file names or the default COCO panoptic ones.
    """
    spec = backbone_spec(backbone)
    if not config.head_weights:
        names = (read_class_names(config.classes_file) if config.classes_file
                 else default_class_names(DEFAULT_NUM_CLASSES))
        return [random_head(spec.embed_dim, names, config.seed)]
    heads = []
    for i, path in enumerate(config.head_weights):
        head = load_head_checkpoint(path, config.classes_file if i == 0 else '')
        check_head_fits(head, path, spec)
        heads.append(head)
    return heads


def check_head_fits(head: HeadCheckpoint, path: str, spec: BackboneSpec) -> None:
    """Raise CheckpointError unless the head takes spec's features (width and variant)."""
    if head.head.in_channels != spec.embed_dim:
        raise CheckpointError(
            f'head {path!r} expects {head.head.in_channels}-channel features but backbone '
            f'{spec.name} has embed_dim {spec.embed_dim}')
    if head.backbone:
        trained_on = _variant_name(head.backbone)
        if trained_on != spec.name:
            raise CheckpointError(f'head {path!r} was trained on {trained_on} features, '
                                  f'not {spec.name}: pass --backbone {trained_on}')


def _variant_name(name: str) -> str:
    try:
        return backbone_spec(name).name
    except ConfigError:
        return name


def warmup_frame_size(size: InputSize) -> Tuple[int, int]:
    """(H, W) of a typical frame for warm-up: the fixed size, else 3:4 at the long side."""
    if size.mode == 'fixed':
        return size.height, size.width
    long_side = size.long_side if size.mode == 'long' else 640
    return long_side * 3 // 4, long_side


class Segmenter:
    """Build once from a ModelConfig, then call with (H, W, 3) uint8 RGB frames.

    Raises CheckpointError / ConfigError for bad weights or configuration (ConfigError for
    device='cuda' without CUDA; 'auto' falls back to the CPU with a warning). With
    config.compile the backbone is compiled at start-up (compiled, compile_seconds).
    """

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.backend = config.backend
        self.input_size: InputSize = config.input_size
        self.backbone = None
        self.heads: List[torch.nn.Module] = []
        self.head_checkpoints: List[HeadCheckpoint] = []
        self._ort = None
        self.compiled = False
        self.compile_seconds: Optional[float] = None
        if self.backend == 'onnxruntime':
            self._init_onnxruntime(config)
        else:
            self._init_torch(config)
        self.num_classes = len(self.class_names)
        self.label_dtype = label_dtype(self.num_classes)
        self.palette = class_palette(self.class_names)
        self.preprocessor = Preprocessor(self.input_size, self.mean, self.std,
                                         self._torch_device, reuse_output=True)
        if self.compiled:
            self._compile()
        if config.warmup:
            self.warmup(*warmup_frame_size(self.input_size), runs=config.warmup)

    def _init_torch(self, config: ModelConfig) -> None:
        self.head_checkpoints = load_heads(config, config.backbone)  # cheap checks first
        device = select_device(config.device)
        self.dtype = select_dtype(config.dtype, device)
        backbone = build_backbone(config.backbone, config.backbone_weights, seed=config.seed)
        self.backbone = backbone.to(device)
        self.backbone_name = backbone.spec.name
        self.compiled = config.compile and compile_forward(self.backbone)
        if not config.head_weights:
            LOGGER.warning('No head weights given: using a RANDOM %d-class head; the labels '
                           'are meaningless (train one with dinov3-seg-train or pass '
                           '--head-weights)', len(self.head_checkpoints[0].class_names))
        for head in self.head_checkpoints:
            module = head.build()
            if hasattr(module, 'fuse_batchnorm'):
                module = module.fuse_batchnorm()
            # backbone features are NCHW views of (B, h*w, C) tokens, i.e. channels_last
            # in memory already: a channels_last head avoids a copy
            self.heads.append(module.to(device, memory_format=torch.channels_last))
        first = self.head_checkpoints[0]
        self.mean = tuple(first.mean) if first.mean is not None else backbone.mean
        self.std = tuple(first.std) if first.std is not None else backbone.std
        self.class_names = list(first.class_names)
        self.head_names = head_names_for(config.head_weights)
        self._head_classes = [len(h.class_names) for h in self.head_checkpoints]
        self.head_class_names = [list(h.class_names) for h in self.head_checkpoints]
        self.untrained = not backbone.pretrained or any(
            h.metadata.get('untrained') for h in self.head_checkpoints)
        self._torch_device = device
        self.device = device_label(device)

    def _compile(self) -> None:
        """Compile the backbone on a warm-up-sized gray frame; eager again if that fails."""
        x, _ = self.preprocessor(np.full(warmup_frame_size(self.input_size) + (3,), 128, np.uint8))
        with torch.inference_mode(), autocast(self._torch_device, self.dtype):
            self.compile_seconds = compile_now(self.backbone, x)
        self.compiled = self.compile_seconds is not None

    def _init_onnxruntime(self, config: ModelConfig) -> None:
        from .onnx_backend import OnnxRuntimeBackend  # optional dependency, loaded on demand
        self._ort = backend = OnnxRuntimeBackend(config.onnx_model, config.device,
                                                 input_size=config.input_size)
        meta = backend.metadata
        if backend.kind != 'fused':
            raise ConfigError(f'onnx_model: {config.onnx_model!r} is a head-only model; the '
                              'onnxruntime backend needs the fused (image -> logits) export')
        names = backend.class_names
        if config.classes_file:
            expected = len(names[0])
            names[0] = read_class_names(config.classes_file)
            if len(names[0]) != expected:
                raise CheckpointError(f'{len(names[0])} class names in {config.classes_file!r}'
                                      f' for a model with {expected} classes')
        if not meta.get('mean') or not meta.get('std'):
            raise CheckpointError(f'{config.onnx_model!r} metadata has no mean/std')
        fixed = backend.fixed_size()
        if fixed is not None:
            self.input_size = InputSize(mode='fixed', width=fixed[1], height=fixed[0])
        self.mean, self.std = tuple(meta['mean']), tuple(meta['std'])
        self.class_names = list(names[0])
        self.head_names = list(meta['head_names'])
        self._head_classes = [len(n) for n in names]
        self.head_class_names = [list(n) for n in names]
        self.backbone_name = str(meta.get('backbone') or config.backbone)
        self.untrained = bool(meta.get('untrained'))
        if self.untrained:
            LOGGER.warning('%r was exported from UNTRAINED weights: its labels are '
                           'meaningless', config.onnx_model)
        self.dtype = torch.float32
        self.device = backend.device
        on_gpu = backend.device != 'cpu' and torch.cuda.is_available()
        self._torch_device = torch.device(backend.device if on_gpu else 'cpu')

    def features(self, rgb: np.ndarray) -> Tuple[torch.Tensor, ResizeInfo]:
        """(H, W, 3) uint8 RGB -> ((1, C, h, w) float32 backbone features, ResizeInfo)."""
        if self.backbone is None:
            raise ConfigError('features are only available with the torch backend')
        x, info = self.preprocessor(check_rgb(rgb))
        with torch.inference_mode(), autocast(self._torch_device, self.dtype):
            return self.backbone(x).float(), info

    def head_logits(self, features: torch.Tensor) -> List[torch.Tensor]:
        """(1, C, h, w) features -> one (1, K_i, h, w) float32 logits tensor per head."""
        if not self.heads:
            raise ConfigError('head logits are only available with the torch backend')
        features = features.to(self._torch_device)
        with torch.inference_mode(), autocast(self._torch_device, self.dtype):
            return [head(features).float() for head in self.heads]

    def _logits(self, rgb: np.ndarray, timer: StageTimer
                ) -> Tuple[List[LogitsLike], ResizeInfo]:
        """Preprocess, backbone and heads; float32 logits, left on the device on CUDA."""
        if self._ort is not None:
            if self._torch_device.type == 'cuda':
                x, info = self.preprocessor(rgb)
            else:
                x, info = self.preprocessor.to_numpy(rgb)
            timer.mark('preprocess')
            outputs = self._ort(x)
            timer.mark('backbone')
            timer.mark('head')  # fused model: the heads' time is inside 'backbone'
            return [o if on_accelerator(o) else np.asarray(o, np.float32)
                    for o in outputs], info
        x, info = self.preprocessor(rgb)
        timer.mark('preprocess')
        with torch.inference_mode(), autocast(self._torch_device, self.dtype):
            features = self.backbone(x)
            timer.mark('backbone')
            logits = [head(features) for head in self.heads]
            timer.mark('head')
        if self._torch_device.type == 'cuda':  # labels are computed there (device_labels)
            return [lg.float() for lg in logits], info
        return [lg.float().cpu().numpy() for lg in logits], info

    def __call__(self, rgb: np.ndarray, overlay: bool = False, colored: bool = False,
                 confidence: bool = False, alpha: float = 0.5,
                 draw_labels: bool = True) -> SegmentationResult:
        """Segment one (H, W, 3) uint8 RGB frame (ImageError if malformed)."""
        started = time.perf_counter()
        rgb = check_rgb(rgb)
        timer = StageTimer(self._torch_device)
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

    def warmup(self, height: int = 480, width: int = 640, runs: int = 1) -> None:
        """Run the whole pipeline on gray frames so the first real frame is not slow."""
        frame = np.full((height, width, 3), 128, np.uint8)
        for _ in range(runs):
            self(frame, overlay=True, colored=True)

    def segment_batch(self, frames: Sequence[np.ndarray], **kwargs: object
                      ) -> List[SegmentationResult]:
        """Segment (H, W, 3) uint8 RGB frames, keywords of __call__ (placeholder: a loop)."""
        return [self(frame, **kwargs) for frame in frames]
