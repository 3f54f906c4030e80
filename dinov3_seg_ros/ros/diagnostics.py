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

"""Rate, latency and drop statistics over a reporting window, and their DiagnosticStatus."""

from dataclasses import dataclass
import math
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

from ..core.nonfinite import nonfinite_maps


@dataclass(frozen=True)
class WindowReport:
    """What happened since the previous report (rates in Hz, times in ms; nan = no sample)."""

    period_s: float
    input_hz: float
    output_hz: float
    latency_mean_ms: float
    latency_max_ms: float
    processing_mean_ms: float
    dropped: int
    malformed: int
    total_input: int
    total_output: int
    total_dropped: int
    total_malformed: int
    failed: int = 0
    total_failed: int = 0
    last_failure: str = ''
    failing: bool = False
    ignored: int = 0  # frames that arrived while 'enabled' was false
    total_ignored: int = 0


class WindowStats:
    """Thread-safe counters: the callback counts inputs/drops/malformed, the worker outputs.

    A failed frame (count_failure) keeps its reason as the last failure; the camera counts
    as failing from then until its next published frame.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._totals = {'input': 0, 'output': 0, 'dropped': 0, 'malformed': 0, 'failed': 0,
                        'ignored': 0}
        self._start = clock()
        self._window = dict(self._totals)
        self._latencies: List[float] = []
        self._processing: List[float] = []
        self._last_failure = ''
        self._failing = False

    def count(self, event: str) -> None:
        """Count one 'input', 'dropped', 'malformed' or 'ignored' (not enabled) event."""
        with self._lock:
            self._window[event] += 1
            self._totals[event] += 1

    def count_failure(self, reason: str) -> None:
        """Count a frame that could not be segmented or published, and why."""
        with self._lock:
            self._window['failed'] += 1
            self._totals['failed'] += 1
            self._last_failure, self._failing = reason, True

    def count_output(self, latency_s: Optional[float], processing_s: float) -> None:
        """Count a published frame: stamp-to-publish latency (None if unstamped), work time."""
        with self._lock:
            self._window['output'] += 1
            self._totals['output'] += 1
            self._failing = False
            if latency_s is not None:
                self._latencies.append(latency_s)
            self._processing.append(processing_s)

    def report(self) -> WindowReport:
        """Summarize the window since the last report and start a new one."""
        with self._lock:
            now = self._clock()
            period = max(now - self._start, 1e-9)
            window, totals = self._window, dict(self._totals)
            latencies, processing = self._latencies, self._processing
            failing = self._failing
            self._start, self._window = now, dict.fromkeys(self._window, 0)
            self._latencies, self._processing = [], []
        return WindowReport(
            period_s=period, input_hz=window['input'] / period,
            output_hz=window['output'] / period,
            latency_mean_ms=_mean(latencies) * 1e3,
            latency_max_ms=max(latencies) * 1e3 if latencies else math.nan,
            processing_mean_ms=_mean(processing) * 1e3,
            dropped=window['dropped'], malformed=window['malformed'],
            total_input=totals['input'], total_output=totals['output'],
            total_dropped=totals['dropped'], total_malformed=totals['malformed'],
            failed=window['failed'], total_failed=totals['failed'],
            last_failure=self._last_failure, failing=failing,
            ignored=window['ignored'], total_ignored=totals['ignored'])


def node_values(seg: Any, input_transport: str, active: bool, cameras: Sequence[str],
                batch_sizes: Sequence[int]) -> Dict[str, str]:
    """Diagnostics values every camera of a node shares: model, transport, batches.

    nonfinite_logit_maps_total counts the head outputs with NaN/inf in this process.
    """
    values = {'device': str(seg.device), 'backbone': seg.backbone_name,
              'backend': seg.backend, 'precision': str(seg.precision),
              'precision_reason': seg.precision_reason,
              'num_classes': str(seg.num_classes), 'heads': ','.join(seg.head_names),
              'input_transport': input_transport, 'active': str(active).lower(),
              'nonfinite_logit_maps_total': str(nonfinite_maps())}
    if cameras:
        sizes = list(batch_sizes)
        values.update(cameras=','.join(cameras),
                      batch_size_mean=f'{sum(sizes) / len(sizes):.2f}' if sizes else 'nan',
                      batch_size_max=str(max(sizes, default=0)))
    return values


def stamp_latency_s(stamp: Any, now_ns: int) -> Optional[float]:
    """Seconds from a header stamp to now_ns; None if unstamped or invalid (sec < 0)."""
    if stamp.sec < 0 or not 0 <= stamp.nanosec < 1_000_000_000:
        return None  # rclpy's Time.from_msg raises on it: no latency for this frame
    nanoseconds = stamp.sec * 1_000_000_000 + stamp.nanosec
    return None if nanoseconds == 0 else (now_ns - nanoseconds) * 1e-9


def _mean(values: List[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def build_status(report: WindowReport, name: str, hardware_id: str, info: Dict[str, str],
                 untrained: bool, enabled: bool, problems: Sequence[str] = (),
                 notes: Sequence[str] = ()) -> DiagnosticStatus:
    """Build the DiagnosticStatus of one window: WARN for untrained weights or bad input.

    Failed frames: ERROR while the camera is failing (no frame published since its last
    failure), WARN for a window with failures that recovered; the message then ends with the
    last reason. problems (WARN) and notes (level unchanged) are appended to the message.
    """
    problems = list(problems)
    if report.failed or report.failing:
        problems.append(f'{report.failed} frame(s) failed (last: {report.last_failure})')
    if untrained:
        problems.append('UNTRAINED weights (random init): labels are meaningless')
    if report.malformed:
        problems.append(f'{report.malformed} malformed image(s) skipped')
    if not enabled:
        state = 'disabled'
    elif report.total_input == 0:
        state = 'waiting for images'
    else:
        state = f'{report.output_hz:.1f} Hz out'
    values = {
        'input_rate_hz': f'{report.input_hz:.2f}',
        'output_rate_hz': f'{report.output_hz:.2f}',
        'latency_mean_ms': f'{report.latency_mean_ms:.1f}',
        'latency_max_ms': f'{report.latency_max_ms:.1f}',
        'processing_mean_ms': f'{report.processing_mean_ms:.1f}',
        'dropped_frames': str(report.dropped),
        'dropped_frames_total': str(report.total_dropped),
        'malformed_messages': str(report.malformed),
        'malformed_messages_total': str(report.total_malformed),
        'failed': str(report.failed),
        'failed_total': str(report.total_failed),
        'last_failure': report.last_failure,
        'ignored_frames': str(report.ignored),
        'ignored_frames_total': str(report.total_ignored),
        'frames_in_total': str(report.total_input),
        'frames_out_total': str(report.total_output),
        'window_s': f'{report.period_s:.2f}',
        'untrained': str(bool(untrained)).lower(),
        'enabled': str(bool(enabled)).lower(),
    }
    values.update(info)
    level = DiagnosticStatus.WARN if problems else DiagnosticStatus.OK
    if report.failing and enabled:
        level = DiagnosticStatus.ERROR
    return DiagnosticStatus(
        level=level, name=name,
        hardware_id=hardware_id, message='; '.join([state] + problems + list(notes)),
        values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
