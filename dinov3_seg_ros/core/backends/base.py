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

"""The backend contract: one immutable ModelInfo, one call, declared optional capabilities.

A backend is built one way, Backend.from_config(config), and never read attribute by attribute:
the facade keeps backend.info (a frozen ModelInfo) and calls backend(x). Optional capabilities
(FEATURES: backbone features and head logits as two stages; COMPILE: torch.compile) are listed
in the class's `capabilities`; calling one a backend lacks raises CapabilityError.
"""

from dataclasses import dataclass, field, replace
import logging
from typing import Any, ClassVar, Dict, FrozenSet, List, Optional, Sequence, Tuple

from ..errors import CheckpointError, ConfigError

LOGGER = logging.getLogger(__name__)
FEATURES = 'features'
COMPILE = 'compile'


class CapabilityError(ConfigError):
    """A backend was asked for an optional capability it does not declare."""


@dataclass(frozen=True)
class ModelInfo:
    """What a backend runs, where and how; immutable, shared by reference.

    class_names: one tuple per head; head_names: one per head (topic names); mean/std: the
    input normalization; backbone: short variant ('vits16plus'); untrained: random weights
    somewhere; device: 'cpu', 'cuda:N' or 'gpu'; precision: 'float32', 'bfloat16',
    'float16' or 'int8', and why it was chosen; fixed_size: (H, W) every input must have, or
    None; source: the model file or what was built (for messages); head_configs: HeadConfig
    dicts per head (FLOP counts); threads: CPU threads of the engine (0: not applicable);
    max_batch: the most frames one call takes (a fixed-shape engine: 1; 0: any number);
    trained_input_size: the size the first head was trained at ('' when unknown).
    """

    class_names: Tuple[Tuple[str, ...], ...]
    head_names: Tuple[str, ...]
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    backbone: str
    untrained: bool
    device: str = 'cpu'
    precision: str = 'float32'
    precision_reason: str = ''
    fixed_size: Optional[Tuple[int, int]] = None
    source: str = ''
    head_configs: Tuple[Dict[str, Any], ...] = field(default=(), compare=False)
    threads: int = 0
    trained_input_size: str = ''
    max_batch: int = 0

    def replace(self, **changes: Any) -> 'ModelInfo':
        """Return a copy with the given fields changed (the original stays as it is)."""
        return replace(self, **changes)


def variant(name: str) -> str:
    """'dinov3_vits16' -> 'vits16' (the torch-free short form of backbone_spec's name)."""
    name = str(name or '')
    return name[len('dinov3_'):] if name.startswith('dinov3_') else name


def checked_backbone(config: Any) -> str:
    """Give the backbone a model file must match: config.backbone unless the default.

    A model file describes its own backbone; only a backbone set explicitly (not the
    ModelConfig default) must agree with it.
    """
    default = type(config).__dataclass_fields__['backbone'].default
    return '' if config.backbone == default else str(config.backbone)


def read_class_names_file(path: str) -> List[str]:
    """Class names, one per line, read without importing torch (checkpoint.read_class_names)."""
    from ..checkpoint import read_class_names
    return read_class_names(path)


class Backend:
    """Normalized (N, 3, H, W) float32 batch -> list of (N, K_i, h, w) float32 logits.

    Subclasses set `name`, `capabilities`, and in from_config build `info` (ModelInfo).
    wants_torch_input: feed a torch tensor (on torch_device: 'cpu' or 'cuda:N'), e.g. for
    CUDA, instead of a numpy array.
    """

    name: ClassVar[str] = 'backend'
    capabilities: ClassVar[FrozenSet[str]] = frozenset()
    info: ModelInfo
    wants_torch_input: bool = False
    torch_device: str = 'cpu'

    @classmethod
    def from_config(cls, config: Any) -> 'Backend':
        """Build the backend a ModelConfig describes (CheckpointError / ConfigError)."""
        raise NotImplementedError

    def __call__(self, x: Any, timer: Any = None) -> List[Any]:
        """(N, 3, H, W) normalized batch -> one (N, K_i, H/16, W/16) logits per head.

        timer (a timing.StageTimer) gets the 'backbone' and 'head' marks when given.
        """
        raise NotImplementedError

    def supports(self, capability: str) -> bool:
        """Tell whether this backend declares capability (FEATURES, COMPILE)."""
        return capability in self.capabilities

    def _lacks(self, capability: str) -> CapabilityError:
        return CapabilityError(f'backend {self.name} has no {capability} capability: only '
                               'the torch backend runs the backbone and heads as two stages '
                               'and compiles them')

    def features(self, x: Any) -> Any:
        """Backbone features: (N, 3, H, W) normalized -> (N, C, H/16, W/16) float32 (FEATURES)."""
        raise self._lacks(FEATURES)

    def head_logits(self, features: Any) -> List[Any]:
        """(N, C, h, w) features -> one (N, K_i, h, w) float32 logits per head (FEATURES)."""
        raise self._lacks(FEATURES)

    def compile(self, sample: Any) -> Optional[float]:
        """Compile on a sample batch; seconds it took, or None when it fell back (COMPILE)."""
        raise self._lacks(COMPILE)

    def close(self) -> None:
        """Release the engine's model and buffers (the backend is unusable afterwards)."""


def describe_export(metadata: Dict[str, Any], path: str, config: Any,
                    engine: str) -> ModelInfo:
    """Describe an exported fused model (a ModelInfo) from its metadata (export.metadata).

    Checks it against config: CheckpointError for no mean/std, a backbone other than the
    configured one, or a classes_file whose length does not match the first head;
    ConfigError for a head-only model. device/precision are left for the backend to set.
    """
    if metadata.get('kind') != 'fused':
        raise ConfigError(f'onnx_model: {path!r} is a head-only model; the {engine} '
                          'backend needs the fused (image -> logits) export')
    if not metadata.get('mean') or not metadata.get('std'):
        raise CheckpointError(f'{path!r} metadata has no mean/std')
    backbone = checked_backbone(config)
    found = variant(metadata.get('backbone'))
    if backbone and found and found != variant(backbone):
        raise CheckpointError(f'{path!r} was exported from backbone {found}, not the '
                              f'configured {variant(backbone)}: pass --backbone {found}')
    names = [tuple(n) for n in metadata['class_names']]
    if config.classes_file:
        replaced = read_class_names_file(config.classes_file)
        if len(replaced) != len(names[0]):
            raise CheckpointError(f'{len(replaced)} class names in {config.classes_file!r}'
                                  f' for a model with {len(names[0])} classes ({path!r})')
        names[0] = tuple(replaced)
    fixed = None
    if not metadata.get('dynamic', True):
        height, width = metadata['export_size']
        fixed = (int(height), int(width))
    return ModelInfo(class_names=tuple(names),
                     head_names=tuple(str(n) for n in metadata['head_names']),
                     mean=tuple(float(v) for v in metadata['mean']),
                     std=tuple(float(v) for v in metadata['std']),
                     backbone=found or variant(backbone),
                     untrained=bool(metadata.get('untrained')),
                     fixed_size=fixed, source=path,
                     head_configs=tuple(dict(h) for h in metadata.get('heads') or ()),
                     trained_input_size=str(metadata.get('trained_input_size') or ''))


def warn_untrained(info: ModelInfo, converted: bool) -> None:
    """Warn once per model built from random weights: its labels are meaningless."""
    if not info.untrained:
        return
    how = ('was converted from UNTRAINED (random) weights' if converted
           else 'was exported from UNTRAINED (random) weights')
    LOGGER.warning('%s %s: its labels are meaningless (train a head with dinov3-seg-train, '
                   'then set the head_weights parameter or --head-weights)', info.source, how)


def split_batch(outputs: Sequence[Any]) -> List[List[Any]]:
    """Per-head (N, K_i, h, w) outputs -> N lists of per-head (1, K_i, h, w) slices."""
    count = int(outputs[0].shape[0])
    return [[o[i:i + 1] for o in outputs] for i in range(count)]


def head_names_for(paths: Sequence[str]) -> List[str]:
    """Name heads by their file stems, made unique ('model', 'model_1'); 'head0' if none."""
    import os
    names: List[str] = []
    for i, path in enumerate(paths):
        stem = os.path.splitext(os.path.basename(path))[0] or f'head{i}'
        name, n = stem, 1
        while name in names:
            name, n = f'{stem}_{n}', n + 1
        names.append(name)
    return names or ['head0']
