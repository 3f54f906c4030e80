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

"""Configuration dataclasses shared by the CLIs, the ROS node and training."""

from dataclasses import dataclass, field
import re
from typing import NamedTuple, Tuple, Union

from .backends.selection import ENGINES
from .errors import ConfigError
from .normalization import NORMALIZATIONS

DEVICES = ('auto', 'cpu', 'cuda')
DTYPES = ('auto', 'float32', 'float16', 'bfloat16')
BACKENDS = ('auto',) + tuple(ENGINES)  # the registered engines (backends.selection)
DEFAULT_LONG_SIDE = 640
_WXH = re.compile(r'\s*(\d+)\s*[xX]\s*(\d+)\s*')


class FrameSize(NamedTuple):
    """A size in pixels, written W x H on the command line ('640x480' = width 640, height 480).

    The one size parser of the package: arrays are (H, W), so index by name, not position.
    """

    width: int
    height: int

    @classmethod
    def parse(cls, text: str, option: str = 'size') -> 'FrameSize':
        """Parse 'WxH' (x or X, spaces allowed); raises ConfigError naming option otherwise.

        option '' leaves the name out (for an argparse type, which adds it itself).
        """
        match = _WXH.fullmatch(str(text))
        where = f'{option}: ' if option else ''
        if not match:
            raise ConfigError(f'{where}expected WxH like 640x480, got {text!r}')
        if min(int(match.group(1)), int(match.group(2))) < 1:
            raise ConfigError(f'{where}size must be positive, got {text!r}')
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f'{self.width}x{self.height}'


@dataclass(frozen=True)
class InputSize:
    """How a frame is resized before the backbone.

    mode is 'long' (aspect-preserving, long side = value, both sides multiples of the patch),
    'fixed' (exactly width x height) or 'native' (no resize; sides must be patch multiples,
    otherwise they are rounded to the nearest multiple).
    """

    mode: str = 'long'
    long_side: int = DEFAULT_LONG_SIDE
    width: int = 0
    height: int = 0

    @classmethod
    def parse(cls, text: Union[str, int, 'InputSize']) -> 'InputSize':
        """Parse 'native', '640' (long side) or '640x480' (fixed WxH)."""
        if isinstance(text, InputSize):
            return text
        value = str(text).strip().lower()
        if value == 'native':
            return cls(mode='native')
        if re.fullmatch(r'\d+', value):
            long_side = int(value)
            if not 16 <= long_side <= 8192:
                raise ConfigError(f'input_size: long side {long_side} outside [16, 8192]')
            return cls(mode='long', long_side=long_side)
        match = _WXH.fullmatch(value)
        if match:
            width, height = int(match.group(1)), int(match.group(2))
            if not (16 <= width <= 8192 and 16 <= height <= 8192):
                raise ConfigError(f'input_size: {width}x{height} outside [16, 8192]')
            return cls(mode='fixed', width=width, height=height)
        raise ConfigError(
            f"input_size: expected 'native', a long side like '640' or 'WxH', got {text!r}")

    def __str__(self) -> str:
        if self.mode == 'native':
            return 'native'
        if self.mode == 'long':
            return str(self.long_side)
        return f'{self.width}x{self.height}'


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build a segmenter; the node and the CLIs fill it.

    head_weights lists one or more head checkpoints; every head consumes the same
    backbone pass. An empty backbone_weights or head_weights means random weights
    (a loud warning, and the outputs are marked untrained), drawn from seed: infer, export,
    bench and eval build the same model from the same seed (train: run.seed).

    compile (torch backend only) wraps the backbone's forward with torch.compile: about 19%
    faster on the CPU (631 vs 783 ms for vits16plus at 640x480 on 2 cores) at the cost of
    25-35 s of compilation at start-up (about 6 s with a warm cache), for the warm-up frame's
    input shape (a fixed input_size, or 4:3 frames at the long side), and more when frames of
    another shape arrive; without a working compiler it warns once and runs eagerly.

    backend: auto (backends.selection: torch on CUDA, else openvino when installed, else
    torch), torch, onnxruntime or openvino; onnx_model: a fused .onnx (onnxruntime,
    openvino) or an OpenVINO IR .xml; threads: CPU threads of onnxruntime/openvino (0: the
    physical cores); openvino_cache_dir: OpenVINO's compiled-blob cache (default: under
    cache_dir); cache_dir: the model cache (backends.model_cache: '' = the default
    $XDG_CACHE_HOME/dinov3_seg_ros, 'none' = off).

    input_size '' (or None) means not given: input_size_given is then False and the
    Segmenter uses the first head checkpoint's own training size when it records one (else
    the default 640).
    normalization: the input mean/std of the pretraining data: auto (from the backbone
    weights file, else the head checkpoint), lvd (LVD-1689M) or sat (SAT-493M).
    """

    backbone: str = 'vits16plus'
    backbone_weights: str = ''
    head_weights: Tuple[str, ...] = field(default_factory=tuple)
    classes_file: str = ''
    input_size: InputSize = field(default_factory=InputSize)
    device: str = 'auto'
    dtype: str = 'auto'
    backend: str = 'auto'
    onnx_model: str = ''
    threads: int = 0
    openvino_cache_dir: str = ''
    cache_dir: str = ''
    warmup: int = 1
    compile: bool = False
    seed: int = 0
    input_size_given: bool = True
    normalization: str = 'auto'

    def __post_init__(self) -> None:
        if isinstance(self.head_weights, str):
            heads = (self.head_weights,) if self.head_weights else ()
            object.__setattr__(self, 'head_weights', heads)
        else:
            object.__setattr__(self, 'head_weights', tuple(h for h in self.head_weights if h))
        if self.input_size in ('', None):  # not given: a trained head's own size, else 640
            object.__setattr__(self, 'input_size', InputSize())
            object.__setattr__(self, 'input_size_given', False)
        object.__setattr__(self, 'input_size', InputSize.parse(self.input_size))
        for key, value, allowed in (('device', self.device, DEVICES),
                                    ('dtype', self.dtype, DTYPES),
                                    ('backend', self.backend, BACKENDS),
                                    ('normalization', self.normalization, NORMALIZATIONS)):
            if value not in allowed:
                raise ConfigError(f'{key}: {value!r} is not one of {", ".join(allowed)}')
        if self.backend == 'onnxruntime' and not self.onnx_model:
            raise ConfigError('onnx_model: the onnxruntime backend needs a fused .onnx file '
                              '(write one with dinov3-seg-export)')
        if self.backend == 'torch' and self.onnx_model:
            raise ConfigError(f'onnx_model: backend torch never reads {self.onnx_model!r} (it '
                              'builds the model from backbone_weights/head_weights): set '
                              'backend onnxruntime, openvino or auto, or drop onnx_model')
        if self.backend == 'onnxruntime' and self.onnx_model.lower().endswith('.xml'):
            raise ConfigError('onnx_model: an OpenVINO .xml needs backend openvino or auto')
        if self.threads < 0:
            raise ConfigError('threads: must be >= 0')
        if self.warmup < 0:
            raise ConfigError('warmup: must be >= 0')
        if not isinstance(self.compile, bool):
            raise ConfigError(f'compile: expected true or false, got {self.compile!r}')
