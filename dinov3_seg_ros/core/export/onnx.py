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

"""ONNX export of the fused model (backbone + heads) and of a head alone.

Fused model: input 'image' (N, 3, H, W) float32 normalized -> 'logits' (one head) or
'logits_0'..'logits_{n-1}', each (N, K_i, H/16, W/16). Head model: 'features' (N, C, h, w)
-> 'logits' (N, K, h, w). Both carry their description (export.metadata) and pass
onnx.checker.

Dynamic H/W: export swaps in a traceable RoPE (onnx_rope) and verifies the model at a
second size; if that fails, it is exported for the fixed traced size and the metadata
says so.
"""

from contextlib import contextmanager
import copy
from dataclasses import dataclass, field
import logging
import os
import shutil
import tempfile
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple
import warnings

import numpy as np
import torch
from torch import nn

from ..backbone import Backbone, check_heads_data, PATCH_SIZE
from ..checkpoint import HeadCheckpoint
from ..errors import CheckpointError, ConfigError, one_line
from ..preprocess import round_to_patch
from .metadata import build_metadata, write_metadata
from .parity import compare_outputs, reference_outputs
from .rope import traceable_rope

LOGGER = logging.getLogger(__name__)
DEFAULT_OPSET = 18
EXPORTERS = ('auto', 'dynamo', 'legacy')
EXTERNAL_DATA_BYTES = 1_800_000_000  # protobuf's limit is 2 GiB: larger models split weights


class FusedModel(nn.Module):
    """Backbone + heads in one graph: (N, 3, H, W) -> tuple of (N, K_i, H/16, W/16) logits."""

    def __init__(self, backbone: Backbone, heads: Sequence[nn.Module]) -> None:
        super().__init__()
        self.backbone = backbone
        self.heads = nn.ModuleList(heads)

    def forward(self, image: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(N, 3, H, W) normalized image -> one (N, K_i, H/16, W/16) tensor per head."""
        features = self.backbone(image)
        return tuple(head(features) for head in self.heads)


@dataclass
class ExportResult:
    """What export_fused / export_head wrote."""

    path: str
    metadata: Dict[str, Any]
    exporter: str
    dynamic: bool
    failures: List[str] = field(default_factory=list)  # why dynamic export failed, if it did


def prepare_heads(heads: Sequence[HeadCheckpoint], fuse_bn: bool = True) -> List[nn.Module]:
    """Head modules in eval mode, BatchNorm folded into the convolutions when fuse_bn."""
    modules = []
    for checkpoint in heads:
        module = checkpoint.build()
        if fuse_bn and hasattr(module, 'fuse_batchnorm'):
            module = copy.deepcopy(module).fuse_batchnorm()
        modules.append(module.eval())
    return modules


def _output_names(count: int) -> List[str]:
    return ['logits'] if count == 1 else [f'logits_{i}' for i in range(count)]


def _one_line(exc: BaseException) -> str:
    return f'{type(exc).__name__}: {one_line(exc, 240)}'


@contextmanager
def _quiet_exporters() -> Iterator[None]:
    """Silence the exporters' warnings and their INFO chatter (onnxscript, onnx_ir)."""
    loggers = [logging.getLogger(n) for n in ('onnxscript', 'onnx_ir', 'torch.onnx',
                                              'torch.export', 'torch._dynamo')]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.getEffectiveLevel(), logging.WARNING))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@contextmanager
def _staged(path: str) -> Iterator[str]:
    """Write into a temporary directory beside path; move the file(s) over path on success.

    A failed export leaves an existing model untouched; external weight files keep the
    names the exporter derived from the final basename.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ConfigError(f'output directory does not exist: {directory!r}')
    staging = tempfile.mkdtemp(prefix='.onnx-export-', dir=directory)
    try:
        yield os.path.join(staging, os.path.basename(path))
        for name in os.listdir(staging):
            os.replace(os.path.join(staging, name), os.path.join(directory, name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _torch_export(module: nn.Module, sample: torch.Tensor, path: str, input_name: str,
                  output_names: List[str], opset: int, exporter: str, dynamic: bool) -> None:
    """One torch.onnx.export call; dynamic makes N and the spatial dims symbolic."""
    external = sum(p.numel() * p.element_size() for p in module.parameters())
    external = external > EXTERNAL_DATA_BYTES
    with _quiet_exporters():
        if exporter == 'dynamo':
            shapes = None
            if dynamic:
                if input_name == 'image':  # H, W multiples of the patch size
                    spatial = {2: PATCH_SIZE * torch.export.Dim('rows', min=1, max=512),
                               3: PATCH_SIZE * torch.export.Dim('cols', min=1, max=512)}
                else:
                    spatial = {2: torch.export.Dim('h', min=1, max=4096),
                               3: torch.export.Dim('w', min=1, max=4096)}
                shapes = ({0: torch.export.Dim('batch', min=1, max=256), **spatial},)
                sample = sample.expand(2, *sample.shape[1:]).contiguous()  # 1 specializes
            torch.onnx.export(module, (sample,), path, dynamo=True, input_names=[input_name],
                              output_names=output_names, dynamic_shapes=shapes,
                              opset_version=opset, external_data=external, verbose=False)
        else:
            axes = None
            if dynamic:
                axes = {input_name: {0: 'batch', 2: 'height', 3: 'width'}}
                axes.update({n: {0: 'batch', 2: 'rows', 3: 'cols'} for n in output_names})
            torch.onnx.export(module, (sample,), path, dynamo=False, input_names=[input_name],
                              output_names=output_names, dynamic_axes=axes,
                              opset_version=opset, do_constant_folding=True)


def _verify(path: str, module: nn.Module, x: torch.Tensor) -> Optional[str]:
    """None if the exported file (no metadata yet) matches module on x, else the reason."""
    from ..backends.ort_session import open_session
    expected = reference_outputs(module, x)
    tolerance = 1e-4 * max(float(np.abs(o).max()) for o in expected) + 1e-6
    try:
        session = open_session(path, 'cpu')
        report = compare_outputs(session.run(None, {session.get_inputs()[0].name: x.numpy()}),
                                 expected)
    except Exception as exc:  # noqa: BLE001 - any failure makes this export unusable
        return _one_line(exc)
    if report.max_abs_diff > tolerance:  # ORT vs torch ~1e-6 relative; a frozen RoPE ~1e-3
        return f'at {tuple(x.shape[2:])}: {report}'
    return None


def _export(module: nn.Module, sample: torch.Tensor, probe: torch.Tensor, path: str,
            input_name: str, outputs: List[str], opset: int, exporter: str,
            dynamic: bool, failures: List[str]) -> Tuple[str, bool]:
    """Export trying exporters in turn, dynamic first (checked on probe), then fixed.

    Returns (exporter used, dynamic); appends the reasons dynamic exports failed to failures.
    """
    exporters = ['dynamo', 'legacy'] if exporter == 'auto' else [exporter]
    for name in exporters if dynamic else []:
        try:
            _torch_export(module, sample, path, input_name, outputs, opset, name, True)
        except Exception as exc:  # noqa: BLE001 - exporter limits vary between versions
            failures.append(f'{name}: {_one_line(exc)}')
            continue
        reason = _verify(path, module, probe)
        if reason is None:
            return name, True
        failures.append(f'{name}: wrong results {reason}')
    errors = []
    for name in exporters:
        try:
            _torch_export(module, sample, path, input_name, outputs, opset, name, False)
            return name, False
        except Exception as exc:  # noqa: BLE001
            errors.append(f'{name}: {_one_line(exc)}')
    raise ConfigError(f'ONNX export of {path!r} failed: {"; ".join(errors)}')


def _finish(path: str, metadata: Dict[str, Any], doc: str) -> None:
    import onnx
    write_metadata(path, metadata, doc)
    onnx.checker.check_model(path)


def _check_args(exporter: str, opset: int) -> None:
    if exporter not in EXPORTERS:
        raise ConfigError(f'exporter: {exporter!r} is not one of {", ".join(EXPORTERS)}')
    if opset < 17:
        raise ConfigError(f'opset: {opset} is too old; use 17 or newer')


def export_fused(backbone: Backbone, heads: Sequence[HeadCheckpoint], path: str, *,
                 head_names: Optional[Sequence[str]] = None, size: Sequence[int] = (480, 640),
                 input_size: str = '', opset: int = DEFAULT_OPSET, dynamic: bool = True,
                 exporter: str = 'auto', fuse_bn: bool = True) -> ExportResult:
    """Export backbone + heads as one ONNX graph; size (H, W) is the traced (or fixed) size.

    input_size is the preprocessing size recorded in the metadata (ModelConfig syntax,
    default the traced 'WxH'); a fixed graph always records its 'WxH'.
    """
    _check_args(exporter, opset)
    if not heads:
        raise ConfigError('export: at least one head is needed')
    names = list(head_names) if head_names else [f'head{i}' for i in range(len(heads))]
    if len(names) != len(heads):
        raise ConfigError(f'export: {len(names)} head names for {len(heads)} heads')
    for name, checkpoint in zip(names, heads):
        if checkpoint.backbone and checkpoint.backbone != backbone.spec.name:
            LOGGER.warning('head %r was trained on %s, exported with %s', name,
                           checkpoint.backbone, backbone.spec.name)
        if checkpoint.head.in_channels != backbone.embed_dim:
            raise CheckpointError(f'head {name!r} expects {checkpoint.head.in_channels} '
                                  f'channels but {backbone.spec.name} gives '
                                  f'{backbone.embed_dim}')
    check_heads_data(heads, names, backbone)  # SAT-493M heads on SAT features only
    size = (round_to_patch(size[0]), round_to_patch(size[1]))  # the preprocessing's rounding
    model = FusedModel(backbone, prepare_heads(heads, fuse_bn)).eval()
    rows, cols = size[0] // PATCH_SIZE, size[1] // PATCH_SIZE
    probe = torch.randn(1, 3, PATCH_SIZE * (3 if rows != 3 else 4),
                        PATCH_SIZE * (5 if cols != 5 else 6),
                        generator=torch.Generator().manual_seed(0))
    outputs, failures = _output_names(len(heads)), []
    with _staged(path) as staged, traceable_rope(backbone) as patched:
        if dynamic and not patched:
            failures.append("timm's DINOv3 RoPE is not the expected module")
        used, is_dynamic = _export(model, torch.zeros(1, 3, *size), probe, staged, 'image',
                                   outputs, opset, exporter, dynamic and patched, failures)
        if dynamic and not is_dynamic:
            LOGGER.warning('dynamic H/W export failed (%s): exported for a FIXED %dx%d (WxH) '
                           'input; frames must be resized to exactly that size',
                           '; '.join(failures), size[1], size[0])
        recorded = (input_size or f'{size[1]}x{size[0]}') if is_dynamic else \
            f'{size[1]}x{size[0]}'
        metadata = build_metadata('fused', backbone, heads, names, recorded, is_dynamic, size,
                                  exporter=used, opset=opset, outputs=outputs)
        _finish(staged, metadata, f'dinov3_seg_ros: {backbone.spec.name} + {len(heads)} '
                                  'head(s), image -> logits')
    return ExportResult(path, metadata, used, is_dynamic, failures)


def export_head(checkpoint: HeadCheckpoint, path: str, *, head_name: str = 'head0',
                backbone: Optional[Backbone] = None, grid: Sequence[int] = (30, 40),
                opset: int = DEFAULT_OPSET, exporter: str = 'auto',
                fuse_bn: bool = True) -> ExportResult:
    """Export one head: 'features' (N, C, h, w) -> 'logits' (N, K, h, w), dynamic N, h, w.

    backbone (optional, may live on the meta device) only fills the metadata: its name,
    mean and std.
    """
    _check_args(exporter, opset)
    module = prepare_heads([checkpoint], fuse_bn)[0]
    channels = checkpoint.head.in_channels
    probe = torch.randn(1, channels, grid[0] + 3, grid[1] + 1,
                        generator=torch.Generator().manual_seed(0))
    failures: List[str] = []
    with _staged(path) as staged:
        used, is_dynamic = _export(module, torch.zeros(1, channels, *grid), probe, staged,
                                   'features', ['logits'], opset, exporter, True, failures)
        if not is_dynamic:
            LOGGER.warning('dynamic head export failed (%s): fixed to a %dx%d feature grid',
                           '; '.join(failures), grid[1], grid[0])
        metadata = build_metadata('head', backbone, [checkpoint], [head_name],
                                  checkpoint.input_size, is_dynamic,
                                  [g * PATCH_SIZE for g in grid], exporter=used, opset=opset,
                                  outputs=['logits'], in_channels=channels)
        _finish(staged, metadata, f'dinov3_seg_ros: head {head_name!r}, features -> logits')
    return ExportResult(path, metadata, used, is_dynamic, failures)
