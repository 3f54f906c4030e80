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

"""Resuming a run: read its training checkpoint, place training where it stopped, say so once.

A resume logs one INFO line in the run's terms (the next epoch of how many, the stage, the
optimizer steps done, a stage extended by a raised epoch count) and a WARNING only for
settings that differ from the checkpoint's for another reason.
"""

import logging
import os
from typing import Any, Dict, List, Optional, Tuple

import torch

from dinov3_seg_ros.core.errors import CheckpointError, ConfigError, one_line
from dinov3_seg_ros.training.checkpointing import LAST, Position, TrainingState
from dinov3_seg_ros.training.train_config import flatten, TrainConfig

LOGGER = logging.getLogger(__name__)
# (stage, epochs the checkpoint trained it for, epochs the config asks now)
Extension = Tuple[int, int, int]


def reopen_finished_stage(pos: Position, payload: Dict[str, Any],
                          config: TrainConfig) -> Optional[Extension]:
    """Move pos back into the last finished stage when the config raised its epoch count.

    A checkpoint written at the end of stage s sits at (s + 1, epoch 0, batch 0); when
    stages.s.epochs now exceeds what the checkpoint trained, training continues in stage s
    with its optimizer state, and the schedule is extended: lr_factor is evaluated over
    the new stage length at the step reached (no warm-up restart). Changing the epochs of a
    stage that cannot continue (an earlier one, or fewer than already trained) is refused.
    Returns (stage, old epochs, new epochs) when a stage was reopened, else None.
    """
    saved = [int(s.get('epochs', 0)) for s in (payload.get('config') or {}).get('stages', [])]
    wanted = [stage.epochs for stage in config.stages]
    at_boundary = pos.epoch == 0 and pos.batch == 0 and pos.stage_step == 0
    last_done = pos.stage - 1 if at_boundary else pos.stage
    for index in range(min(pos.stage, len(saved), len(wanted))):
        if wanted[index] == saved[index]:
            continue
        if index == pos.stage - 1 and at_boundary and wanted[index] > saved[index]:
            continue
        raise ConfigError(
            f'stages.{index}.epochs: the checkpoint finished stage {index} after '
            f'{saved[index]} epochs and training went on from there; keep {saved[index]}'
            + (f' or raise stages.{pos.stage - 1}.epochs' if at_boundary else '')
            + ', or start a new run.dir')
    if pos.stage < len(wanted) and pos.epoch and wanted[pos.stage] <= pos.epoch:
        raise ConfigError(f'stages.{pos.stage}.epochs: {wanted[pos.stage]} but the checkpoint '
                          f'already trained {pos.epoch} epochs of stage {pos.stage}')
    if not at_boundary or last_done < 0 or last_done >= min(len(saved), len(wanted)):
        return None
    if wanted[last_done] <= saved[last_done]:
        return None
    pos.stage, pos.epoch = last_done, saved[last_done]
    pos.stage_step = int(payload['scheduler']['total_steps'])
    return last_done, saved[last_done], wanted[last_done]


def settings(config: Dict[str, Any]) -> Dict[str, Any]:
    """Flatten a config dict to dotted keys, stages by index: {'stages.0.epochs': 2, ...}."""
    data = dict(config)
    data['stages'] = {str(i): stage for i, stage in enumerate(data.get('stages') or [])}
    return flatten(data)


def changed_settings(saved: Dict[str, Any], now: Dict[str, Any],
                     extension: Optional[Extension] = None) -> List[str]:
    """Dotted keys (run.* aside) whose value differs; a reopened stage's epochs are expected."""
    old, new = settings(saved), settings(now)
    expected = {f'stages.{extension[0]}.epochs'} if extension else set()
    return sorted(key for key in set(old) | set(new) if not key.startswith('run.')
                  and key not in expected and old.get(key) != new.get(key))


def resume_line(path: str, pos: Position, config: TrainConfig,
                extension: Optional[Extension] = None) -> str:
    """One sentence saying where a resumed run goes on, in the config's terms."""
    stages = config.stages
    where = f'epoch {pos.global_epoch + 1} of {sum(s.epochs for s in stages)}'
    if len(stages) > 1:
        where += f' (stage {pos.stage}, its epoch {pos.epoch + 1} of {stages[pos.stage].epochs})'
    if pos.batch:
        where += f' from its batch {pos.batch + 1}'
    line = f'resuming {path}: training goes on at {where}, after {pos.step} optimizer steps'
    if extension:
        stage, old, new = extension
        line += (f'; stages.{stage}.epochs was raised from {old} to {new}, so stage {stage} '
                 f'continues with its learning-rate schedule stretched to {new} epochs')
    return line


def check_run_dir(run_dir: str, resuming: bool) -> None:
    """Raise ConfigError naming run.dir when it is a file or holds a run not resumed."""
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise ConfigError(f'run.dir: {run_dir} is a file; name a folder (it is created)')
    if not resuming and os.path.isfile(os.path.join(run_dir, 'checkpoints', LAST)):
        raise ConfigError(f'run.dir: {run_dir} already holds a run; resume it with '
                          '--resume auto or choose another run.dir')


def resume_training(path: str, payload: Dict[str, Any], head: torch.nn.Module,
                    config: TrainConfig) -> Tuple[TrainingState, Dict[str, Any]]:
    """Load a training checkpoint's payload (read from path) into head.

    Returns (where training stands, the payload). Logs one INFO line (none when every stage
    is already done: the trainer says so) and a WARNING naming the settings that differ from
    the checkpoint's, if any.
    """
    try:
        head.load_state_dict(payload['state_dict'])
    except RuntimeError as exc:
        raise CheckpointError(f'{path!r} does not fit the configured head: '
                              f'{one_line(exc, 300)}') from None
    state = TrainingState.from_dict(payload['training'])
    extension = reopen_finished_stage(state.position, payload, config)
    changed = changed_settings(payload.get('config') or {}, config.to_dict(), extension)
    if changed:
        LOGGER.warning('resuming with settings that differ from the checkpoint\'s: %s',
                       ', '.join(changed[:12]) + (', ...' if len(changed) > 12 else ''))
    if state.position.stage < len(config.stages):
        LOGGER.info('%s', resume_line(path, state.position, config, extension))
    return state, payload
