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

"""DINOv3 ViT backbones built with timm; Meta .pth and timm safetensors weights.

The `*_qkvb` timm models with `timm.models.eva.checkpoint_filter_fn` reproduce Meta's
reference implementation (the names without `_qkvb` drop the q/v biases). Meta's released
files store the RoPE `rope_embed.periods` rounded to bfloat16 (Meta trained with bf16 RoPE);
timm's filter drops that buffer and regenerates float32 periods, so the backbone keeps the
checkpoint's values instead (as float32, whatever dtype they are stored in).
"""

from dataclasses import dataclass
import logging
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from .errors import CheckpointError, ConfigError
from .weights_io import load_weights_file

LOGGER = logging.getLogger(__name__)
PATCH_SIZE = 16
PERIODS_KEYS = ('rope_embed.periods', 'rope.periods')  # Meta's name, timm's name


@dataclass(frozen=True)
class BackboneSpec:
    """A DINOv3 variant: its timm model, width, depth and Meta's checkpoint file prefix."""

    name: str
    timm_name: str
    embed_dim: int
    depth: int
    meta_file: str


VARIANTS: Dict[str, BackboneSpec] = {spec.name: spec for spec in (
    BackboneSpec('vits16', 'vit_small_patch16_dinov3_qkvb', 384, 12,
                 'dinov3_vits16_pretrain_lvd1689m-*.pth'),
    BackboneSpec('vits16plus', 'vit_small_plus_patch16_dinov3_qkvb', 384, 12,
                 'dinov3_vits16plus_pretrain_lvd1689m-*.pth'),
    BackboneSpec('vitb16', 'vit_base_patch16_dinov3_qkvb', 768, 12,
                 'dinov3_vitb16_pretrain_lvd1689m-*.pth'),
    BackboneSpec('vitl16', 'vit_large_patch16_dinov3_qkvb', 1024, 24,
                 'dinov3_vitl16_pretrain_lvd1689m-*.pth'),
    BackboneSpec('vith16plus', 'vit_huge_plus_patch16_dinov3_qkvb', 1280, 32,
                 'dinov3_vith16plus_pretrain_lvd1689m-*.pth'),
    BackboneSpec('vit7b16', 'vit_7b_patch16_dinov3', 4096, 40,
                 'dinov3_vit7b16_pretrain_lvd1689m-*.pth'),
)}


def backbone_spec(variant: str) -> BackboneSpec:
    """Return the spec of a variant name ('vits16plus', or Meta's 'dinov3_vits16plus')."""
    name = variant[len('dinov3_'):] if variant.startswith('dinov3_') else variant
    if name not in VARIANTS:
        raise ConfigError(f'backbone: unknown DINOv3 variant {variant!r}; '
                          f'choose one of {", ".join(VARIANTS)}')
    return VARIANTS[name]


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Read a .pth (weights_only) or .safetensors file into a flat state_dict."""
    state = load_weights_file(path, 'backbone weights')
    for key in ('model', 'state_dict', 'teacher'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f'{path!r} does not hold a state_dict of tensors')
    return state


class DinoV3Backbone(nn.Module):
    """A frozen-by-default DINOv3 ViT that returns normalized patch tokens as feature maps.

    forward: (B, 3, H, W) normalized image, H and W multiples of 16
        -> (B, C, H/16, W/16), the last block's tokens after the final LayerNorm.
    """

    patch_size = PATCH_SIZE

    def __init__(self, variant: str = 'vits16plus') -> None:
        super().__init__()
        import timm  # imported here: timm pulls in torchvision, slow to import
        self.spec = backbone_spec(variant)
        self.model = timm.create_model(self.spec.timm_name, pretrained=False,
                                       dynamic_img_size=True, num_classes=0)
        from .rope_cache import install_rope_cache  # RoPE table once per frame size
        install_rope_cache(getattr(self.model, 'rope', None))
        cfg = self.model.pretrained_cfg
        # Normalization comes from the model's own pretrained config (ImageNet for DINOv3).
        self.mean: Tuple[float, ...] = tuple(float(v) for v in cfg['mean'])
        self.std: Tuple[float, ...] = tuple(float(v) for v in cfg['std'])
        self.pretrained = False
        self.checkpoint_periods: Optional[torch.Tensor] = None  # float32 CPU, from the file

    @property
    def embed_dim(self) -> int:
        """Channels of the feature map (C)."""
        return self.spec.embed_dim

    def load_weights(self, path: str) -> None:
        """Load Meta's official .pth or a timm/HF safetensors file; exact key and shape match."""
        from timm.models.eva import checkpoint_filter_fn
        state = read_state_dict(path)
        periods = next((state[k] for k in PERIODS_KEYS if k in state), None)
        try:
            state = checkpoint_filter_fn(state, self.model)
        except Exception as exc:  # noqa: BLE001 - the filter fails on foreign layouts
            raise CheckpointError(f'{path!r} is not a DINOv3 checkpoint: {exc}') from None
        self._check_shapes(path, state)
        missing, unexpected = self.model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith('head')]
        if missing or unexpected:
            raise CheckpointError(
                f'{path!r} does not match DINOv3 {self.spec.name}: '
                f'{len(missing)} missing keys (e.g. {missing[:3]}), '
                f'{len(unexpected)} unexpected keys (e.g. {unexpected[:3]})')
        if periods is not None:
            self._keep_periods(path, periods)
        self.pretrained = True

    def _keep_periods(self, path: str, periods: torch.Tensor) -> None:
        """Use the file's RoPE periods (e.g. Meta's bf16-rounded ones) in float32."""
        rope = getattr(self.model, 'rope', None)
        own = getattr(rope, 'periods', None)
        if own is None:
            raise CheckpointError(f'{path!r} has RoPE periods but {self.spec.timm_name} '
                                  'has no RoPE periods buffer')
        if own.shape != periods.shape:
            raise CheckpointError(
                f'{path!r} does not match DINOv3 {self.spec.name}: rope_embed.periods has '
                f'shape {tuple(periods.shape)}, expected {tuple(own.shape)}')
        self.checkpoint_periods = periods.detach().to('cpu', torch.float32).clone()
        self._restore_periods()

    def _restore_periods(self) -> None:
        """Put the checkpoint's periods back into timm's RoPE (on its current device)."""
        periods = getattr(self, 'checkpoint_periods', None)
        rope = getattr(getattr(self, 'model', None), 'rope', None)
        if periods is None or rope is None or rope.periods.device.type == 'meta':
            return
        rope.register_buffer('periods', periods.to(rope.periods.device), persistent=False)

    def _apply(self, fn, *args, **kwargs):  # noqa: ANN001 - nn.Module's signature
        """Apply a module cast (.to, .half, ...), then restore the file's RoPE periods."""
        module = super()._apply(fn, *args, **kwargs)
        self._restore_periods()
        return module

    def _check_shapes(self, path: str, state: Dict[str, torch.Tensor]) -> None:
        own = self.model.state_dict()
        for key, value in state.items():
            if key in own and own[key].shape != value.shape:
                raise CheckpointError(
                    f'{path!r} does not match DINOv3 {self.spec.name}: {key} has shape '
                    f'{tuple(value.shape)}, expected {tuple(own[key].shape)}'
                    f'{_variant_hint(state)}')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, C, H/16, W/16), last layer, normalized."""
        return self.forward_layers(x, 1)[0]

    def forward_layers(self, x: torch.Tensor, count: int = 1) -> List[torch.Tensor]:
        """Return the last count blocks' normalized tokens, each (B, C, H/16, W/16)."""
        return self.model.forward_intermediates(
            x, indices=count, norm=True, output_fmt='NCHW', intermediates_only=True)


def _variant_hint(state: Dict[str, torch.Tensor]) -> str:
    """' (the file looks like vitb16)' from the width and depth of a state_dict, or ''."""
    width = state['cls_token'].shape[-1] if 'cls_token' in state else None
    depth = len({k.split('.')[1] for k in state if k.startswith('blocks.')})
    guess = [s.name for s in VARIANTS.values() if s.embed_dim == width and s.depth == depth]
    return f' (the file looks like {" or ".join(guess)})' if guess else ''


def build_backbone(variant: str = 'vits16plus', weights: str = '',
                   seed: Optional[int] = None) -> DinoV3Backbone:
    """Build a backbone in eval mode with frozen parameters; warn loudly without weights.

    seed makes the random initialisation reproducible without touching the global RNG.
    """
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build_backbone(variant, weights)
    backbone = DinoV3Backbone(variant)
    if weights:
        backbone.load_weights(weights)
    else:
        LOGGER.warning('No DINOv3 backbone weights given: %s runs with RANDOM weights and its '
                       'segmentations are meaningless. Get Meta\'s %s (see weights/README.md).',
                       backbone.spec.name, backbone.spec.meta_file)
    backbone.eval().requires_grad_(False)
    return backbone
