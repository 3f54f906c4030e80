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

"""The training configuration: YAML file + dotted key=value overrides -> typed dataclasses.

Every error names the offending key (e.g. 'stages.1.lr: expected a number, got 'fast'').
config/train_coco_panoptic.yaml documents every key.
"""

from dataclasses import asdict, dataclass, field
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import yaml

from dinov3_seg_ros.core.errors import ConfigError, one_line
from dinov3_seg_ros.core.normalization import NORMALIZATIONS
from dinov3_seg_ros.core.variants import BACKBONES
from dinov3_seg_ros.training.dataclass_dict import dataclass_from_dict


@dataclass
class RunConfig:
    """Where and how the run executes."""

    dir: str = 'runs/train'
    seed: int = 0
    device: str = 'auto'
    amp: str = 'auto'
    num_workers: int = 4
    checkpoint_every_steps: int = 0
    keep_best: int = 3
    eval_every_epochs: int = 1
    log_every_steps: int = 50
    progress: bool = True
    tensorboard: bool = False  # TensorBoard scalars in <dir>/tensorboard (optional package)
    sync_batchnorm: bool = False  # DDP: convert the head's BatchNorm to SyncBatchNorm


@dataclass
class DataConfig:
    """The prepared dataset (dinov3-seg-prepare-coco output or any semantic PNG dataset)."""

    root: str = ''
    format: str = 'coco'  # coco: <split>/ + semantic_<split>/; folder: <split>/images, masks
    train_split: str = 'train2017'
    val_split: str = 'val2017'
    image_size: str = '640x640'
    resize: str = 'squash'  # squash (upstream) | keep_aspect (resize to cover, then crop)
    max_train_images: int = 0
    max_val_images: int = 0
    ignore_index: int = 255
    class_names_file: str = ''  # '' = <root>/semantic_<split>/class_names.txt


@dataclass
class HeadShape:
    """Widths of the ASPP head (input channels and classes come from backbone and data)."""

    proj_channels: int = 576
    branch_channels: int = 288
    num_branches: int = 4


@dataclass
class ModelSection:
    """Frozen backbone and the head to train."""

    backbone: str = 'vits16plus'
    backbone_weights: str = ''
    normalization: str = 'auto'  # input mean/std: auto (from the weights file), lvd or sat
    head: HeadShape = field(default_factory=HeadShape)


@dataclass
class LossConfig:
    """lambda_focal * focal(gamma, alpha) + lambda_dice * dice at target_size (0 = label size)."""

    lambda_focal: float = 1.0
    lambda_dice: float = 1.0
    gamma: float = 2.0
    alpha: Union[None, float, List[float]] = None
    target_size: int = 0


@dataclass
class OptimConfig:
    """Optimizer and batch."""

    name: str = 'adamw'
    lr: float = 1e-4
    batch_size: int = 8
    weight_decay: float = 1e-4
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    grad_clip: float = 5.0


@dataclass
class ScheduleConfig:
    """Per-step learning-rate schedule, restarted at every stage."""

    type: str = 'cosine'
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    power: float = 0.9


@dataclass
class CacheConfig:
    """Frozen-backbone feature cache for stages without augmentation (and for evaluation)."""

    dir: str = ''
    batch_size: int = 16
    eval: bool = True


@dataclass
class StageConfig:
    """A block of epochs with its own learning rate (None: optim.lr) and augmentation.

    feature_cache: train from cached backbone features when the stage has no augmentation.
    """

    name: str = 'stage'
    epochs: int = 1
    lr: Optional[float] = None
    augment: bool = False
    feature_cache: bool = True


@dataclass
class TrainConfig:
    """The whole training configuration."""

    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelSection = field(default_factory=ModelSection)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    augment: Dict[str, Any] = field(default_factory=dict)
    stages: List[StageConfig] = field(default_factory=lambda: [StageConfig()])

    def to_dict(self) -> Dict[str, Any]:
        """Plain nested dict (the resolved config written into the run directory)."""
        return asdict(self)


CHOICES = {'run.device': ('auto', 'cpu', 'cuda'), 'run.amp': ('auto', 'off', 'bf16', 'fp16'),
           'optim.name': ('adam', 'adamw'), 'data.format': ('coco', 'folder'),
           'data.resize': ('squash', 'keep_aspect'),
           'schedule.type': ('cosine', 'poly', 'constant'), 'model.backbone': BACKBONES,
           'model.normalization': NORMALIZATIONS}
NON_NEGATIVE = ('run.num_workers', 'run.checkpoint_every_steps', 'schedule.warmup_steps',
                'data.max_train_images', 'data.max_val_images', 'loss.target_size',
                'optim.weight_decay', 'optim.grad_clip', 'loss.gamma', 'run.keep_best')
POSITIVE = ('optim.batch_size', 'cache.batch_size', 'run.eval_every_epochs',
            'run.log_every_steps', 'model.head.proj_channels', 'model.head.branch_channels',
            'model.head.num_branches')


def load_config(path: str = '', overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML file (or none), apply 'dotted.key=value' overrides, validate."""
    data: Dict[str, Any] = {}
    if path:
        try:
            with open(path, encoding='utf-8') as stream:
                data = yaml.safe_load(stream) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f'{path}: invalid YAML: {one_line(exc)}') from None
        except (FileNotFoundError, IsADirectoryError) as exc:
            what = 'is a folder' if isinstance(exc, IsADirectoryError) else 'does not exist'
            raise ConfigError(f'config file {path} {what}; give a training YAML such as '
                              'config/train_coco_panoptic.yaml') from None
        if not isinstance(data, dict):
            raise ConfigError(f'{path}: expected a mapping at the top level')
    for item in overrides:
        apply_override(data, item)
    return config_from_dict(data)


def apply_override(data: Dict[str, Any], item: str) -> None:
    """Set data[a][b][0][c] from 'a.b.0.c=value' (value parsed as YAML)."""
    key, sep, text = item.partition('=')
    if not sep or not key.strip():
        raise ConfigError(f'override {item!r}: expected dotted.key=value')
    parts = key.strip().split('.')
    try:
        value = yaml.safe_load(text) if text.strip() else ''
    except yaml.YAMLError:
        value = text
    node: Any = data
    for depth, part in enumerate(parts):
        where = '.'.join(parts[:depth + 1])
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f'{where}: no such list entry (the list has {len(node)})')
            index: Any = int(part)
        elif isinstance(node, dict):
            index = part
        else:
            raise ConfigError(f'{where}: {".".join(parts[:depth])} is not a section')
        if last:
            node[index] = value
        else:
            if isinstance(node, dict) and index not in node:
                node[index] = _default_section(parts[:depth + 1])
            node = node[index]


def _default_section(parts: List[str]) -> Any:
    """Return the defaults of a section missing from the file, so lists can be indexed."""
    node: Any = TrainConfig().to_dict()
    for part in parts:
        node = node[int(part)] if isinstance(node, list) else node.get(part, {})
    return node if isinstance(node, (dict, list)) else {}


def config_from_dict(data: Dict[str, Any]) -> TrainConfig:
    """Validate a nested dict into a TrainConfig; unknown keys and bad values name the key."""
    config = dataclass_from_dict(TrainConfig, data)
    flat = flatten(config.to_dict())
    for key, allowed in CHOICES.items():
        if flat[key] not in allowed:
            raise ConfigError(f'{key}: {flat[key]!r} is not one of {", ".join(allowed)}')
    for key in NON_NEGATIVE:
        if flat[key] < 0:
            raise ConfigError(f'{key}: must be >= 0, got {flat[key]}')
    for key in POSITIVE:
        if flat[key] <= 0:
            raise ConfigError(f'{key}: must be > 0, got {flat[key]}')
    if not config.stages:
        raise ConfigError('stages: at least one stage is needed')
    for i, stage in enumerate(config.stages):
        if stage.epochs < 1:
            raise ConfigError(f'stages.{i}.epochs: must be >= 1, got {stage.epochs}')
        if stage.lr is not None and stage.lr <= 0:
            raise ConfigError(f'stages.{i}.lr: must be > 0 (or null for optim.lr)')
    if config.optim.lr <= 0:
        raise ConfigError(f'optim.lr: must be > 0, got {config.optim.lr}')
    if not 0 <= config.schedule.min_lr_ratio <= 1:
        raise ConfigError('schedule.min_lr_ratio: must be within [0, 1]')
    if len(config.optim.betas) != 2:
        raise ConfigError('optim.betas: expected two numbers')
    height, width = image_hw(config)
    if any(stage.augment for stage in config.stages):
        from dinov3_seg_ros.training.transforms import build_transforms
        build_transforms(config.augment, (height, width), config.data.ignore_index)
    return config


def image_hw(config: TrainConfig) -> Tuple[int, int]:
    """(H, W) of data.image_size: 'WxH' or N for NxN, multiples of 16 (batches need one size)."""
    text = config.data.image_size.strip().lower()
    match = re.fullmatch(r'(\d+)(?:x(\d+))?', text)
    if not match:
        raise ConfigError(f'data.image_size: expected WxH like 640x640 or N, got {text!r}')
    width = int(match.group(1))
    height = int(match.group(2) or width)
    if not (16 <= width <= 8192 and 16 <= height <= 8192) or width % 16 or height % 16:
        raise ConfigError(f'data.image_size: {width}x{height} must be multiples of 16 '
                          'within [16, 8192]')
    return height, width


def flatten(data: Dict[str, Any], prefix: str = '') -> Dict[str, Any]:
    """Flatten nested sections: {'a': {'b': 1}} -> {'a.b': 1} (augment stays one value)."""
    out: Dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != 'augment':
            out.update(flatten(value, f'{prefix}{key}.'))
        else:
            out[f'{prefix}{key}'] = value
    return out


def dump_config(config: TrainConfig, path: str) -> None:
    """Write the resolved config as YAML (loadable by load_config)."""
    with open(path, 'w', encoding='utf-8') as stream:
        yaml.safe_dump(config.to_dict(), stream, sort_keys=False)
