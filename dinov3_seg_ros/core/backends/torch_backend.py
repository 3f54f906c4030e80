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

"""The torch backend: timm DINOv3 backbone once per batch, then every head (autocast)."""

import logging
from typing import Any, List, Optional, Sequence

import torch

from ..backbone import backbone_spec, BackboneSpec, build_backbone, check_heads_data
from ..checkpoint import default_class_names, HeadCheckpoint, load_head_checkpoint
from ..checkpoint import read_class_names
from ..compiled_forward import compile_forward, compile_now
from ..config import ModelConfig
from ..device import autocast, device_label, resolve_torch_dtype, select_device
from ..errors import CheckpointError, ConfigError
from ..heads import build_head, HeadConfig
from .base import Backend, COMPILE, FEATURES, head_names_for, ModelInfo

LOGGER = logging.getLogger(__name__)
DEFAULT_NUM_CLASSES = 134
RANDOM_SEED = 0  # the default seed of random backbone/head weights (ModelConfig.seed)


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


class TorchBackend(Backend):
    """Backbone and heads as torch modules on CPU or CUDA, fp16/bf16 through autocast.

    __call__ takes a (N, 3, H, W) float32 tensor on torch_device; the logits stay on the
    GPU on CUDA (device_labels computes the labels there), numpy arrays on the CPU.
    Capabilities: FEATURES (features / head_logits, the two stages: training, infer
    --save-features, bench) and COMPILE (torch.compile of the backbone).
    backbone, heads and head_checkpoints are the torch modules and checkpoints it runs.
    """

    name = 'torch'
    capabilities = frozenset({FEATURES, COMPILE})
    wants_torch_input = True

    @classmethod
    def from_config(cls, config: ModelConfig) -> 'TorchBackend':
        """Load the config's backbone and heads (CheckpointError / ConfigError)."""
        return cls(config)

    def __init__(self, config: ModelConfig) -> None:
        self.head_checkpoints = load_heads(config, config.backbone)  # cheap checks first
        device = select_device(config.device)
        self.dtype, reason = resolve_torch_dtype(config.dtype, device)
        backbone = build_backbone(config.backbone, config.backbone_weights, seed=config.seed,
                                  normalization=config.normalization)
        check_heads_data(self.head_checkpoints, config.head_weights, backbone)
        self.backbone = backbone.to(device)
        self._compile = bool(config.compile and compile_forward(self.backbone))
        if not config.head_weights:
            LOGGER.warning('No head weights given: using a RANDOM %d-class head; the labels '
                           'are meaningless (train one with dinov3-seg-train; then set the '
                           'head_weights parameter of the node or --head-weights of the CLIs)',
                           len(self.head_checkpoints[0].class_names))
        self.heads: List[torch.nn.Module] = []
        for head in self.head_checkpoints:
            module = head.build()
            if hasattr(module, 'fuse_batchnorm'):
                module = module.fuse_batchnorm()
            # backbone features are NCHW views of (B, h*w, C) tokens, i.e. channels_last
            # in memory already: a channels_last head avoids a copy
            self.heads.append(module.to(device, memory_format=torch.channels_last))
        first = self.head_checkpoints[0]
        mean = tuple(first.mean) if first.mean is not None else backbone.mean
        std = tuple(first.std) if first.std is not None else backbone.std
        check_same_normalization(self.head_checkpoints, config.head_weights, mean, std)
        self.device_obj = device
        self.torch_device = device_label(device)
        self.info = ModelInfo(
            class_names=tuple(tuple(h.class_names) for h in self.head_checkpoints),
            head_names=tuple(head_names_for(config.head_weights)),
            mean=tuple(float(v) for v in mean), std=tuple(float(v) for v in std),
            backbone=backbone.spec.name,
            untrained=not backbone.pretrained or any(
                h.metadata.get('untrained') for h in self.head_checkpoints),
            device=self.torch_device, precision=str(self.dtype).replace('torch.', ''),
            precision_reason=reason, source=f'{backbone.spec.name} (torch)',
            head_configs=tuple(h.head.to_dict() for h in self.head_checkpoints),
            trained_input_size=self.head_checkpoints[0].input_size or '')

    def compile(self, sample: torch.Tensor) -> Optional[float]:
        """Compile the backbone on a sample batch; seconds, or None (eager) when it fails.

        Also None when the configuration did not ask for compile or torch.compile is
        unavailable here.
        """
        if not self._compile:
            return None
        with torch.inference_mode(), autocast(self.device_obj, self.dtype):
            seconds = compile_now(self.backbone, sample)
        self._compile = seconds is not None
        return seconds

    def close(self) -> None:
        """Drop the modules (their memory returns once no one else holds them)."""
        self.backbone, self.heads, self.head_checkpoints = None, [], []

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalized -> (N, C, H/16, W/16) float32 backbone features."""
        with torch.inference_mode(), autocast(self.device_obj, self.dtype):
            return self.backbone(x).float()

    def head_logits(self, features: torch.Tensor) -> List[torch.Tensor]:
        """(N, C, h, w) features -> one (N, K_i, h, w) float32 logits tensor per head."""
        features = features.to(self.device_obj)
        with torch.inference_mode(), autocast(self.device_obj, self.dtype):
            return [head(features).float() for head in self.heads]

    def __call__(self, x: Any, timer: Any = None) -> List[Any]:
        """(N, 3, H, W) tensor -> float32 logits: tensors on CUDA, numpy arrays on the CPU."""
        if not torch.is_tensor(x):
            x = torch.from_numpy(x)
        x = x.to(self.device_obj)
        with torch.inference_mode(), autocast(self.device_obj, self.dtype):
            features = self.backbone(x)
            if timer is not None:
                timer.mark('backbone')
            logits = [head(features) for head in self.heads]
            if timer is not None:
                timer.mark('head')
        if self.device_obj.type == 'cuda':  # labels are computed there (device_labels)
            return [lg.float() for lg in logits]
        return [lg.float().cpu().numpy() for lg in logits]


def check_same_normalization(heads: Sequence[HeadCheckpoint], paths: Sequence[str],
                             mean: Sequence[float], std: Sequence[float]) -> None:
    """Raise CheckpointError if a head was trained with another mean/std than the first.

    One backbone pass feeds every head, so every head must expect the same normalization.
    """
    for head, path in zip(heads[1:], paths[1:]):
        for name, own, expected in (('mean', head.mean, mean), ('std', head.std, std)):
            if own is not None and any(abs(float(a) - float(b)) > 1e-6
                                       for a, b in zip(own, expected)):
                raise CheckpointError(
                    f'head {path!r} was trained with {name} {list(own)}, the first head with '
                    f'{list(expected)}: heads sharing one backbone pass need the same '
                    'normalization')
