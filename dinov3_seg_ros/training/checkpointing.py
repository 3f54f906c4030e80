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

"""Training checkpoints: a core HeadCheckpoint payload plus everything to resume exactly.

Extra keys: position (stage, epoch, batch within the epoch, step), optimizer, scheduler,
scaler, rng (python, numpy, torch, cuda; tensors and plain lists only), best (the kept best
checkpoints), metric (this checkpoint's mIoU), config. All weights_only-loadable, so
core.checkpoint.load_head_checkpoint (the node's loader) reads them directly.
Files in <run>/checkpoints: last.pth, best-e<epoch>.pth (the k best by mIoU) and best.pth,
a relative symlink to the best of them (a hard link, or a copy, where links are refused).
"""

from dataclasses import asdict, dataclass, field
import logging
import os
import random
import shutil
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from dinov3_seg_ros.core.checkpoint import atomic_save
from dinov3_seg_ros.core.errors import CheckpointError
from dinov3_seg_ros.core.weights_io import load_weights_file

LOGGER = logging.getLogger(__name__)
LAST = 'last.pth'
BEST = 'best.pth'


@dataclass
class Position:
    """Where training stands: the next batch to run is (stage, epoch, batch).

    epoch counts within the stage; global_epoch counts over all stages; step counts
    optimizer steps overall and stage_step within the stage (the schedule's clock).
    """

    stage: int = 0
    epoch: int = 0
    batch: int = 0
    global_epoch: int = 0
    step: int = 0
    stage_step: int = 0


@dataclass
class BestEntry:
    """One kept best checkpoint."""

    miou: float
    file: str
    global_epoch: int


@dataclass
class TrainingState:
    """The position, the best list, the last mIoU and the running sums of a partial epoch.

    epoch_sums: [loss * images, focal * images, dice * images, images] over all ranks.
    """

    position: Position = field(default_factory=Position)
    best: List[BestEntry] = field(default_factory=list)
    last_miou: Optional[float] = None
    epoch_sums: Optional[List[float]] = None

    def to_dict(self) -> Dict[str, Any]:
        """Plain dict for the payload."""
        return {'position': asdict(self.position), 'best': [asdict(b) for b in self.best],
                'last_miou': self.last_miou, 'epoch_sums': self.epoch_sums}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'TrainingState':
        """Inverse of to_dict."""
        return cls(Position(**data['position']), [BestEntry(**b) for b in data['best']],
                   data.get('last_miou'), data.get('epoch_sums'))

    @property
    def best_miou(self) -> Optional[float]:
        """The best mIoU so far (None before the first evaluation)."""
        return max((b.miou for b in self.best), default=None)


def capture_rng() -> Dict[str, Any]:
    """RNG states of python, numpy, torch and CUDA as tensors and plain lists."""
    version, mt_state, gauss = random.getstate()
    np_state = np.random.get_state()
    state = {'python': [version, list(mt_state), gauss],
             'numpy': [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)),
                       int(np_state[2]), int(np_state[3]), float(np_state[4])],
             'torch': torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: Dict[str, Any]) -> None:
    """Inverse of capture_rng."""
    version, mt_state, gauss = state['python']
    random.setstate((version, tuple(mt_state), gauss))
    name, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def load_training_checkpoint(path: str) -> Dict[str, Any]:
    """Read a training checkpoint (weights_only); CheckpointError if it cannot resume."""
    payload = load_weights_file(path, '--resume checkpoint')
    missing = [k for k in ('state_dict', 'training', 'optimizer', 'scheduler', 'rng')
               if not isinstance(payload, dict) or k not in payload]
    if missing:
        raise CheckpointError(f'{path!r} is not a training checkpoint (missing {missing}); '
                              'only checkpoints written by dinov3-seg-train can resume')
    return payload


def link_best(target: str, link: str) -> str:
    """Point link at target (same folder): relative symlink, else hard link, else a copy.

    Replaces link atomically; returns 'symlink', 'hardlink' or 'copy' (what was made).
    """
    tmp = os.path.join(os.path.dirname(link), f'.tmp-{os.getpid()}-{os.path.basename(link)}')
    for kind in ('symlink', 'hardlink', 'copy'):
        try:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            if kind == 'symlink':
                os.symlink(os.path.basename(target), tmp)
            elif kind == 'hardlink':
                os.link(target, tmp)
            else:
                shutil.copyfile(target, tmp)
            os.replace(tmp, link)
            return kind
        except OSError as exc:
            LOGGER.debug('%s %s -> %s failed: %s', kind, link, target, exc)
            if kind == 'copy':
                raise
    raise AssertionError('unreachable')


class CheckpointKeeper:
    """Writes last.pth every time, best.pth and the k best (by mIoU) when they improve."""

    def __init__(self, directory: str, keep_best: int) -> None:
        self.directory = directory
        self.keep_best = keep_best

    def path(self, name: str) -> str:
        """Absolute path of a file in the checkpoint directory."""
        return os.path.join(self.directory, name)

    def save(self, payload: Dict[str, Any], state: TrainingState, miou: Optional[float] = None,
             epoch: int = 0) -> None:
        """Write the payload as last.pth; enter it in the best list when miou ranks top-k.

        epoch (the completed epochs, over all stages) names the best file: best-e<epoch>.pth.
        state.best is updated first so every written file lists the same best files; a file
        that drops out is deleted only after last.pth names its successors.
        """
        evicted: List[BestEntry] = []
        new_entry = None
        if miou is not None and self.keep_best > 0:
            new_entry = BestEntry(float(miou), f'best-e{epoch:03d}.pth', epoch)
            ranked = sorted(state.best + [new_entry], key=lambda b: (-b.miou, b.global_epoch))
            state.best, evicted = ranked[:self.keep_best], ranked[self.keep_best:]
            if new_entry in evicted:
                evicted.remove(new_entry)
                new_entry = None
        payload['training'] = state.to_dict()
        payload['best_metric'] = state.best_miou
        if new_entry is not None:
            atomic_save(payload, self.path(new_entry.file))
            if state.best[0] is new_entry:
                link_best(self.path(new_entry.file), self.path(BEST))
        atomic_save(payload, self.path(LAST))
        for entry in evicted:
            try:
                os.unlink(self.path(entry.file))
            except FileNotFoundError:
                pass
