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

"""Optimizer, per-step learning-rate schedule (warm-up + cosine / poly / constant) and AMP."""

import math
from typing import Dict, Iterable, Optional

import torch

from dinov3_seg_ros.core.errors import ConfigError
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
    """The autocast dtype for run.amp on a device; None means fp32 (always on CPU)."""
    if device.type != 'cuda' or amp == 'off':
        return None
    if amp == 'bf16' or (amp == 'auto' and torch.cuda.is_bf16_supported()):
        if not torch.cuda.is_bf16_supported():
            raise ConfigError('run.amp: bf16 requested but this GPU does not support it')
        return torch.bfloat16
    return torch.float16


def make_scaler(dtype: Optional[torch.dtype], device: torch.device) -> torch.amp.GradScaler:
    """A GradScaler, enabled only for float16 autocast."""
    return torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)


def scheduler_state(step: int, total_steps: int, base_lr: float,
                    config: ScheduleConfig) -> Dict[str, object]:
    """What the checkpoint records of the schedule (it is a pure function of the step)."""
    return {'type': config.type, 'stage_step': step, 'total_steps': total_steps,
            'base_lr': base_lr, 'warmup_steps': config.warmup_steps,
            'min_lr_ratio': config.min_lr_ratio, 'power': config.power}
