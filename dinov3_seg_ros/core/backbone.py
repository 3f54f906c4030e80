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

"""DINOv3 ViT backbones built with timm, and build_backbone for every variant (ConvNeXt too).

The `*_qkvb` timm models with `timm.models.eva.checkpoint_filter_fn` reproduce Meta's
reference implementation (the names without `_qkvb` drop the q/v biases). Meta's released
files store the RoPE `rope_embed.periods` rounded to bfloat16 (Meta trained with bf16 RoPE);
timm's filter drops that buffer and regenerates float32 periods, so the backbone keeps the
checkpoint's values instead (as float32, whatever dtype they are stored in). The ConvNeXts
live in convnext.py behind the same interface: forward -> (N, C, H/16, W/16), mean, std,
data ('lvd' or 'sat'), spec, pretrained, embed_dim.
"""

import logging
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .convnext import ConvNeXtBackbone
from .errors import CheckpointError
from .normalization import check_head_data, choose_data, data_of, MEAN_STD
from .variants import (BACKBONES, backbone_spec, BackboneSpec,  # noqa: F401 - re-exported
                       check_family, CONVNEXT, VARIANTS, variant_hint, VIT)
from .weights_io import read_state_dict  # noqa: F401 - re-exported

LOGGER = logging.getLogger(__name__)
PATCH_SIZE = 16
PERIODS_KEYS = ('rope_embed.periods', 'rope.periods')  # Meta's name, timm's name


class DinoV3Backbone(nn.Module):
    """A frozen-by-default DINOv3 ViT that returns normalized patch tokens as feature maps.

    forward: (B, 3, H, W) normalized image, H and W multiples of 16
        -> (B, C, H/16, W/16), the last block's tokens after the final LayerNorm.
    """

    patch_size = PATCH_SIZE
    family = VIT

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
        self.data = 'lvd'  # the pretraining data: 'lvd' (LVD-1689M) or 'sat' (SAT-493M)
        self.data_decided = False  # whether a file or a parameter fixed data (build_backbone)
        self.pretrained = False
        self.checkpoint_periods: Optional[torch.Tensor] = None  # float32 CPU, from the file

    @property
    def embed_dim(self) -> int:
        """Channels of the feature map (C)."""
        return self.spec.embed_dim

    def load_weights(self, path: str) -> None:
        """Load Meta's official .pth or a timm/HF safetensors file; exact key and shape match."""
        self.load_state(path, read_state_dict(path))

    def load_state(self, path: str, state: Dict[str, torch.Tensor]) -> None:
        """Load a state_dict read from path (Meta's or timm's key names), strictly."""
        from timm.models.eva import checkpoint_filter_fn
        hint = variant_hint(state)
        periods = next((state[k] for k in PERIODS_KEYS if k in state), None)
        try:
            state = checkpoint_filter_fn(state, self.model)
        except Exception as exc:  # noqa: BLE001 - the filter fails on foreign layouts
            raise CheckpointError(f'{path!r} is not a DINOv3 checkpoint: {exc}{hint}') from None
        self._check_shapes(path, state, hint)
        missing, unexpected = self.model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith('head')]
        if missing or unexpected:
            raise CheckpointError(
                f'{path!r} does not match DINOv3 {self.spec.name}: '
                f'{len(missing)} missing keys (e.g. {missing[:3]}), '
                f'{len(unexpected)} unexpected keys (e.g. {unexpected[:3]}){hint}')
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

    def _check_shapes(self, path: str, state: Dict[str, torch.Tensor], hint: str) -> None:
        own = self.model.state_dict()
        for key, value in state.items():
            if key in own and own[key].shape != value.shape:
                raise CheckpointError(
                    f'{path!r} does not match DINOv3 {self.spec.name}: {key} has shape '
                    f'{tuple(value.shape)}, expected {tuple(own[key].shape)}{hint}')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, C, H/16, W/16), last layer, normalized."""
        return self.forward_layers(x, 1)[0]

    def forward_layers(self, x: torch.Tensor, count: int = 1) -> List[torch.Tensor]:
        """Return the last count blocks' normalized tokens, each (B, C, H/16, W/16)."""
        return self.model.forward_intermediates(
            x, indices=count, norm=True, output_fmt='NCHW', intermediates_only=True)


Backbone = Union[DinoV3Backbone, ConvNeXtBackbone]


def create_backbone(variant: str = 'vits16plus') -> Backbone:
    """Create a DINOv3 backbone of variant with timm's initial weights (ViT or ConvNeXt class)."""
    spec = backbone_spec(variant)
    return ConvNeXtBackbone(spec.name) if spec.family == CONVNEXT else DinoV3Backbone(spec.name)


def use_data(backbone: Backbone, data: str) -> None:
    """Normalize input as the pretraining data 'lvd' or 'sat' wants (mean/std)."""
    backbone.data = data
    backbone.mean, backbone.std = MEAN_STD[data]


def build_backbone(variant: str = 'vits16plus', weights: str = '',
                   seed: Optional[int] = None, normalization: str = 'auto') -> Backbone:
    """Build a backbone in eval mode with frozen parameters; warn loudly without weights.

    seed makes the random initialisation reproducible without touching the global RNG.
    normalization ('auto', 'lvd', 'sat') picks the mean/std (normalization.choose_data);
    backbone.data_decided says whether the file or the parameter fixed it.
    """
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build_backbone(variant, weights, normalization=normalization)
    backbone = create_backbone(variant)
    state = None
    if weights:
        state = read_state_dict(weights)
        check_family(weights, state, backbone.spec)
    data, decided = choose_data(normalization, weights, state, backbone.spec.name)
    if weights:
        backbone.load_state(weights, state)
    else:
        LOGGER.warning('No DINOv3 backbone weights given: %s runs with RANDOM weights and its '
                       'segmentations are meaningless. Get Meta\'s %s (see weights/README.md).',
                       backbone.spec.name, backbone.spec.meta_file)
    use_data(backbone, data)
    backbone.data_decided = decided
    backbone.eval().requires_grad_(False)
    return backbone


def check_heads_data(heads: Sequence[Any], paths: Sequence[str], backbone: Backbone) -> None:
    """Refuse HeadCheckpoints trained on SAT-493M features for LVD-1689M ones (or the reverse).

    When neither the weights file nor the normalization parameter fixed the backbone's data
    (random weights, a renamed timm file), the first head's recorded mean/std choose it.
    """
    first = data_of(heads[0].mean, heads[0].std) if heads else ''
    if not backbone.data_decided and first:
        use_data(backbone, first)
    for head, path in zip(heads, paths):
        check_head_data(path, head.mean, head.std, backbone.data)
