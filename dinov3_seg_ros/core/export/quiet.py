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
"""quiet_conversion(): no third-party noise while a model is traced, converted or quantized.

Silences torch.jit's TracerWarning and the FutureWarning/DeprecationWarning blocks of the
tracers and exporters, torch's 'No CUDA runtime is found, using CUDA_HOME' warning, and
NNCF's INFO lines (e.g. ~45 'Not adding activation input quantizer'); warnings and errors
of NNCF still show, and its progress bars unless INFO is logged (-v). Import nncf before
entering: its import resets its logger to INFO.
"""

import contextlib
import logging
import sys
from typing import Any, Callable, Iterator
import warnings

NOISY_LOGGERS = {'nncf': logging.WARNING, 'torch.utils.cpp_extension': logging.ERROR}
NOISY_MESSAGES = ('No CUDA runtime is found', '.*CUDA_HOME')


@contextlib.contextmanager
def quiet_conversion() -> Iterator[None]:
    """Context: the filters above, restored on exit."""
    loggers = [logging.getLogger(name) for name in NOISY_LOGGERS]
    quiet_levels = list(NOISY_LOGGERS.values())
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        for category in (FutureWarning, DeprecationWarning):
            warnings.filterwarnings('ignore', category=category)
        warnings.filterwarnings('ignore', module=r'torch\..*')
        warnings.filterwarnings('ignore', message=r'.*[Tt]racer')
        for message in NOISY_MESSAGES:
            warnings.filterwarnings('ignore', message=message)
        torch = sys.modules.get('torch')  # never imported here: only filtered when loaded
        if torch is not None:
            warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
        for logger, quiet in zip(loggers, quiet_levels):
            logger.setLevel(max(logger.level, quiet))
        restore = _hide_progress_bars()
        try:
            yield
        finally:
            restore()
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


def _hide_progress_bars() -> Callable[[], None]:
    """Disable NNCF's progress bars unless INFO is logged (-v); return the undo."""
    module = sys.modules.get('nncf.common.logging.track_progress')
    if module is None or logging.getLogger().getEffectiveLevel() <= logging.INFO:
        return lambda: None
    original = module.track.__init__

    def quiet_init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs['disable'] = True
        original(self, *args, **kwargs)
    module.track.__init__ = quiet_init

    def restore() -> None:
        module.track.__init__ = original
    return restore
