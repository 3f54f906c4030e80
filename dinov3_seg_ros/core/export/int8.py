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

"""Int8 OpenVINO IR from the fused ONNX model by NNCF post-training quantization.

The IR carries the ONNX metadata plus 'precision': 'int8', 'calibration' and 'keep_precise'
(export.metadata). Running it needs only openvino (no torch). Agreement with the fp32
model is measured on frames given by the caller (normally the calibration frames).
"""

from dataclasses import dataclass, field
import logging
import os
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import ConfigError, one_line
from .metadata import read_metadata, set_ir_metadata
from .quiet import quiet_conversion

LOGGER = logging.getLogger(__name__)
# what stays in float: 'classifier' (the last conv of every head), 'head' (every conv of the
# heads: all but the patch embedding), 'patch_embed', or op types
KEEP_CHOICES = ('classifier', 'head', 'patch_embed', 'MVN', 'Softmax',
                'ScaledDotProductAttention')
NAMED_KEEP = ('classifier', 'head', 'patch_embed')
CONVOLUTIONS = ('Convolution', 'GroupConvolution')
DEFAULT_KEEP = ('head',)  # measured: the head convs hold most of the int8 label error


@dataclass
class Int8Report:
    """What quantize_to_int8 wrote and how close it is to the fp32 model."""

    path: str
    metadata: Dict[str, Any]
    agreement: float  # fraction of logits pixels whose argmax label matches fp32, in [0, 1]
    cosine: float  # mean over frames of the cosine of flattened int8 vs fp32 logits
    min_cosine: float
    ignored: List[str] = field(default_factory=list)  # node names kept precise

    def __str__(self) -> str:
        """One-line summary."""
        return (f'int8 vs fp32: label agreement {self.agreement:.4f}, logits cosine '
                f'{self.cosine:.4f} (min {self.min_cosine:.4f})')


def classifier_convs(model: Any) -> List[str]:
    """Names of the Convolution nodes producing each output (through Add/Convert nodes)."""
    names = []
    for result in model.get_results():
        node = result.input_value(0).get_node()
        while node.get_type_name() not in ('Convolution', 'Parameter'):
            node = node.input_value(0).get_node()
        if node.get_type_name() == 'Convolution':
            names.append(node.get_friendly_name())
    return names


def _fed_by_parameter(node: Any) -> bool:
    while node.get_type_name() in ('Convert', 'Reshape', 'Multiply', 'Add', 'Subtract'):
        node = node.input_value(0).get_node()
    return node.get_type_name() == 'Parameter'


def convolutions(model: Any) -> Tuple[List[str], List[str]]:
    """(patch embedding, head) convolution names: the convs fed by the image, the rest."""
    patch, head = [], []
    for op in model.get_ordered_ops():
        if op.get_type_name() in CONVOLUTIONS:
            fed = _fed_by_parameter(op.input_value(0).get_node())
            (patch if fed else head).append(op.get_friendly_name())
    return patch, head


def ignored_scope(model: Any, keep: Sequence[str]) -> Tuple[Any, List[str]]:
    """nncf.IgnoredScope keeping keep (KEEP_CHOICES) in float -> (scope, node names)."""
    import nncf
    unknown = [k for k in keep if k not in KEEP_CHOICES]
    if unknown:
        raise ConfigError(f'int8 keep: {unknown} not in {", ".join(KEEP_CHOICES)}')
    patch, head = convolutions(model)
    names = classifier_convs(model) if 'classifier' in keep and 'head' not in keep else []
    names += (head if 'head' in keep else []) + (patch if 'patch_embed' in keep else [])
    types = [k for k in keep if k not in NAMED_KEEP]
    present = {op.get_type_name() for op in model.get_ops()}
    types = [t for t in types if t in present]  # NNCF rejects types absent from the graph
    kept = names + [op.get_friendly_name() for op in model.get_ops()
                    if op.get_type_name() in types]
    return nncf.IgnoredScope(names=names, types=types, validate=False), kept


def compile_model(model: Any, precision: str = 'f32', core: Optional[Any] = None) -> Any:
    """Compile an openvino.Model or IR path on the CPU with INFERENCE_PRECISION_HINT."""
    import openvino
    core = core or openvino.Core()
    return core.compile_model(model, 'CPU', {'INFERENCE_PRECISION_HINT': precision})


def run_frames(compiled: Any, frames: Sequence[np.ndarray]) -> List[np.ndarray]:
    """First output (N, K, h, w) of compiled for every (1, 3, H, W) frame."""
    request = compiled.create_infer_request()
    return [np.array(request.infer([f])[0], dtype=np.float32) for f in frames]


def agreement(reference: Sequence[np.ndarray], other: Sequence[np.ndarray]
              ) -> Tuple[float, float, float]:
    """(label agreement, mean cosine, min cosine) of logits lists of (N, K, h, w)."""
    same = total = 0
    cosines = []
    for a, b in zip(reference, other):
        same += int((a.argmax(1) == b.argmax(1)).sum())
        total += a.shape[0] * a.shape[2] * a.shape[3]
        a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
        cosines.append(float(a64 @ b64 / max(np.linalg.norm(a64) * np.linalg.norm(b64),
                                             1e-30)))
    if not total:
        raise ConfigError('int8: no frames to compare')
    return same / total, float(np.mean(cosines)), float(np.min(cosines))


def ms_per_frame(compiled: Any, frame: np.ndarray, frames: int = 10, warmup: int = 2) -> float:
    """Median milliseconds of one synchronous inference of frame."""
    request = compiled.create_infer_request()
    for _ in range(warmup):
        request.infer([frame])
    times = []
    for _ in range(frames):
        start = time.perf_counter()
        request.infer([frame])
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def quantize_to_int8(onnx_path: str, xml_path: str, calibration: Sequence[np.ndarray], *,
                     source: str = '', keep: Sequence[str] = DEFAULT_KEEP,
                     evaluation: Optional[Sequence[np.ndarray]] = None,
                     fast_bias_correction: bool = True) -> Int8Report:
    """Quantize the fused ONNX at onnx_path to an int8 IR at xml_path (+ .bin).

    calibration: (1, 3, H, W) float32 normalized frames at the export size; evaluation
    (default: calibration) are the frames agreement/cosine vs fp32 are measured on.
    """
    with quiet_conversion():  # torch's CUDA_HOME warning comes with nncf's import
        import nncf
    import openvino
    if not xml_path.endswith('.xml'):
        raise ConfigError(f'int8: output {xml_path!r} should end with .xml')
    if not os.path.isdir(os.path.dirname(os.path.abspath(xml_path))):
        raise ConfigError(f'int8: the directory of {xml_path!r} does not exist')
    frames = list(calibration)
    if not frames:
        raise ConfigError('int8: no calibration images')
    metadata = read_metadata(onnx_path)
    if metadata.get('kind') != 'fused':
        raise ConfigError(f'int8: {onnx_path!r} is a {metadata.get("kind")} model; '
                          'quantize a fused export')
    try:
        model = openvino.convert_model(onnx_path)
    except Exception as exc:  # noqa: BLE001 - converter failures vary
        raise ConfigError(f'int8: OpenVINO cannot convert {onnx_path!r}: '
                          f'{one_line(exc, 200)}') from None
    scope, kept = ignored_scope(model, keep)
    with quiet_conversion():  # no per-node NNCF INFO lines
        quantized = nncf.quantize(model, nncf.Dataset(frames), subset_size=len(frames),
                                  model_type=nncf.ModelType.TRANSFORMER, ignored_scope=scope,
                                  fast_bias_correction=fast_bias_correction)
    core = openvino.Core()
    evaluation = frames if evaluation is None else list(evaluation)
    reference = run_frames(compile_model(model, 'f32', core), evaluation)
    result = run_frames(compile_model(quantized, 'f32', core), evaluation)
    agree, cosine, low = agreement(reference, result)
    metadata = dict(metadata, precision='int8', keep_precise=list(keep),
                    calibration={'count': len(frames), 'source': source or 'frames'})
    set_ir_metadata(quantized, metadata)
    openvino.save_model(quantized, xml_path, compress_to_fp16=False)
    LOGGER.info('int8: kept %d nodes precise', len(kept))
    return Int8Report(xml_path, metadata, agree, cosine, low, kept)


def remove_failed_export(onnx_path: str) -> None:
    """Delete the .onnx (and .onnx.data) of an --int8 export that failed, and its IR.

    The .xml/.bin go only when written after the .onnx (by this export, not an earlier one).
    """
    stem = os.path.splitext(onnx_path)[0]
    since = os.path.getmtime(onnx_path) if os.path.exists(onnx_path) else 0.0
    doomed = [onnx_path, onnx_path + '.data']
    doomed += [p for p in (stem + '.xml', stem + '.bin')
               if os.path.exists(p) and os.path.getmtime(p) >= since]
    for path in doomed:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
