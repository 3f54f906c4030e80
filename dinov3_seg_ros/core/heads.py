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

"""The upstream ASPP-style segmentation head, state_dict-compatible with its model.pth.

Projection, parallel 3x3 branches, fusion, a depthwise-separable block and a classifier.
"""

from dataclasses import asdict, dataclass
from typing import Any, Dict

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .errors import CheckpointError


@dataclass(frozen=True)
class HeadConfig:
    """Shape of an ASPP head; the upstream model.pth is 384 -> 576/288 x4 -> 134 classes."""

    in_channels: int = 384
    num_classes: int = 134
    proj_channels: int = 576
    branch_channels: int = 288
    num_branches: int = 4
    type: str = 'aspp'

    def to_dict(self) -> Dict[str, Any]:
        """Plain dict for self-describing checkpoints."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'HeadConfig':
        """Inverse of to_dict; unknown keys are an error."""
        try:
            return cls(**data)
        except TypeError as exc:
            raise CheckpointError(f'invalid head config {data!r}: {exc}') from None

    @classmethod
    def from_state_dict(cls, state: Dict[str, torch.Tensor]) -> 'HeadConfig':
        """Infer the config of a bare (upstream) state_dict from its tensor shapes."""
        try:
            proj, in_ch = state['initial.0.weight'].shape[:2]
            branch = state['project.0.weight'].shape[0]
            classes = state['classifier.weight'].shape[0]
        except KeyError as exc:
            raise CheckpointError(f'not an ASPP head state_dict: missing {exc}') from None
        branches = len({k.split('.')[1] for k in state if k.startswith('branches.')})
        return cls(int(in_ch), int(classes), int(proj), int(branch), branches)


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 1, bias=True), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class DepthwiseSeparable(nn.Module):
    """3x3 depthwise conv, 1x1 pointwise conv, BatchNorm, ReLU (keys dw, pw, bn)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
        self.pw = nn.Conv2d(channels, channels, 1, bias=True)
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) -> (B, C, h, w)."""
        return self.act(self.bn(self.pw(self.dw(x))))


class ASPPHead(nn.Module):
    """Features (B, C_in, h, w) -> logits (B, K, h, w) at feature resolution (no resize)."""

    def __init__(self, config: HeadConfig = HeadConfig()) -> None:
        super().__init__()
        self.config = config
        c = config
        self.initial = _conv_bn_relu(c.in_channels, c.proj_channels)
        self.project = _conv_bn_relu(c.proj_channels, c.branch_channels)
        self.branches = nn.ModuleList(
            nn.Conv2d(c.branch_channels, c.branch_channels, 3, padding=1, bias=True)
            for _ in range(c.num_branches))
        self.branches_bn = nn.ModuleList(
            nn.BatchNorm2d(c.branch_channels) for _ in range(c.num_branches))
        self.fuse = _conv_bn_relu(c.branch_channels * c.num_branches, c.proj_channels)
        self.ds = DepthwiseSeparable(c.proj_channels)
        self.classifier = nn.Conv2d(c.proj_channels, c.num_classes, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, h, w) -> (B, K, h, w)."""
        x = self.project(self.initial(x))
        x = torch.cat([torch.relu(bn(conv(x)))
                       for conv, bn in zip(self.branches, self.branches_bn)], dim=1)
        return self.classifier(self.ds(self.fuse(x)))

    @torch.no_grad()
    def fuse_batchnorm(self) -> 'ASPPHead':
        """Fold every BatchNorm into its convolution (eval only); outputs are unchanged."""
        if self.training:
            raise RuntimeError('fuse_batchnorm() is for eval mode only')
        for seq in (self.initial, self.project, self.fuse):
            seq[0] = fuse_conv_bn_eval(seq[0], seq[1])
            seq[1] = nn.Identity()
        for i, (conv, bn) in enumerate(zip(self.branches, self.branches_bn)):
            self.branches[i] = fuse_conv_bn_eval(conv, bn)
            self.branches_bn[i] = nn.Identity()
        self.ds.pw = fuse_conv_bn_eval(self.ds.pw, self.ds.bn)
        self.ds.bn = nn.Identity()
        return self


def build_head(config: HeadConfig) -> nn.Module:
    """Instantiate the head named by config.type."""
    if config.type != 'aspp':
        raise CheckpointError(f'unknown head type {config.type!r}')
    return ASPPHead(config)
