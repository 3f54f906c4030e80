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

"""Optimizer, learning-rate schedule, AMP and the optimizer step of the head.

The schedule is per step: warm-up, then cosine, poly or constant.
"""

import math
from typing import Dict, Iterable, Optional

import torch

from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.training.losses import FocalDiceLoss, LossParts
from dinov3_seg_ros.training.train_config import OptimConfig, ScheduleConfig


def build_optimizer(params: Iterable[torch.nn.Parameter], config: OptimConfig,
                    lr: float) -> torch.optim.Optimizer:
    """Adam or AdamW with the configured weight decay and betas."""
    cls = torch.optim.AdamW if config.name == 'adamw' else torch.optim.Adam
    return cls(params, lr=lr, weight_decay=config.weight_decay, betas=tuple(config.betas))


def lr_factor(step: int, total_steps: int, config: ScheduleConfig) -> float:
    """Multiplier of the base learning rate at optimizer step `step` (0-based) of a stage.

    Linear warm-up over warmup_steps, then cosine from 1 to min_lr_ratio, poly
    (1 - t)^power down to min_lr_ratio, or constant 1.
    """
    warmup = min(config.warmup_steps, max(0, total_steps - 1))
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if config.type == 'constant':
        return 1.0
    span = max(1, total_steps - warmup)
    t = min(1.0, (step - warmup) / span)
    floor = config.min_lr_ratio
    if config.type == 'cosine':
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))
    return floor + (1.0 - floor) * (1.0 - t) ** config.power


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group['lr'] = lr


def autocast_dtype(amp: str, device: torch.device) -> Optional[torch.dtype]:
    """Return the autocast dtype for run.amp on a device; None means fp32 (always on CPU)."""
    if device.type != 'cuda' or amp == 'off':
        return None
    if amp == 'bf16' or (amp == 'auto' and torch.cuda.is_bf16_supported()):
        if not torch.cuda.is_bf16_supported():
            raise ConfigError('run.amp: bf16 requested but this GPU does not support it')
        return torch.bfloat16
    return torch.float16


def autocast(device_type: str, dtype: Optional[torch.dtype]) -> torch.autocast:
    """Autocast context for a dtype from autocast_dtype (None = disabled, plain float32)."""
    return torch.autocast(device_type, dtype=dtype or torch.float32, enabled=dtype is not None)


def make_scaler(dtype: Optional[torch.dtype], device: torch.device) -> torch.amp.GradScaler:
    """Return a GradScaler, enabled only for float16 autocast."""
    return torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)


def scheduler_state(step: int, total_steps: int, base_lr: float,
                    config: ScheduleConfig) -> Dict[str, object]:
    """Return what a checkpoint records of the schedule (a pure function of the step)."""
    return {'type': config.type, 'stage_step': step, 'total_steps': total_steps,
            'base_lr': base_lr, 'warmup_steps': config.warmup_steps,
            'min_lr_ratio': config.min_lr_ratio, 'power': config.power}


def train_step(model: torch.nn.Module, features: torch.Tensor, labels: torch.Tensor,
               loss_fn: FocalDiceLoss, optimizer: torch.optim.Optimizer,
               scaler: torch.amp.GradScaler, grad_clip: float,
               dtype: Optional[torch.dtype]) -> LossParts:
    """One optimizer step of the head on features (B, C, h, w) and labels (B, H, W).

    Forward under autocast (dtype None = fp32), loss in fp32, scaled backward, gradient
    clipping on the unscaled gradients, then the (scaler-guarded) optimizer step.
    """
    with autocast(features.device.type, dtype):
        logits = model(features)
    parts = loss_fn(logits.float(), labels)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(parts.total).backward()
    if grad_clip > 0:
        scaler.unscale_(optimizer)
        params = [p for group in optimizer.param_groups for p in group['params']]
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    scaler.step(optimizer)
    scaler.update()
    return parts
