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

"""The ONNX Runtime backend: an exported model in a session (ort_session opens it).

The model describes itself: its 'dinov3_seg_ros' metadata gives class names, heads,
backbone, mean and std. On CUDA, torch tensors are bound in place for the input AND the
outputs (IO binding on torch's current stream): the logits stay on the GPU for device_labels.
"""

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..config import InputSize
from ..errors import CheckpointError, ConfigError
from ..export.metadata import parse_metadata
from .base import Backend, describe_export, ModelInfo, warn_untrained
from .ort_session import CUDA, open_session, parse_device, TRT


def _torch_cuda() -> bool:
    """Tell whether torch is installed with a usable CUDA device (imports torch)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


class OnnxRuntimeBackend(Backend):
    """An exported model in an ONNX Runtime session.

    __call__: (N, 3, H, W) float32 normalized image (fused model; H, W multiples of 16), or
    (N, C, h, w) features (head model) -> list of (N, K_i, h, w) float32 logits, one per head.
    A torch CUDA tensor is bound in place (IO binding) when the session runs on CUDA.
    from_config builds the Segmenter's backend (a fused model checked against the config);
    the constructor opens any export (head-only ones too: export parity checks).
    """

    name = 'onnxruntime'

    def __init__(self, path: str, device: str = 'auto', *, tensorrt: bool = True,
                 fp16: bool = True, trt_cache_dir: str = '', threads: int = 0,
                 input_size: Optional[InputSize] = None) -> None:
        self.session = open_session(path, device, tensorrt=tensorrt, fp16=fp16,
                                    trt_cache_dir=trt_cache_dir, threads=threads,
                                    input_size=input_size)
        self.path = path
        self.providers: List[str] = list(self.session.get_providers())
        index = parse_device(device)[1]
        on_gpu = bool({TRT, CUDA} & set(self.providers))
        self.metadata: Dict[str, Any] = parse_metadata(
            self.session.get_modelmeta().custom_metadata_map, path)
        self.input_name = self.session.get_inputs()[0].name
        self.input_shape = list(self.session.get_inputs()[0].shape)
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.output_types = [o.type for o in self.session.get_outputs()]
        heads = len(self.metadata.get('head_names') or [])
        if heads != len(self.output_names):
            raise CheckpointError(f'{path!r}: {len(self.output_names)} outputs but metadata '
                                  f'describes {heads} heads')
        trt_fp16 = TRT in self.providers and fp16
        fixed = None
        if not self.metadata.get('dynamic', True):
            fixed = tuple(int(v) for v in self.metadata['export_size'])
        self.info = ModelInfo(
            class_names=tuple(tuple(n) for n in self.metadata.get('class_names') or []),
            head_names=tuple(self.metadata.get('head_names') or []),
            mean=tuple(self.metadata.get('mean') or ()), std=tuple(self.metadata.get('std') or ()),
            backbone=str(self.metadata.get('backbone') or ''),
            untrained=bool(self.metadata.get('untrained')),
            device=f'cuda:{index}' if on_gpu else 'cpu',
            precision='float16' if trt_fp16 else 'float32',
            precision_reason=('TensorRT fp16' if trt_fp16 else 'ONNX Runtime runs the export in '
                              'float32'),
            fixed_size=fixed, source=path,  # type: ignore[arg-type]
            head_configs=tuple(dict(h) for h in self.metadata.get('heads') or ()),
            threads=self.session.get_session_options().intra_op_num_threads)
        # on a GPU session, torch CUDA tensors are bound in place (needs torch with CUDA)
        self.wants_torch_input = on_gpu and _torch_cuda()
        self.torch_device = self.info.device if self.wants_torch_input else 'cpu'

    @property
    def kind(self) -> str:
        """'fused' (image -> logits) or 'head' (features -> logits)."""
        return str(self.metadata['kind'])

    @classmethod
    def from_config(cls, config: Any) -> 'OnnxRuntimeBackend':
        """Open config.onnx_model (a fused export) on config.device; check its metadata.

        dtype: float32 turns TensorRT's fp16 off; bfloat16 has no ONNX Runtime path here and
        runs float32 (said in precision_reason).
        """
        fp16 = config.dtype in ('auto', 'float16')
        backend = cls(config.onnx_model, config.device, input_size=config.input_size,
                      threads=config.threads, fp16=fp16)
        info = describe_export(backend.metadata, config.onnx_model, config, cls.name)
        reason = backend.info.precision_reason
        if config.dtype == 'bfloat16':
            reason = 'bfloat16 requested: ONNX Runtime runs this export in float32'
        elif config.dtype == 'float16' and backend.info.precision != 'float16':
            reason = 'float16 requested: only TensorRT runs fp16 here; float32'
        backend.info = info.replace(device=backend.info.device,
                                    precision=backend.info.precision,
                                    precision_reason=reason, threads=backend.info.threads)
        warn_untrained(backend.info, converted=False)
        return backend

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
        if is_tensor and x.is_cuda and self.info.device != 'cpu':
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
        return [(n, len(names), height, width) for names in self.info.class_names]

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
