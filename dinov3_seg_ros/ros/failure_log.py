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

"""FailureLog: a camera's failed or malformed frames, counted and logged per camera.

Every failure is counted in the camera's WindowStats (so /diagnostics shows it); the log
gets one line per camera and kind every THROTTLE_S seconds at most, naming the camera and
saying how many similar lines were left out since. Throttling by camera (not by call site,
as rclpy's throttle_duration_sec does) keeps one failing camera from hiding another.
"""

import threading
import time
from typing import Any, Callable, Dict, Tuple

THROTTLE_S = 5.0


def camera_label(name: str, input_topic: str) -> str:
    """How log lines name a camera: "camera 'front' (/front/image)" or "camera /image"."""
    return f"camera '{name}' ({input_topic})" if name else f'camera {input_topic}'


def describe_error(exc: BaseException) -> str:
    """One line: 'TypeName: message' (first line of the message only)."""
    text = str(exc).strip().splitlines()
    return f'{type(exc).__name__}: {text[0]}' if text else type(exc).__name__


class FailureLog:
    """Count and log (throttled per camera) the frames a node could not use."""

    def __init__(self, logger: Any, throttle_s: float = THROTTLE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger, self._throttle_s, self._clock = logger, throttle_s, clock
        self._lock = threading.Lock()
        self._last: Dict[Tuple[str, str], float] = {}
        self._left_out: Dict[Tuple[str, str], int] = {}

    def failed(self, channel: Any, stage: str, exc: BaseException) -> None:
        """Count a failed frame of channel (a CameraChannel) and log it as an error."""
        reason = f'{stage}: {describe_error(exc)}'
        channel.stats.count_failure(reason)
        self._log(channel, 'failed', f'frame failed in {reason}', self._logger.error)

    def malformed(self, channel: Any, exc: BaseException) -> None:
        """Count a skipped (malformed) frame of channel and log it as a warning."""
        channel.stats.count('malformed')
        self._log(channel, 'malformed', f'skipping malformed image: {exc}',
                  self._logger.warning)

    def _log(self, channel: Any, kind: str, text: str, emit: Callable[[str], None]) -> None:
        key = (channel.name, kind)
        with self._lock:
            now = self._clock()
            last = self._last.get(key)
            if last is not None and now - last < self._throttle_s:
                self._left_out[key] = self._left_out.get(key, 0) + 1
                return
            self._last[key] = now
            left_out = self._left_out.pop(key, 0)
        more = f' ({left_out} more since the last message)' if left_out else ''
        emit(f'{camera_label(channel.name, channel.input_topic)}: {text}{more}')
