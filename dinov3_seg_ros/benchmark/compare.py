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

"""dinov3-seg-bench --compare: every installed backend and precision on the same photos.

Rows: torch/float32 (the baseline), torch/bfloat16, onnxruntime/float32, openvino/float32,
openvino/bfloat16 and openvino/int8 (an int8 IR, when given). Each row runs the same
preprocessing and postprocessing around its engine on the skimage astronaut/coffee/chelsea
photos resized to the camera size: medians of the timed frames, and the agreement of its
per-pixel labels and the cosine of its logits with the baseline's on the three photos.
"""

import dataclasses
import os
import statistics
import tempfile
import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np

from ..core.config import FrameSize, ModelConfig
from ..core.errors import ConfigError
from ..core.precision import cpu_has_native_bf16
from .machine import cpu_isa, cpu_model_name
from .photos import photos
from .temporary_export import export_temporary

BASELINE = 'torch/float32'
Engine = Callable[[np.ndarray], List[np.ndarray]]
Row = Tuple[str, str, Callable[[], Engine]]


def torch_engine(segmenter: Any, dtype: Any) -> Engine:
    """Run the torch segmenter's backbone and heads under autocast(dtype) on the CPU."""
    import torch
    from ..core.device import autocast
    engine = segmenter.engine  # a TorchBackend: the baseline segmenter is torch

    def run(x: np.ndarray) -> List[np.ndarray]:
        with torch.inference_mode(), autocast(torch.device('cpu'), dtype):
            features = engine.backbone(torch.from_numpy(x))
            return [head(features).float().numpy() for head in engine.heads]
    return run


def openvino_engine(path: str, precision: str, cache_dir: str, threads: int) -> Engine:
    """Compile path with the OpenVINO backend, precision 'f32' | 'bf16' | '' (dtype auto)."""
    from ..core.backends.openvino import OpenVinoBackend
    dtype = {'f32': 'float32', 'bf16': 'bfloat16'}.get(precision, 'auto')
    config = ModelConfig(backend='openvino', onnx_model=path, dtype=dtype, threads=threads,
                         openvino_cache_dir=cache_dir, warmup=0)
    backend = OpenVinoBackend.from_config(config)
    return lambda x: [np.asarray(o, np.float32) for o in backend(x)]


def run_row(engine: Engine, segmenter: Any, frames: Sequence[np.ndarray],
            timed: int) -> Tuple[Dict[str, float], List[List[np.ndarray]], List[np.ndarray]]:
    """Time preprocess + engine + labels; return (median ms, logits and labels per photo).

    Every photo runs once untimed first (warm-up; its logits and labels are compared).
    """
    logits, labels, runs = [], [], []
    for i in range(len(frames) + timed):
        rgb = frames[i % len(frames)]
        start = time.perf_counter()
        x, info = segmenter.preprocessor.to_numpy(rgb)
        model_start = time.perf_counter()
        out = engine(x)
        model_ms = (time.perf_counter() - model_start) * 1e3
        result = segmenter.from_logits(rgb, out, info)
        total_ms = (time.perf_counter() - start) * 1e3
        if i < len(frames):
            logits.append([np.asarray(o, np.float32) for o in out])
            labels.append(result.labels)
        else:
            runs.append((total_ms, model_ms))
    total = statistics.median(r[0] for r in runs)
    model = statistics.median(r[1] for r in runs)
    return {'total_ms': total, 'model_ms': model,
            'non_model_ms': statistics.median(r[0] - r[1] for r in runs)}, logits, labels


def agreement(labels: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> float:
    """Mean share of pixels with the reference's label, over the photos."""
    return float(np.mean([(a == b).mean() for a, b in zip(labels, reference)]))


def cosine(logits: Sequence[Sequence[np.ndarray]],
           reference: Sequence[Sequence[np.ndarray]]) -> float:
    """Cosine similarity of all logits (every photo and head, flattened) with the reference."""
    a = np.concatenate([o.ravel() for frame in logits for o in frame]).astype(np.float64)
    b = np.concatenate([o.ravel() for frame in reference for o in frame]).astype(np.float64)
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm else 0.0


def plan_rows(config: ModelConfig, segmenter: Any, tmp: str, in_size: Tuple[int, int],
              threads: int, notes: List[str], exporter: str = 'auto',
              int8_model: str = '') -> List[Row]:
    """(backend, precision, engine factory) of every row to run, noting what is skipped.

    in_size is the model input (H, W) the temporary ONNX export is traced at.
    """
    import torch
    rows: List[Row] = [
        ('torch', 'float32', lambda: torch_engine(segmenter, torch.float32)),
        ('torch', 'bfloat16', lambda: torch_engine(segmenter, torch.bfloat16))]
    if not cpu_has_native_bf16():
        notes.append('torch/bfloat16 is emulated: this CPU has no amx_bf16/avx512_bf16')
    onnx: Dict[str, str] = {}

    def onnx_path() -> str:
        if 'path' not in onnx:
            onnx['path'] = export_temporary(config, tmp, in_size, exporter)
        return onnx['path']
    try:
        from ..core.backends.onnxruntime import OnnxRuntimeBackend
        from ..core.backends.ort_session import import_onnxruntime
        import_onnxruntime()
        rows.append(('onnxruntime', 'float32',
                     lambda: OnnxRuntimeBackend(onnx_path(), 'cpu', threads=threads)))
    except (ImportError, ConfigError) as error:
        notes.append(f'onnxruntime skipped: {error}')
    try:
        import openvino  # noqa: F401
        cache = os.path.join(tmp, 'ov_cache')
        for precision, hint in (('float32', 'f32'), ('bfloat16', 'bf16')):
            rows.append(('openvino', precision,
                         lambda hint=hint: openvino_engine(onnx_path(), hint, cache, threads)))
        if int8_model:
            rows.append(('openvino', 'int8',
                         lambda: openvino_engine(int8_model, '', cache, threads)))
    except ImportError:
        notes.append('openvino not installed: its rows are skipped')
        if int8_model:
            notes.append('the int8 model needs openvino: skipped')
    return rows


def compare(config: ModelConfig, size: FrameSize, frames: int, exporter: str = 'auto',
            int8_model: str = '') -> Dict[str, Any]:
    """Run every row on the CPU and return the report (see the module docstring).

    config gives the model (weights, input_size, seed, threads; its backend and dtype are
    the rows'); frames is the number of timed frames per row.
    """
    import torch
    from ..core.host import physical_cores
    from ..core.segmenter import Segmenter
    if frames < 1:
        raise ConfigError('--frames must be >= 1')
    if int8_model and not os.path.isfile(int8_model):
        raise ConfigError(f'--int8-model: {int8_model!r} is not a file')
    threads = config.threads or physical_cores()
    torch.set_num_threads(threads)
    notes = ['CPU only; one warm-up pass per photo, then --frames timed frames per row']
    segmenter = Segmenter(dataclasses.replace(config, device='cpu', backend='torch',
                                              dtype='float32', onnx_model='', warmup=0,
                                              compile=False))
    images = photos(size.height, size.width)
    info = segmenter.preprocessor.resize_info(images[0])
    rows: List[Dict[str, Any]] = []
    reference: Tuple[Any, Any] = ([], [])
    with tempfile.TemporaryDirectory(prefix='dinov3-seg-compare-') as tmp:
        for backend, precision, factory in plan_rows(
                config, segmenter, tmp, (info.in_height, info.in_width), threads, notes,
                exporter, int8_model):
            try:
                engine = factory()
            except Exception as error:  # noqa: BLE001  an engine that cannot load is a note
                notes.append(f'{backend}/{precision} skipped: {type(error).__name__}: {error}')
                continue
            ms, logits, labels = run_row(engine, segmenter, images, frames)
            if not rows:
                reference = (logits, labels)
            rows.append({'backend': backend, 'precision': precision,
                         **{k: round(v, 3) for k, v in ms.items()},
                         'label_agreement': round(agreement(labels, reference[1]), 5),
                         'feature_cosine': round(cosine(logits, reference[0]), 6)})
    base = rows[0]['total_ms']
    for row in rows:
        row['speedup'] = round(base / row['total_ms'], 3) if row['total_ms'] > 0 else 0.0
    return {'baseline': BASELINE, 'cpu': cpu_model_name(), 'cpu_isa': cpu_isa(),
            'cpu_flags_bf16': cpu_has_native_bf16(),
            'backbone': segmenter.backbone_name, 'size': str(size),
            'input_size': f'{info.in_width}x{info.in_height}', 'frames': frames,
            'threads': threads, 'rows': rows, 'notes': notes}


def format_table(report: Dict[str, Any]) -> str:
    """Format the report as a readable table."""
    lines = [f"{report['backbone']} {report['size']} (model input {report['input_size']}), "
             f"{report['cpu'] or 'unknown CPU'} (flags {report.get('cpu_isa') or '?'}), "
             f"native bf16: {report['cpu_flags_bf16']}",
             f"{'backend/precision':<22}{'total ms':>10}{'model ms':>10}{'other ms':>10}"
             f"{'speedup':>9}{'labels =':>10}{'cosine':>10}"]
    for row in report['rows']:
        lines.append(f"{row['backend'] + '/' + row['precision']:<22}{row['total_ms']:>10.1f}"
                     f"{row['model_ms']:>10.1f}{row['non_model_ms']:>10.1f}"
                     f"{row['speedup']:>8.2f}x{100 * row['label_agreement']:>9.2f}%"
                     f"{row['feature_cosine']:>10.5f}")
    lines += [f'note: {note}' for note in report['notes']]
    return '\n'.join(lines)
