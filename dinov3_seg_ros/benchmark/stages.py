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

"""dinov3-seg-bench's measurement: every stage of the Segmenter on a real photo.

Stages (medians over the timed frames): preprocess, backbone, head, postprocess, overlay and
total, plus the backbone's work (GFLOP), its speed (GFLOP/s) and the device's matmul peak
in the precision in use, measured on the spot.
"""

import statistics
import tempfile
from typing import Any, Dict, List, Tuple

import numpy as np

from ..core.config import FrameSize, ModelConfig
from ..core.precision import cpu_has_native_bf16
from ..core.variants import backbone_spec
from .machine import cpu_isa, cpu_model_name, memory_mb
from .photos import photo
from .temporary_export import export_temporary

STAGES = ('preprocess', 'backbone', 'head', 'postprocess', 'overlay', 'total')


def compile_note(segmenter: Any) -> str:
    """Say how long ModelConfig(compile=True) took to compile, or that it fell back to eager."""
    if segmenter.compiled:
        return f'backbone compiled with torch.compile in {segmenter.compile_seconds:.1f} s'
    return 'torch.compile failed (see the warning): the backbone ran eagerly'


def time_stages(segmenter: Any, rgb: np.ndarray, warmup: int, repeat: int,
                overlay: bool) -> Dict[str, float]:
    """Median milliseconds per stage over repeat frames (after warmup frames).

    'non_model' is the per-frame total minus backbone and head, then the median.
    """
    runs: List[Dict[str, float]] = []
    for i in range(warmup + repeat):
        timings = dict(segmenter(rgb, overlay=overlay).timings_ms)
        timings['non_model'] = max(0.0, timings['total'] - timings.get('backbone', 0.0)
                                   - timings.get('head', 0.0))
        if i >= warmup:
            runs.append(timings)
    return {stage: statistics.median(r.get(stage, 0.0) for r in runs)
            for stage in STAGES + ('non_model',)}


def work_figures(segmenter: Any, in_size: Tuple[int, int], ms: Dict[str, float],
                 device: str) -> Dict[str, Any]:
    """GFLOP per frame, achieved GFLOP/s and the share of the measured matmul peak.

    in_size is the model input (H, W).
    """
    import torch
    from .flops import backbone_flops, head_flops, matmul_peak_gflops
    rows, cols = in_size[0] // 16, in_size[1] // 16
    backbone = backbone_flops(segmenter.backbone_name, *in_size) / 1e9
    head = sum(head_flops(c, rows, cols) for c in segmenter.info.head_configs) / 1e9
    work = backbone if segmenter.backend == 'torch' else backbone + head
    achieved = work / (ms['backbone'] / 1e3) if ms['backbone'] > 0 else 0.0
    # the peak of the precision in use: a bf16 model (torch autocast or the OpenVINO bf16
    # hint) is held to the bf16 matmul peak; int8 to the bf16 one too (no int8 torch.mm)
    dtype = {'bfloat16': torch.bfloat16, 'float16': torch.float16,
             'int8': torch.bfloat16}.get(str(segmenter.precision).replace('torch.', ''))
    peak = matmul_peak_gflops(device, dtype=dtype)
    non_model = ms['non_model']
    return {'backbone_gflop': round(backbone, 3), 'head_gflop': round(head, 3),
            'backbone_gflops': round(achieved, 2), 'matmul_peak_gflops': round(peak, 2),
            'backbone_pct_of_peak': round(100.0 * achieved / peak, 1) if peak else 0.0,
            'matmul_peak_dtype': str(dtype or 'float32').replace('torch.', ''),
            'non_model_ms': round(non_model, 3),
            'non_model_pct_of_backbone': round(100.0 * non_model / ms['backbone'], 2)
            if ms['backbone'] > 0 else 0.0, 'feature_grid': f'{cols}x{rows}'}


def bench_stages(config: ModelConfig, size: FrameSize, warmup: int, repeat: int,
                 overlay: bool = True, exporter: str = 'auto',
                 export_onnx: bool = False) -> Dict[str, Any]:
    """Build the Segmenter from config, time it on the astronaut photo at size, report.

    export_onnx: run the onnxruntime backend on a temporary export of config's (torch)
    model, same weights. Returns the report dinov3-seg-bench prints (*_ms, work, notes).
    """
    import dataclasses

    import torch
    from ..core.host import physical_cores
    from ..core.preprocess import model_input_size
    from ..core.segmenter import Segmenter
    threads = config.threads or physical_cores()
    torch.set_num_threads(threads)
    in_size = model_input_size(size.height, size.width, config.input_size)
    notes = []
    with tempfile.TemporaryDirectory(prefix='dinov3-seg-bench-') as tmp:
        if export_onnx:
            config = dataclasses.replace(
                config, backend='onnxruntime', compile=False,
                onnx_model=export_temporary(config, tmp, in_size, exporter))
            notes.append('temporary fused ONNX model exported from the random/given weights')
        segmenter = Segmenter(config)  # compiles the backbone now with compile=True
        if config.compile:
            notes.append(compile_note(segmenter))
        if segmenter.backend != 'torch':
            notes.append(f"{segmenter.backend} runs the fused model: backbone_ms includes the "
                         "heads, head_ms is 0; backbone_gflops counts backbone + head work")
            threads = segmenter.info.threads or threads
        rgb = photo(size.height, size.width)
        info = segmenter.preprocessor.resize_info(rgb)
        in_size = (info.in_height, info.in_width)
        ms = time_stages(segmenter, rgb, warmup, repeat, overlay)
        if segmenter.backend != 'torch':  # the heads run inside the fused model
            ms['backbone'], ms['head'] = ms['backbone'] + ms['head'], 0.0
        device = segmenter.device if segmenter.device.startswith('cuda') else 'cpu'
        report: Dict[str, Any] = {f'{k}_ms': round(v, 3) for k, v in ms.items()
                                  if k != 'non_model'}
        report.update(work_figures(segmenter, in_size, ms, device))
        report.update({'device': segmenter.device, 'backend': segmenter.backend,
                       'precision': str(segmenter.precision).replace('torch.', ''),
                       'precision_reason': segmenter.precision_reason,
                       'cpu': cpu_model_name(), 'cpu_isa': cpu_isa(),
                       'cpu_native_bf16': cpu_has_native_bf16(),
                       'backbone': segmenter.backbone_name, 'threads': threads,
                       'size': str(size), 'input_size': f'{in_size[1]}x{in_size[0]}',
                       'repeat': repeat, 'warmup': warmup,
                       'untrained': bool(segmenter.untrained), 'notes': notes,
                       'feature_channels': backbone_spec(segmenter.backbone_name).embed_dim,
                       **memory_mb()})
    return report
