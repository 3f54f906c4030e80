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

"""ONNX Runtime inference of the exported models (onnxruntime is imported lazily).

Providers, best first: TensorRT (fp16, an engine cache folder per model file, precision and
shape profile: tensorrt_cache), CUDA, CPU. The model describes itself: its 'dinov3_seg_ros'
metadata gives class names, heads, backbone, mean and std. On CUDA, torch tensors are bound
in place for the input AND the outputs (IO binding on torch's current stream): the logits
stay on the GPU for device_labels.
"""

import logging
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..config import InputSize
from ..errors import CheckpointError, ConfigError, one_line
from ..export.metadata import parse_metadata
from .tensorrt_cache import trt_options
from .base import Backend, checked_backbone

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


def physical_cores() -> int:
    """Physical cores this process may run on (hyper-threads not counted)."""
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:
        allowed = set(range(os.cpu_count() or 1))
    cores, cpu, package = set(), None, '0'
    try:
        with open('/proc/cpuinfo', encoding='ascii', errors='replace') as stream:
            for line in stream:
                key, _, value = line.partition(':')
                key, value = key.strip(), value.strip()
                if key == 'processor':
                    cpu = int(value)
                elif key == 'physical id':
                    package = value
                elif key == 'core id' and cpu in allowed:
                    cores.add((package, value))
    except (OSError, ValueError):
        cores = set()
    return max(1, min(len(cores) or len(allowed), len(allowed)))


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


def _torch_cuda() -> bool:
    """Tell whether torch is installed with a usable CUDA device (imports torch)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _first_input_name(path: str) -> str:
    """Name of the model's first graph input (read without the weights)."""
    import onnx
    return onnx.load(path, load_external_data=False).graph.input[0].name


class OnnxRuntimeBackend(Backend):
    """An exported model in an ONNX Runtime session.

    __call__: (N, 3, H, W) float32 normalized image (fused model; H, W multiples of 16), or
    (N, C, h, w) features (head model) -> list of (N, K_i, h, w) float32 logits, one per head.
    A torch CUDA tensor is bound in place (IO binding) when the session runs on CUDA.
    from_config builds the Segmenter's backend (a fused model, described by its metadata).
    """

    name = 'onnxruntime'

    def __init__(self, path: str, device: str = 'auto', *, tensorrt: bool = True,
                 fp16: bool = True, trt_cache_dir: str = '', threads: int = 0,
                 input_size: Optional[InputSize] = None) -> None:
        super().__init__()
        self.session = open_session(path, device, tensorrt=tensorrt, fp16=fp16,
                                    trt_cache_dir=trt_cache_dir, threads=threads,
                                    input_size=input_size)
        self.path = path
        self.threads = self.session.get_session_options().intra_op_num_threads
        self.providers: List[str] = list(self.session.get_providers())
        index = parse_device(device)[1]
        self.device = f'cuda:{index}' if {TRT, CUDA} & set(self.providers) else 'cpu'
        self.metadata: Dict[str, Any] = parse_metadata(
            self.session.get_modelmeta().custom_metadata_map, path)
        self.input_name = self.session.get_inputs()[0].name
        self.input_shape = list(self.session.get_inputs()[0].shape)
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.output_types = [o.type for o in self.session.get_outputs()]
        self.class_names = [list(n) for n in self.metadata.get('class_names') or []]
        self.head_names = list(self.metadata.get('head_names') or [])
        trt_fp16 = TRT in self.providers and fp16
        self.precision = 'float16' if trt_fp16 else 'float32'
        # on a GPU session, torch CUDA tensors are bound in place (needs torch with CUDA)
        self.wants_torch_input = self.device != 'cpu' and _torch_cuda()
        self.torch_device = self.device if self.wants_torch_input else 'cpu'
        heads = len(self.metadata.get('head_names') or [])
        if heads != len(self.output_names):
            raise CheckpointError(f'{path!r}: {len(self.output_names)} outputs but metadata '
                                  f'describes {heads} heads')

    @property
    def kind(self) -> str:
        """'fused' (image -> logits) or 'head' (features -> logits)."""
        return str(self.metadata['kind'])

    @classmethod
    def from_config(cls, config: Any) -> 'OnnxRuntimeBackend':
        """Open config.onnx_model (a fused export) on config.device; check its metadata."""
        backend = cls(config.onnx_model, config.device, input_size=config.input_size,
                      threads=getattr(config, 'threads', 0))
        backend.describe(backend.metadata, config.onnx_model, checked_backbone(config),
                         config.classes_file)
        return backend

    def fixed_size(self) -> Optional[Tuple[int, int]]:
        """(H, W) the input must have when the graph is not dynamic, else None."""
        if self.metadata.get('dynamic', True):
            return None
        height, width = self.metadata['export_size']
        return int(height), int(width)

    def _check_shape(self, shape: Sequence[int]) -> None:
        expected = self.input_shape
        if len(shape) != len(expected) or any(
                isinstance(e, int) and e != s for e, s in zip(expected, shape)):
            raise ConfigError(f'{self.path!r} expects {self.input_name!r} of shape {expected}, '
                              f'got {list(shape)}')

    def __call__(self, x: Any, timer: Any = None) -> List[np.ndarray]:
        """(N, C, H, W) float32 -> one (N, K_i, h, w) float32 logits array per head.

        timer: marks 'backbone' after the run and an empty 'head' (fused: heads inside).
        """
        outputs = self._run(x)
        if timer is not None:
            timer.mark('backbone')
            timer.mark('head')
        return outputs

    def _run(self, x: Any) -> List[Any]:
        is_tensor = type(x).__module__.startswith('torch')
        if is_tensor and x.is_cuda and self.device != 'cpu':
            return self.run_bound(x)
        if is_tensor:
            x = x.detach().cpu().numpy()
        x = np.ascontiguousarray(x, dtype=np.float32)
        self._check_shape(x.shape)
        return self.session.run(self.output_names, {self.input_name: x})

    def output_shapes(self, shape: Sequence[int]) -> List[Tuple[int, ...]]:
        """(N, K_i, h, w) of every output for an (N, C, H, W) input (fused: h = H / 16)."""
        n, _, height, width = shape
        if self.kind == 'fused':
            height, width = height // 16, width // 16
        return [(n, len(names), height, width) for names in self.class_names]

    def run_bound(self, x: Any) -> List[Any]:
        """Run on a torch tensor in place (IO binding, no copy).

        A CUDA tensor: the outputs are bound to new torch tensors on the same GPU and
        returned as (N, K_i, h, w) torch tensors, ordered on torch's stream (no host copy).
        A CPU tensor: the logits come back as numpy arrays.
        """
        import torch
        x = x.detach().float().contiguous()
        self._check_shape(tuple(x.shape))
        binding = self.session.io_binding()
        device_type, device_id = ('cuda' if x.is_cuda else 'cpu'), x.device.index or 0
        binding.bind_input(name=self.input_name, device_type=device_type,
                           device_id=device_id, element_type=np.float32,
                           shape=tuple(x.shape), buffer_ptr=x.data_ptr())
        if not x.is_cuda:
            for name in self.output_names:
                binding.bind_output(name, 'cpu')
            self.session.run_with_iobinding(binding)
            return binding.copy_outputs_to_cpu()
        outputs = []
        for name, kind, shape in zip(self.output_names, self.output_types,
                                     self.output_shapes(x.shape)):
            half = kind == 'tensor(float16)'
            out = torch.empty(shape, device=x.device,
                              dtype=torch.float16 if half else torch.float32)
            binding.bind_output(name, device_type, device_id,
                                np.float16 if half else np.float32, shape, out.data_ptr())
            outputs.append(out)
        binding.synchronize_inputs()
        self.session.run_with_iobinding(binding)
        return [out.float() for out in outputs]
