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

"""The OpenVINO backend: a fused model compiled for the CPU (or an Intel GPU).

The model is config.onnx_model, a fused .onnx from dinov3-seg-export or an OpenVINO IR .xml
(its metadata: rt_info ['dinov3_seg_ros', 'metadata'], a JSON string of the export.metadata
dict, plus 'precision': 'int8' for quantized models); without one, the IR of the model
cache (cache_builder.model_file: converted once from the torch model in a child process,
so this process never imports torch). Precision: bf16 (INFERENCE_PRECISION_HINT) when the
dtype resolves to bfloat16 (precision.resolve_dtype), else f32; threads: config.threads or
the physical cores; compiled blobs are cached in CACHE_DIR (config.openvino_cache_dir,
default <cache_dir>/openvino; none with cache_dir 'none'); the CPU plugin keeps its
per-input-shape state for at most RUNTIME_CACHE shapes; the weights OpenVINO maps (the IR's
.bin, the blob) leave RSS once a shape has run (heap.release_file_pages), and compiling holds
model_cache.blob_lock. Input shapes stay dynamic ([-1, 3, -1, -1]) unless the model is
fixed-size. Only export.ir.convert_from_torch (run by the cache builder's child process)
imports torch.
"""

import logging
import os
import tempfile
from typing import Any, List, Tuple

import numpy as np

from ..errors import CheckpointError, ConfigError, one_line
from ..export.metadata import ir_metadata
from ..precision import resolve_dtype
from .base import Backend, describe_export, warn_untrained
from ..heap import release_file_pages
from ..host import physical_cores
from .model_cache import blob_dir, blob_lock, resolve_cache_dir

LOGGER = logging.getLogger(__name__)
RUNTIME_CACHE = 16  # input shapes whose CPU-plugin state is kept (a camera may change size)
OV_PRECISION = {'float32': 'f32', 'bfloat16': 'bf16', 'float16': 'f16'}


def import_openvino() -> Any:
    """Import openvino, or raise the ConfigError that tells how to install it."""
    try:
        import openvino
    except ImportError:
        raise ConfigError('backend openvino needs the openvino pip package '
                          '(pip install openvino)') from None
    return openvino


def set_blob_cache(core: Any, config: Any) -> str:
    """Point OpenVINO's CACHE_DIR at config.openvino_cache_dir or <cache_dir>/openvino.

    Returns the folder ('' when there is no blob cache).
    """
    folder = config.openvino_cache_dir or blob_dir(resolve_cache_dir(config.cache_dir))
    if not folder:
        return ''
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:  # an unwritable cache: the model cache warned already, run uncached
        return ''
    core.set_property({'CACHE_DIR': folder})
    return folder


class OpenVinoBackend(Backend):
    """A fused model compiled by OpenVINO; __call__ takes a float32 numpy batch."""

    name = 'openvino'

    @classmethod
    def from_config(cls, config: Any) -> 'OpenVinoBackend':
        """Read (or convert) and compile the config's model (CheckpointError/ConfigError)."""
        return cls(config)

    def __init__(self, config: Any) -> None:
        ov = import_openvino()
        with tempfile.TemporaryDirectory(prefix='dinov3-ov-') as folder:
            self._build(ov, config, folder)  # the temporary export lives until compiled
        self.request = self.compiled.create_infer_request()

    def _build(self, ov: Any, config: Any, folder: str) -> None:
        core, path = ov.Core(), config.onnx_model
        device, target = self._target(core, config.device)  # fails before any conversion
        if not path:
            from .cache_builder import model_file
            path = model_file(config, folder)  # the cached IR (converted once, elsewhere)
        if not os.path.isfile(path):
            raise CheckpointError(f'OpenVINO model not found: {path!r}')
        else:
            try:
                model = core.read_model(path)
            except Exception as exc:  # noqa: BLE001 - any parse failure means a bad file
                raise CheckpointError(f'cannot read model {path!r} with OpenVINO: '
                                      f'{one_line(exc, 200)}') from None
            self.metadata = ir_metadata(model, path)
        shown = config.onnx_model or f'{config.backbone} (IR {path})'
        info = describe_export(self.metadata, shown, config, self.name)
        if len(model.outputs) != len(info.head_names):
            raise CheckpointError(f'{shown!r}: {len(model.outputs)} outputs but metadata '
                                  f'describes {len(info.head_names)} heads')
        if info.fixed_size is None and model.inputs[0].get_partial_shape().is_static:
            model.reshape([-1, 3, -1, -1])
        dtype, reason = resolve_dtype(config.dtype, 'cpu' if target == 'CPU' else 'cuda')
        if self.metadata.get('precision') == 'int8':
            precision = 'int8'
        else:
            precision = dtype if dtype in OV_PRECISION else 'float32'
        threads = int(config.threads or physical_cores())
        batch = model.inputs[0].get_partial_shape()[0]  # static: the only N it takes
        self.info = info.replace(device=device, precision=precision, precision_reason=reason,
                                 threads=threads,
                                 max_batch=batch.get_length() if batch.is_static else 0)
        warn_untrained(self.info, converted=not config.onnx_model)
        # OpenVINO maps the IR's .bin (or the compiled blob) and, once it has run a shape,
        # computes from its own repacked weights: __call__ drops the mapped pages from RSS
        # (measured, vits16plus IR at 640x480: 498 -> 366 MiB with the blob, 405 without)
        blobs = set_blob_cache(core, config)
        self._mapped = (os.path.splitext(path)[0] + '.bin', blobs)
        self._released_shape: Tuple[int, ...] = ()
        properties = {'INFERENCE_PRECISION_HINT': OV_PRECISION.get(dtype, 'f32'),
                      'PERFORMANCE_HINT': 'LATENCY'}
        if target == 'CPU':
            properties.update(INFERENCE_NUM_THREADS=threads,
                              CPU_RUNTIME_CACHE_CAPACITY=RUNTIME_CACHE)
        LOGGER.info('openvino: %s on %s, precision %s (%s), %d threads', shown, target,
                    precision, reason, threads)
        try:
            with blob_lock(blobs):  # no start maps a blob that another one is writing
                self.compiled = core.compile_model(model, target, properties)
        except Exception as exc:  # noqa: BLE001 - plugin failures name no file otherwise
            raise CheckpointError(f'OpenVINO cannot compile {shown!r} for {target}: '
                                  f'{one_line(exc, 200)}') from None

    def close(self) -> None:
        """Release the compiled model and its infer request."""
        self.request = self.compiled = None

    @staticmethod
    def _target(core: Any, requested: str) -> Tuple[str, str]:
        """(device label, OpenVINO device): GPU when asked for and present, else CPU."""
        kind = str(requested).partition(':')[0]
        if kind in ('cuda', 'gpu'):
            if 'GPU' in core.available_devices:
                return 'gpu', 'GPU'
            raise ConfigError(f'device: {requested!r} requested but OpenVINO sees no GPU '
                              f'(available: {", ".join(core.available_devices)})')
        return 'cpu', 'CPU'

    def __call__(self, x: Any, timer: Any = None) -> List[np.ndarray]:
        """(N, 3, H, W) float32 numpy -> one (N, K_i, H/16, W/16) float32 array per head."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        fixed = self.info.fixed_size
        if fixed is not None and tuple(x.shape[2:]) != fixed:
            raise ConfigError(f'the OpenVINO model expects {fixed} inputs, got '
                              f'{tuple(x.shape[2:])}')
        self.request.infer({0: x})
        if x.shape != self._released_shape:  # a new shape may have read weights again
            release_file_pages(self._mapped)
            self._released_shape = x.shape
        outputs = [np.array(self.request.get_output_tensor(i).data, np.float32)
                   for i in range(len(self.info.head_names))]
        if timer is not None:
            timer.mark('backbone')
            timer.mark('head')  # fused model: the heads' time is inside 'backbone'
        return outputs
