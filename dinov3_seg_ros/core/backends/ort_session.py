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

"""Opening an ONNX Runtime session on the best providers (onnxruntime imported lazily).

Providers, best first: TensorRT (fp16 unless float32 is asked for, an engine cache folder per
model file, precision and shape profile: tensorrt_cache), CUDA, CPU.
"""

import logging
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..config import InputSize
from ..errors import CheckpointError, ConfigError, one_line
from ..host import physical_cores
from .tensorrt_cache import trt_options

LOGGER = logging.getLogger(__name__)
TRT = 'TensorrtExecutionProvider'
CUDA = 'CUDAExecutionProvider'
CPU = 'CPUExecutionProvider'
DEFAULT_TRT_CACHE = os.path.join(os.path.expanduser('~'), '.cache', 'dinov3_seg_ros', 'trt')


def import_onnxruntime() -> Any:
    """Import onnxruntime, or raise a ConfigError that tells how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError("backend 'onnxruntime' needs the onnxruntime package: pip install "
                          'onnxruntime (CPU) or onnxruntime-gpu (CUDA/TensorRT)') from None
    return onnxruntime


def provider_plan(available: Sequence[str], device: str, tensorrt: bool = True,
                  fp16: bool = True, trt_cache_dir: str = '', device_id: int = 0,
                  trt: Optional[Dict[str, Any]] = None,
                  stream: int = 0) -> List[List[Tuple[str, Dict[str, Any]]]]:
    """List the provider lists to try in order (the first that loads wins) for a device kind.

    device is 'auto', 'cpu' or 'cuda'; each entry is [(provider, options), ...]. trt: the
    TensorRT options (tensorrt_cache.trt_options), default one shared cache folder; stream:
    a CUDA stream handle both GPU providers run on (torch's current stream), 0 for theirs.
    """
    if device == 'cpu':
        return [[(CPU, {})]]
    cpu = [(CPU, {})]
    on_stream = {'user_compute_stream': str(stream)} if stream else {}
    cuda = [(CUDA, {'device_id': device_id, **on_stream})] if CUDA in available else []
    options, trt = trt, []
    if tensorrt and TRT in available:
        cache = trt_cache_dir or DEFAULT_TRT_CACHE
        options = options or {
            'device_id': device_id, 'trt_fp16_enable': bool(fp16),
            'trt_engine_cache_enable': True, 'trt_engine_cache_path': cache,
            'trt_timing_cache_enable': True, 'trt_timing_cache_path': cache}
        trt = [(TRT, {**options, **on_stream})]
    if device.startswith('cuda') and not cuda and not trt:
        raise ConfigError(f"device: {device!r} requested but onnxruntime has no CUDA provider "
                          f'(available: {", ".join(available)}); install onnxruntime-gpu')
    plans = [trt + cuda + cpu] if trt else []
    if cuda:
        plans.append(cuda + cpu)
    if not device.startswith('cuda'):
        plans.append(cpu)
    return plans


def parse_device(device: str) -> Tuple[str, int]:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' -> (kind, index)."""
    kind, _, index = str(device).partition(':')
    if kind not in ('auto', 'cpu', 'cuda') or (index and not index.isdigit()):
        raise ConfigError(f"device: {device!r} is not 'auto', 'cpu', 'cuda' or 'cuda:N'")
    return kind, int(index or 0)


def torch_stream(kind: str, index: int) -> int:
    """Handle of torch's current CUDA stream when torch is loaded with CUDA, else 0."""
    torch = sys.modules.get('torch')  # never imported here: torch-free sessions stay so
    if kind == 'cpu' or torch is None or not torch.cuda.is_available():
        return 0
    return int(torch.cuda.current_stream(index).cuda_stream)


def open_session(path: str, device: str = 'auto', *, tensorrt: bool = True, fp16: bool = True,
                 trt_cache_dir: str = '', threads: int = 0,
                 input_size: Optional[InputSize] = None) -> Any:
    """Open an onnxruntime.InferenceSession on the best providers for device (provider_plan).

    input_size gives the TensorRT shape profile (default: long side 640). Raises
    CheckpointError for a missing or unreadable model, ConfigError when device='cuda' cannot
    be honoured.
    """
    ort = import_onnxruntime()
    if not path or not os.path.isfile(path):
        raise CheckpointError(f'ONNX model not found: {path!r}')
    kind, index = parse_device(device)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads if threads > 0 else physical_cores()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    available = ort.get_available_providers()
    trt = None
    if tensorrt and TRT in available and kind != 'cpu':
        trt = trt_options(path, trt_cache_dir or DEFAULT_TRT_CACHE,
                          'float16' if fp16 else 'float32', input_size or InputSize(),
                          _first_input_name(path), index)
    plans = provider_plan(available, kind, tensorrt, fp16, trt_cache_dir, index, trt,
                          torch_stream(kind, index))
    errors = []
    for plan in plans:
        try:
            session = ort.InferenceSession(path, options, providers=[p for p, _ in plan],
                                           provider_options=[o for _, o in plan])
            break
        except Exception as exc:  # noqa: BLE001 - corrupt files and provider failures
            reason = one_line(exc, 300) or type(exc).__name__
            errors.append(reason)
            if len(plan) > 1:
                LOGGER.warning('ONNX Runtime providers %s failed (%s); trying the next',
                               [p for p, _ in plan], reason)
    else:
        raise CheckpointError(f'cannot load ONNX model {path!r}: {errors[-1]}')
    on_gpu = bool({TRT, CUDA} & set(session.get_providers()))
    if kind == 'cuda' and not on_gpu:
        raise ConfigError(f'device: {device!r} requested but ONNX Runtime could not start a '
                          f'CUDA session (got {", ".join(session.get_providers())})')
    if kind == 'auto' and not on_gpu and CUDA in ort.get_available_providers():
        LOGGER.warning('ONNX Runtime CUDA provider failed to start: running on CPU')
    return session


def _first_input_name(path: str) -> str:
    """Name of the model's first graph input (read without the weights)."""
    import onnx
    return onnx.load(path, load_external_data=False).graph.input[0].name
