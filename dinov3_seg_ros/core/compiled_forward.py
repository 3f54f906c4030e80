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

"""Opt-in torch.compile of a module's forward, falling back to eager on any failure.

The module object itself stays as it is (attributes such as a backbone's spec, mean and std
and its other methods keep working): only its forward is replaced by a compiled one, an
instance attribute that eager_forward removes again. Compilation happens on the first call,
so compile_now runs one call and reports how long it took.
"""

import logging
import time
from typing import Optional

import torch
from torch import nn

LOGGER = logging.getLogger(__name__)


def _warn(exc: BaseException) -> None:
    reason = (str(exc).strip().splitlines() or [''])[0][:200]
    LOGGER.warning('torch.compile failed (%s: %s); running the backbone eagerly',
                   type(exc).__name__, reason)


def compile_forward(module: nn.Module) -> bool:
    """Replace module.forward by torch.compile(module.forward); False (one warning) on failure."""
    try:
        compiled = torch.compile(module.forward)
    except Exception as exc:  # noqa: BLE001 - unsupported platform or Python: stay eager
        _warn(exc)
        return False
    module.forward = compiled
    return True


def eager_forward(module: nn.Module) -> None:
    """Undo compile_forward: the class's eager forward runs again."""
    module.__dict__.pop('forward', None)


def compile_now(module: nn.Module, x: torch.Tensor) -> Optional[float]:
    """Call module on x once to compile it; seconds taken, or None after falling back to eager.

    Any exception of the compiler (no C++ compiler, unsupported operator, ...) is logged as
    one warning and the module runs eagerly from then on.
    """
    started = time.perf_counter()
    try:
        module(x)
    except Exception as exc:  # noqa: BLE001 - compiler errors have no common base class
        eager_forward(module)
        _warn(exc)
        return None
    seconds = time.perf_counter() - started
    LOGGER.info('backbone compiled with torch.compile in %.1f s', seconds)
    return seconds
