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

"""The attributes and the call every backend provides, and the model-file description."""

from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import CheckpointError, ConfigError


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

    Attributes: name ('torch', 'onnxruntime', 'openvino'), class_names (one list per head),
    head_names, mean, std, backbone_name, untrained, device (label, 'cpu' or 'cuda:N'),
    precision ('float32', 'bfloat16', 'float16', 'int8'), wants_torch_input (feed a torch
    tensor, e.g. on CUDA, instead of a numpy array), torch_device (where the Preprocessor
    puts a torch input: 'cpu' or 'cuda:N').
    """

    name = 'backend'
    wants_torch_input = False
    torch_device = 'cpu'

    def __init__(self) -> None:
        self.class_names: List[List[str]] = []
        self.head_names: List[str] = []
        self.mean: Tuple[float, ...] = ()
        self.std: Tuple[float, ...] = ()
        self.backbone_name = ''
        self.untrained = False
        self.device = 'cpu'
        self.precision = 'float32'
        self._fixed: Optional[Tuple[int, int]] = None

    def fixed_size(self) -> Optional[Tuple[int, int]]:
        """(H, W) every input must have (a fixed-shape model), or None when any size works."""
        return self._fixed

    def __call__(self, x: Any, timer: Any = None) -> List[Any]:
        """(N, 3, H, W) normalized batch -> one (N, K_i, H/16, W/16) logits per head.

        timer (a timing.StageTimer) gets the 'backbone' and 'head' marks when given.
        """
        raise NotImplementedError

    def describe(self, metadata: Dict[str, Any], path: str, backbone: str = '',
                 classes_file: str = '') -> None:
        """Fill the model attributes from an exported model's metadata (export.metadata).

        Raises CheckpointError for a head-only model, no mean/std, a backbone other than the
        configured one, or a classes_file whose length does not match the first head.
        """
        if metadata.get('kind') != 'fused':
            raise ConfigError(f'onnx_model: {path!r} is a head-only model; the {self.name} '
                              'backend needs the fused (image -> logits) export')
        if not metadata.get('mean') or not metadata.get('std'):
            raise CheckpointError(f'{path!r} metadata has no mean/std')
        found = variant(metadata.get('backbone'))
        if backbone and found and found != variant(backbone):
            raise CheckpointError(f'{path!r} was exported from backbone {found}, not the '
                                  f'configured {variant(backbone)}: pass --backbone {found}')
        names = [list(n) for n in metadata['class_names']]
        if classes_file:
            replaced = read_class_names_file(classes_file)
            if len(replaced) != len(names[0]):
                raise CheckpointError(f'{len(replaced)} class names in {classes_file!r}'
                                      f' for a model with {len(names[0])} classes ({path!r})')
            names[0] = replaced
        self.class_names = names
        self.head_names = [str(n) for n in metadata['head_names']]
        self.mean = tuple(float(v) for v in metadata['mean'])
        self.std = tuple(float(v) for v in metadata['std'])
        self.backbone_name = found or variant(backbone)
        self.untrained = bool(metadata.get('untrained'))
        if not metadata.get('dynamic', True):
            height, width = metadata['export_size']
            self._fixed = (int(height), int(width))


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
