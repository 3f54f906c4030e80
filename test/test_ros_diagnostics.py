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

"""Tests of the diagnostics window statistics and DiagnosticStatus building."""

import math

from diagnostic_msgs.msg import DiagnosticStatus
from dinov3_seg_ros.ros.diagnostics import build_status, WindowStats


def test_window_stats_rates_latency_and_reset():
    now = [100.0]
    stats = WindowStats(clock=lambda: now[0])
    for _ in range(20):
        stats.count('input')
    for _ in range(5):
        stats.count('dropped')
    stats.count('malformed')
    stats.count_output(0.1, 0.05)
    stats.count_output(0.3, 0.07)
    stats.count_output(None, 0.06)
    now[0] = 102.0
    report = stats.report()
    assert report.period_s == 2.0
    assert (report.input_hz, report.output_hz) == (10.0, 1.5)
    assert math.isclose(report.latency_mean_ms, 200.0)
    assert math.isclose(report.latency_max_ms, 300.0)
    assert math.isclose(report.processing_mean_ms, 60.0)
    assert (report.dropped, report.malformed) == (5, 1)
    now[0] = 103.0
    stats.count('input')
    second = stats.report()
    assert (second.input_hz, second.output_hz, second.dropped) == (1.0, 0.0, 0)
    assert math.isnan(second.latency_mean_ms)
    assert (second.total_input, second.total_output, second.total_dropped) == (21, 3, 5)


def test_status_warns_for_untrained_weights_and_malformed_input():
    now = [0.0]
    stats = WindowStats(clock=lambda: now[0])
    stats.count('input')
    stats.count_output(0.02, 0.01)
    now[0] = 1.0
    info = {'device': 'cpu', 'backbone': 'vits16', 'backend': 'torch'}
    status = build_status(stats.report(), 'seg', 'cpu', info, untrained=False, enabled=True)
    values = {kv.key: kv.value for kv in status.values}
    assert status.level == DiagnosticStatus.OK
    assert values['input_rate_hz'] == '1.00' and values['latency_mean_ms'] == '20.0'
    assert values['device'] == 'cpu' and values['untrained'] == 'false'
    stats.count('malformed')
    now[0] = 2.0
    status = build_status(stats.report(), 'seg', 'cpu', info, untrained=True, enabled=True)
    assert status.level == DiagnosticStatus.WARN
    assert 'UNTRAINED' in status.message and '1 malformed' in status.message


def test_frames_ignored_while_disabled_are_reported():
    now = [0.0]
    stats = WindowStats(clock=lambda: now[0])
    for _ in range(3):
        stats.count('input')
        stats.count('ignored')  # what the runtime counts while 'enabled' is false
    now[0] = 1.0
    status = build_status(stats.report(), 'seg', 'cpu', {}, untrained=False, enabled=False)
    values = {kv.key: kv.value for kv in status.values}
    assert (values['ignored_frames'], values['ignored_frames_total']) == ('3', '3')
    assert status.message.startswith('disabled')
    now[0] = 2.0
    second = stats.report()
    assert (second.ignored, second.total_ignored) == (0, 3)
