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

"""The metrics log (JSON lines) and its plots: loss and mIoU curves, per-class IoU bars."""

import json
import os
from typing import Any, Dict, List, Optional, Sequence

METRICS_FILE = 'metrics.jsonl'


def append_record(path: str, record: Dict[str, Any]) -> None:
    """Append one JSON line (flushed, so a killed run keeps what it logged)."""
    with open(path, 'a', encoding='utf-8') as stream:
        stream.write(json.dumps(record, sort_keys=True) + '\n')
        stream.flush()


def read_records(path: str) -> List[Dict[str, Any]]:
    """Every record of a metrics log; a torn last line (killed run) is skipped."""
    records = []
    with open(path, encoding='utf-8') as stream:
        for line in stream:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def truncate_after(path: str, step: int) -> None:
    """Drop records logged after optimizer step `step` (a resumed run logs them again)."""
    if not os.path.isfile(path):
        return
    kept = [r for r in read_records(path) if int(r.get('step', 0)) <= step]
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as stream:
        stream.writelines(json.dumps(r, sort_keys=True) + '\n' for r in kept)
    os.replace(tmp, path)


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def plot_curves(records: Sequence[Dict[str, Any]], out_dir: str) -> List[str]:
    """Write loss.png (train and val loss per epoch) and miou.png; returns the files written."""
    plt = _pyplot()
    os.makedirs(out_dir, exist_ok=True)
    epochs = [r for r in records if r.get('kind') == 'epoch']
    evals = [r for r in records if r.get('kind') == 'eval']
    written = []
    if epochs or evals:
        fig, ax = plt.subplots(figsize=(7, 4))
        if epochs:
            ax.plot([r['epoch'] for r in epochs], [r['loss'] for r in epochs], 'o-',
                    label='train loss')
        if evals:
            ax.plot([r['epoch'] for r in evals], [r['val_loss'] for r in evals], 's-',
                    label='val loss')
        _finish(ax, 'epoch', 'loss (focal + dice)', 'Loss', stage_marks(records))
        written.append(_save(fig, os.path.join(out_dir, 'loss.png')))
    if evals:
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot([r['epoch'] for r in evals], [r['miou'] for r in evals], 'o-', label='val mIoU')
        ax.plot([r['epoch'] for r in evals], [r['pixel_accuracy'] for r in evals], 's--',
                label='val pixel accuracy')
        ax.set_ylim(0, 1)
        _finish(ax, 'epoch', 'score', 'Validation mIoU', stage_marks(records))
        written.append(_save(fig, os.path.join(out_dir, 'miou.png')))
    return written


def stage_marks(records: Sequence[Dict[str, Any]]) -> List[float]:
    """Epoch positions where a new stage starts (vertical lines in the curves)."""
    marks, last = [], None
    for r in records:
        if r.get('kind') == 'epoch':
            if last is not None and r['stage'] != last:
                marks.append(r['epoch'] - 0.5)
            last = r['stage']
    return marks


def plot_per_class_iou(per_class: Dict[str, Optional[float]], path: str,
                       title: str = 'IoU per class') -> str:
    """Horizontal bar chart of the IoU of every class (absent classes shown as 'n/a')."""
    plt = _pyplot()
    names = list(per_class)
    values = [per_class[n] if per_class[n] is not None else 0.0 for n in names]
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.22 * len(names) + 1)))
    ax.barh(range(len(names)), values, color='tab:blue')
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([n if per_class[n] is not None else f'{n} (n/a)' for n in names],
                       fontsize=7 if len(names) > 40 else 9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel('IoU')
    ax.set_title(title)
    ax.grid(axis='x', alpha=0.3)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return _save(fig, path)


def plot_confusion(mat: Any, class_names: Sequence[str], path: str,
                   title: str = 'confusion (rows: truth, normalized)') -> str:
    """Row-normalized (K, K) confusion matrix as an image (log-free, 0..1)."""
    import numpy as np
    plt = _pyplot()
    mat = np.asarray(mat, dtype=np.float64)
    norm = mat / np.maximum(mat.sum(1, keepdims=True), 1)
    side = min(16, max(4, 0.18 * len(class_names) + 2))
    fig, ax = plt.subplots(figsize=(side, side))
    im = ax.imshow(norm, vmin=0, vmax=1, cmap='viridis')
    if len(class_names) <= 60:
        ticks = range(len(class_names))
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        ax.set_xticklabels(class_names, rotation=90, fontsize=6)
        ax.set_yticklabels(class_names, fontsize=6)
    ax.set_xlabel('prediction')
    ax.set_ylabel('ground truth')
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return _save(fig, path)


def _finish(ax: Any, xlabel: str, ylabel: str, title: str, marks: Sequence[float]) -> None:
    for x in marks:
        ax.axvline(x, color='gray', linestyle=':', linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()


def _save(fig: Any, path: str) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return path
