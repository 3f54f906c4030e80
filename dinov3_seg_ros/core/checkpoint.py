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

"""Self-describing head checkpoints (weights_only), and import of the upstream bare state_dict.

A project checkpoint is a dict of plain types and tensors:
    {'format': 'dinov3_seg_ros/head', 'version': 1, 'state_dict': {...}, 'head': {HeadConfig},
     'class_names': [...], 'backbone': 'vits16plus', 'mean': [...], 'std': [...],
     'input_size': '640', 'metadata': {...}}
Training checkpoints add keys (optimizer, scheduler, ...) that loading ignores.
"""

from dataclasses import dataclass, field
import logging
import os
import tempfile
from typing import Any, Dict, List, Optional, Sequence, TYPE_CHECKING

from .errors import CheckpointError

if TYPE_CHECKING:  # torch, heads and weights_io are imported where used: read_class_names
    from torch import nn  # and default_class_names stay torch-free

    from .heads import HeadConfig

LOGGER = logging.getLogger(__name__)
FORMAT = 'dinov3_seg_ros/head'
VERSION = 1
DEFAULT_CLASSES_FILE = os.path.join(os.path.dirname(__file__),
                                    'coco_panoptic_classes.txt')


def read_class_names(path: str) -> List[str]:
    """One class name per line (the upstream class_names.txt format); blank lines end it."""
    try:
        with open(path, encoding='utf-8') as stream:
            names = [line.rstrip('\r\n') for line in stream]
    except OSError as exc:
        raise CheckpointError(f'cannot read class names file {path!r}: {exc.strerror}') from None
    while names and not names[-1].strip():
        names.pop()
    if not names or any(not n.strip() for n in names):
        raise CheckpointError(f'class names file {path!r} is empty or has blank lines')
    return names


def default_class_names(num_classes: int) -> List[str]:
    """Names when none are given: the COCO panoptic list for 134 classes, else class_<i>."""
    names = read_class_names(DEFAULT_CLASSES_FILE)
    if num_classes == len(names):
        return names
    return [f'class_{i}' for i in range(num_classes)]


@dataclass
class HeadCheckpoint:
    """A head's weights and everything needed to run it."""

    state_dict: Dict[str, Any]
    head: 'HeadConfig'
    class_names: List[str]
    backbone: str = ''
    mean: Optional[Sequence[float]] = None
    std: Optional[Sequence[float]] = None
    input_size: str = ''
    metadata: Dict[str, Any] = field(default_factory=dict)

    def to_payload(self) -> Dict[str, Any]:
        """Return the dict that torch.save writes (weights_only-loadable)."""
        return {'format': FORMAT, 'version': VERSION, 'state_dict': self.state_dict,
                'head': self.head.to_dict(), 'class_names': list(self.class_names),
                'backbone': self.backbone,
                'mean': list(self.mean) if self.mean is not None else None,
                'std': list(self.std) if self.std is not None else None,
                'input_size': self.input_size, 'metadata': dict(self.metadata)}

    def build(self) -> 'nn.Module':
        """Build the head module with these weights loaded (strict), in eval mode."""
        from .heads import build_head
        module = build_head(self.head)
        try:
            module.load_state_dict(self.state_dict, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            raise CheckpointError(f'head weights do not match the head config: '
                                  f'{" ".join(first[:3])}') from None
        return module.eval()


def _umask() -> int:
    """Return the process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_save(obj: Any, path: str) -> None:
    """torch.save to a temporary file beside path, fsync, then rename over path.

    The file gets the permissions of a plain open() (0666 less the umask), not mkstemp's 0600.
    """
    import torch
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', suffix='.pth', dir=directory)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; keep the user's umask instead
        with os.fdopen(fd, 'wb') as stream:
            torch.save(obj, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_head_checkpoint(path: str, checkpoint: HeadCheckpoint,
                         extra: Optional[Dict[str, Any]] = None) -> None:
    """Write a self-describing checkpoint atomically; extra keys (optimizer, ...) ride along."""
    payload = checkpoint.to_payload()
    payload.update(extra or {})
    atomic_save(payload, path)


def load_head_checkpoint(path: str, classes_file: str = '') -> HeadCheckpoint:
    """Load a project checkpoint or an upstream bare state_dict (weights_only=True).

    classes_file overrides the names in a project checkpoint and names the classes of a bare
    state_dict; its length must equal the head's number of classes.
    """
    import torch

    from .heads import HeadConfig
    from .weights_io import load_weights_file
    payload = load_weights_file(path, 'head weights')
    if not isinstance(payload, dict):
        raise CheckpointError(f'{path!r} holds a {type(payload).__name__}, not a checkpoint')
    if payload.get('format') == FORMAT:
        checkpoint = _from_payload(path, payload)
    elif payload and all(torch.is_tensor(v) for v in payload.values()):
        state = {k[len('module.'):] if k.startswith('module.') else k: v
                 for k, v in payload.items()}
        head = HeadConfig.from_state_dict(state)
        checkpoint = HeadCheckpoint(state, head, [], metadata={'source': 'upstream'})
    else:
        raise CheckpointError(f'{path!r} is neither a dinov3_seg_ros checkpoint nor a '
                              'bare head state_dict')
    checkpoint.build()  # validate weights against the config now, not on the first frame
    if classes_file:
        checkpoint.class_names = read_class_names(classes_file)
    elif not checkpoint.class_names:
        LOGGER.warning('%s carries no class names and no classes file was given: '
                       'using default names', path)
        checkpoint.class_names = default_class_names(checkpoint.head.num_classes)
    if len(checkpoint.class_names) != checkpoint.head.num_classes:
        raise CheckpointError(
            f'{len(checkpoint.class_names)} class names for a head with '
            f'{checkpoint.head.num_classes} classes ({path!r}, classes file {classes_file!r})')
    return checkpoint


def _from_payload(path: str, payload: Dict[str, Any]) -> HeadCheckpoint:
    from .heads import HeadConfig
    if payload.get('version', 0) > VERSION:
        raise CheckpointError(f'{path!r} has checkpoint version {payload["version"]}; '
                              f'this package reads up to {VERSION}')
    try:
        return HeadCheckpoint(
            state_dict=dict(payload['state_dict']), head=HeadConfig.from_dict(payload['head']),
            class_names=list(payload.get('class_names') or []),
            backbone=str(payload.get('backbone') or ''), mean=payload.get('mean'),
            std=payload.get('std'), input_size=str(payload.get('input_size') or ''),
            metadata=dict(payload.get('metadata') or {}))
    except KeyError as exc:
        raise CheckpointError(f'{path!r} lacks the checkpoint key {exc}') from None
