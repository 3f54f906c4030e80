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

"""Optional TensorBoard scalars beside metrics.jsonl (run.tensorboard: true).

tensorboard is an optional dependency: asking for it without the package is one ConfigError.
Scalars: train/loss and train/lr per logged step, epoch/{loss,focal,dice} per epoch,
val/{miou,pixel_accuracy,loss} per evaluation, all against the optimizer step.
"""

from typing import Any, Callable, Dict, Optional

from dinov3_seg_ros.core.errors import ConfigError

SCALARS = {'step': (('train/loss', 'loss'), ('train/lr', 'lr'),
                    ('train/images_per_s', 'images_per_s')),
           'epoch': (('epoch/loss', 'loss'), ('epoch/focal', 'focal'), ('epoch/dice', 'dice')),
           'eval': (('val/miou', 'miou'), ('val/pixel_accuracy', 'pixel_accuracy'),
                    ('val/loss', 'val_loss'))}


def summary_writer_class() -> Callable[..., Any]:
    """Return torch's SummaryWriter; ConfigError naming the setting when tensorboard is absent."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError('run.tensorboard: true needs the optional tensorboard package, which '
                          'is not installed (pip install tensorboard, or set '
                          'run.tensorboard=false; metrics.jsonl is written either way)') from None
    return SummaryWriter


class TensorBoardLog:
    """Mirror metrics.jsonl records as TensorBoard scalars in log_dir (rank 0 only)."""

    def __init__(self, log_dir: str, writer_class: Optional[Callable[..., Any]] = None) -> None:
        self.writer = (writer_class or summary_writer_class())(log_dir=log_dir)

    def write(self, record: Dict[str, Any]) -> None:
        """Add the scalars of one metrics record (kind step, epoch or eval)."""
        for tag, key in SCALARS.get(record.get('kind', ''), ()):
            value = record.get(key)
            if value is not None:
                self.writer.add_scalar(tag, float(value), int(record.get('step', 0)))
        if record.get('kind') == 'eval':
            for name, iou in (record.get('per_class_iou') or {}).items():
                if iou is not None:
                    self.writer.add_scalar(f'val_iou/{name}', float(iou), int(record['step']))
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()
