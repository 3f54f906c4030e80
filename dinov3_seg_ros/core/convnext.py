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

"""DINOv3 ConvNeXt backbones (tiny/small/base/large) built with timm; Meta .pth and timm files.

Meta's dense features for a ConvNeXt (`get_intermediate_layers(x, n=1, reshape=True,
norm=True)` with `patch_size=16`) are the last stage's stride-32 map resized bilinearly
(antialias) to the ViTs' H/16 x W/16 grid, and only then the final LayerNorm. timm's
`convnext_*` models hold the same weights; `timm.models.convnext.checkpoint_filter_fn`
renames Meta's keys (and drops `norms.3.*`, Meta's second name for `norm.*`).
"""

import logging
from typing import Dict, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from .errors import CheckpointError
from .variants import backbone_spec, CONVNEXT, variant_hint
from .weights_io import read_state_dict

LOGGER = logging.getLogger(__name__)
PATCH_SIZE = 16


class ConvNeXtBackbone(nn.Module):
    """A frozen-by-default DINOv3 ConvNeXt returning Meta's dense features.

    forward: (B, 3, H, W) normalized image, H and W multiples of 16
        -> (B, C, H/16, W/16) float32-or-autocast features (C = 768/768/1024/1536).
    """

    patch_size = PATCH_SIZE
    family = CONVNEXT

    def __init__(self, variant: str = 'convnext_tiny') -> None:
        super().__init__()
        import timm  # imported here: timm pulls in torchvision, slow to import
        self.spec = backbone_spec(variant)
        if self.spec.family != CONVNEXT:
            raise ValueError(f'{variant} is not a ConvNeXt variant')
        self.model = timm.create_model(self.spec.timm_name, pretrained=False, num_classes=0)
        cfg = self.model.pretrained_cfg
        self.mean: Tuple[float, ...] = tuple(float(v) for v in cfg['mean'])
        self.std: Tuple[float, ...] = tuple(float(v) for v in cfg['std'])
        self.data = 'lvd'  # every DINOv3 ConvNeXt was distilled on LVD-1689M
        self.data_decided = False
        self.pretrained = False

    @property
    def embed_dim(self) -> int:
        """Channels of the feature map (C)."""
        return self.spec.embed_dim

    def load_weights(self, path: str) -> None:
        """Load Meta's official .pth or a timm safetensors file; exact key and shape match."""
        self.load_state(path, read_state_dict(path))

    def load_state(self, path: str, state: Dict[str, torch.Tensor]) -> None:
        """Load a state_dict read from path (Meta's or timm's key names), strictly."""
        from timm.models.convnext import checkpoint_filter_fn
        hint = variant_hint(state)
        own = self.model.state_dict()
        try:
            state = checkpoint_filter_fn(state, self.model)
        except Exception as exc:  # noqa: BLE001 - the filter fails on foreign layouts
            raise CheckpointError(f'{path!r} does not match DINOv3 {self.spec.name}: '
                                  f'{type(exc).__name__} {exc}{hint}') from None
        for key, value in state.items():
            if key in own and own[key].shape != value.shape:
                raise CheckpointError(
                    f'{path!r} does not match DINOv3 {self.spec.name}: {key} has shape '
                    f'{tuple(value.shape)}, expected {tuple(own[key].shape)}{hint}')
        missing, unexpected = self.model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise CheckpointError(
                f'{path!r} does not match DINOv3 {self.spec.name}: '
                f'{len(missing)} missing keys (e.g. {missing[:3]}), '
                f'{len(unexpected)} unexpected keys (e.g. {unexpected[:3]}){hint}')
        self.pretrained = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, C, H/16, W/16): last stage, resized, then LayerNorm."""
        height, width = x.shape[-2:]
        traced = torch.jit.is_tracing() or _exporting()
        # Traced (what the exporters get): every LayerNorm and MLP on (B, H*W, C) tokens, see
        # _stages_as_tokens; eager: timm's own order, 5% faster in torch.
        x = _stages_as_tokens(self.model, x) if traced else self.model.stages(self.model.stem(x))
        # Upsampling (the stride-32 map is never larger than H/16 x W/16): antialias is
        # Meta's choice and equals plain bilinear here, which the ONNX exporters handle.
        x = F.interpolate(x, size=(height // PATCH_SIZE, width // PATCH_SIZE),
                          mode='bilinear', align_corners=False, antialias=not traced)
        return _channel_norm(x, self.model.head.norm) if traced else self.model.head.norm(x)


def _channel_norm(x: torch.Tensor, norm: nn.Module) -> torch.Tensor:
    """Normalize (B, C, H, W) over C (a LayerNorm), computed on a (B, H*W, C) view."""
    tokens = F.layer_norm(x.flatten(2).transpose(1, 2), norm.normalized_shape, norm.weight,
                          norm.bias, norm.eps)
    return tokens.transpose(1, 2).reshape_as(x)  # no shape arithmetic: both exporters take it


def _stages_as_tokens(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run timm's stem and stages with each LayerNorm and MLP on (B, H*W, C) tokens.

    (B, 3, H, W) -> (B, C, H/32, W/32), the same numbers as model.stages(model.stem(x))
    (2e-7 max abs). timm normalizes a (B, H, W, C) view; OpenVINO splits a LayerNorm over the
    last of four axes into ReduceMean + Subtract + RMS with layout reorders around them, while
    on three axes it keeps one MVN and runs the MLP as plain matrix products: measured on a
    2-core AVX2 EPYC, the convnext_tiny backbone at 640x480 in float32 took 400 instead of
    470 ms.
    """
    x = _channel_norm(model.stem[0](x), model.stem[1])
    for stage in model.stages:
        if not isinstance(stage.downsample, nn.Identity):
            x = stage.downsample[1](_channel_norm(x, stage.downsample[0]))
        for block in stage.blocks:
            branch = block.conv_dw(x)
            tokens = block.mlp(block.norm(branch.flatten(2).transpose(1, 2)))
            if block.gamma is not None:
                tokens = tokens * block.gamma
            x = x + tokens.transpose(1, 2).reshape_as(branch)
    return x


def _exporting() -> bool:
    """Say whether this runs inside an ONNX export (antialias has no ONNX form there)."""
    try:
        return bool(torch.onnx.is_in_onnx_export()) or torch.compiler.is_exporting()
    except AttributeError:  # older torch without one of the probes
        return False
