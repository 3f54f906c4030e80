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

"""The DINOv3 backbones this package runs: names, widths, depths and Meta's file names (no torch).

The ViTs take 16x16 patches; the ConvNeXts (distilled from the same ViT-7B) give a stride-32
map that Meta resizes to the ViTs' H/16 x W/16 grid. embed_dim is the channel count of the
features every head, training run and export sees.
"""

from dataclasses import dataclass
from typing import Any, Dict, Mapping

from .errors import CheckpointError, ConfigError

VIT = 'vit'
CONVNEXT = 'convnext'
FAMILY_NAMES = {VIT: 'ViT', CONVNEXT: 'ConvNeXt'}


@dataclass(frozen=True)
class BackboneSpec:
    """A DINOv3 variant: its family, timm model, feature channels, depth and Meta's file.

    depth counts the transformer blocks (ViT) or the blocks of all four stages (ConvNeXt).
    """

    name: str
    timm_name: str
    embed_dim: int
    depth: int
    meta_file: str
    family: str = VIT


def _meta(name: str) -> str:
    return f'dinov3_{name}_pretrain_lvd1689m-*.pth'


VARIANTS: Dict[str, BackboneSpec] = {spec.name: spec for spec in (
    BackboneSpec('vits16', 'vit_small_patch16_dinov3_qkvb', 384, 12, _meta('vits16')),
    BackboneSpec('vits16plus', 'vit_small_plus_patch16_dinov3_qkvb', 384, 12,
                 _meta('vits16plus')),
    BackboneSpec('vitb16', 'vit_base_patch16_dinov3_qkvb', 768, 12, _meta('vitb16')),
    BackboneSpec('vitl16', 'vit_large_patch16_dinov3_qkvb', 1024, 24, _meta('vitl16')),
    BackboneSpec('vith16plus', 'vit_huge_plus_patch16_dinov3_qkvb', 1280, 32,
                 _meta('vith16plus')),
    BackboneSpec('vit7b16', 'vit_7b_patch16_dinov3', 4096, 40, _meta('vit7b16')),
    BackboneSpec('convnext_tiny', 'convnext_tiny', 768, 18, _meta('convnext_tiny'), CONVNEXT),
    BackboneSpec('convnext_small', 'convnext_small', 768, 36, _meta('convnext_small'),
                 CONVNEXT),
    BackboneSpec('convnext_base', 'convnext_base', 1024, 36, _meta('convnext_base'),
                 CONVNEXT),
    BackboneSpec('convnext_large', 'convnext_large', 1536, 36, _meta('convnext_large'),
                 CONVNEXT),
)}
BACKBONES = tuple(VARIANTS)  # the one list of choices (node parameter, CLIs, training)


def backbone_spec(variant: str) -> BackboneSpec:
    """Return the spec of a variant name ('vits16plus', or Meta's 'dinov3_vits16plus')."""
    name = variant[len('dinov3_'):] if variant.startswith('dinov3_') else variant
    if name not in VARIANTS:
        raise ConfigError(f'backbone: unknown DINOv3 variant {variant!r}; '
                          f'choose one of {", ".join(VARIANTS)}')
    return VARIANTS[name]


def file_family(state: Mapping[str, Any]) -> str:
    """VIT, CONVNEXT (Meta's or timm's key names) or '' for a state_dict of neither."""
    if 'downsample_layers.0.0.weight' in state or 'stem.0.weight' in state:
        return CONVNEXT
    if 'cls_token' in state or 'patch_embed.proj.weight' in state:
        return VIT
    return ''


def guess_variants(state: Mapping[str, Any]) -> list:
    """Names of the variants whose width and depth match a state_dict (Meta or timm keys)."""
    family = file_family(state)
    if family == VIT:
        width = state['cls_token'].shape[-1] if 'cls_token' in state else None
        depth = len({k.split('.')[1] for k in state if k.startswith('blocks.')})
    elif family == CONVNEXT:
        norm = state.get('norm.weight', state.get('head.norm.weight'))
        width = norm.shape[-1] if norm is not None else None
        depth = sum(1 for k in state if k.endswith(('.dwconv.weight', '.conv_dw.weight')))
    else:
        return []
    return [s.name for s in VARIANTS.values()
            if s.family == family and s.embed_dim == width and s.depth == depth]


def variant_hint(state: Mapping[str, Any]) -> str:
    """' (the file looks like vitb16)' from the family, width and depth of a state_dict, or ''."""
    guess = guess_variants(state)
    return f' (the file looks like {" or ".join(guess)})' if guess else ''


def check_family(path: str, state: Mapping[str, Any], spec: BackboneSpec) -> None:
    """Refuse a ConvNeXt file given as a ViT variant, or the reverse, in one line."""
    family = file_family(state)
    if family and family != spec.family:
        raise CheckpointError(
            f'{path!r} is a DINOv3 {FAMILY_NAMES[family]} checkpoint, not {spec.name} '
            f'({FAMILY_NAMES[spec.family]}){variant_hint(state)}: pass --backbone '
            f'{(guess_variants(state) or ["<variant>"])[0]}')
