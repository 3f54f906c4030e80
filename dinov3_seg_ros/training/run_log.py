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

"""What a run writes besides checkpoints: metrics.jsonl, TensorBoard scalars and plots/.

Only rank 0 writes (the trainer calls record/plot there); every rank asks for the optional
TensorBoard writer so that a missing package fails all ranks alike.
"""

import os
from typing import Any, Dict, Optional

from dinov3_seg_ros.training import plots
from dinov3_seg_ros.training.tensorboard_log import summary_writer_class, TensorBoardLog


class RunLog:
    """The metrics records of one run directory, mirrored to TensorBoard, and their plots."""

    def __init__(self, run_dir: str, tensorboard: bool, is_main: bool) -> None:
        self.metrics_path = os.path.join(run_dir, plots.METRICS_FILE)
        self.plots_dir = os.path.join(run_dir, 'plots')
        self.tensorboard: Optional[TensorBoardLog] = None
        if tensorboard:
            writer_class = summary_writer_class()  # every rank fails alike when it is missing
            if is_main:
                self.tensorboard = TensorBoardLog(os.path.join(run_dir, 'tensorboard'),
                                                  writer_class)

    def truncate_after(self, step: int) -> None:
        """Drop records past step (a resumed run writes them again)."""
        plots.truncate_after(self.metrics_path, step)

    def record(self, record: Dict[str, Any]) -> None:
        """Append one metrics entry (kind step, epoch or eval) and mirror its scalars."""
        plots.append_record(self.metrics_path, record)
        if self.tensorboard is not None:
            self.tensorboard.write(record)

    def plot(self) -> None:
        """(Re)draw plots/: the loss and mIoU curves and the last evaluation's IoU per class."""
        if not os.path.isfile(self.metrics_path):
            return
        records = plots.read_records(self.metrics_path)
        plots.plot_curves(records, self.plots_dir)
        evals = [r for r in records if r.get('kind') == 'eval']
        if evals:
            plots.plot_per_class_iou(evals[-1]['per_class_iou'],
                                     os.path.join(self.plots_dir, 'per_class_iou.png'),
                                     f'IoU per class, epoch {evals[-1]["epoch"]}')

    def close(self) -> None:
        """Close the TensorBoard event file, if any."""
        if self.tensorboard is not None:
            self.tensorboard.close()
