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

"""ROS benchmark report: the non-model share of a frame and the human-readable summary."""

import math
from typing import Dict

NON_MODEL_STAGES = ('deserialize', 'decode', 'preprocess', 'postprocess', 'overlay',
                    'encode_serialize')


def non_model_parts(stages: Dict[str, float], e2e: Dict[str, object]) -> Dict[str, float]:
    """Per-frame milliseconds outside backbone and head, and their total.

    DDS transport + scheduling = end-to-end latency - the node's own per-frame time (from
    /diagnostics); the other parts are the in-process stage medians.
    """
    parts = {key: stages[key] for key in NON_MODEL_STAGES if key in stages}
    transport = e2e['latency_ms']['mean'] - e2e['node_processing_ms']
    parts['total'] = sum(parts.values()) + (max(0.0, transport) if math.isfinite(transport)
                                            else 0.0)
    parts['transport_and_scheduling'] = transport  # noisy when a frame takes a few ms
    return parts


def non_model_share(stages: Dict[str, float], e2e: Dict[str, object],
                    parts: Dict[str, float]) -> float:
    """Non-model time in % of the backbone time, each ratio taken within one measurement.

    The machine's load differs between phases, so the in-process parts are divided by the
    in-process backbone, and the transport by the node's backbone share of its own frame time
    (node time x backbone / total of the in-process run).
    """
    in_process = sum(v for k, v in parts.items() if k in NON_MODEL_STAGES) / stages['backbone']
    node_backbone = e2e['node_processing_ms'] * stages['backbone'] / stages['segmenter_call']
    transport = parts['transport_and_scheduling']
    transport = max(0.0, transport) / node_backbone if math.isfinite(transport) else 0.0
    return 100.0 * (in_process + transport)


def add_non_model(report: Dict[str, object]) -> None:
    """Add non_model_ms and non_model_pct_of_backbone when stages and end to end ran."""
    if 'stages_ms' in report and 'end_to_end' in report:
        stages, e2e = report['stages_ms'], report['end_to_end']
        report['non_model_ms'] = parts = non_model_parts(stages, e2e)
        report['non_model_pct_of_backbone'] = non_model_share(stages, e2e, parts)


def summary(report: Dict[str, object]) -> str:
    """Human-readable lines for the main figures of a report."""
    lines = [f"dinov3-seg-ros-bench ({report.get('cpu', 'unknown CPU')}):"]
    for key in ('end_to_end', 'memory'):
        if key in report:
            phase = report[key]
            lines.append(f'  {key} at {phase["size"]} (input_size {phase["input_size"]}): '
                         f'latency mean {phase["latency_ms"]["mean"]:.0f} ms, p95 '
                         f'{phase["latency_ms"]["p95"]:.0f} ms, {phase["closed_loop_fps"]:.2f} '
                         f'fps, {phase["lost"]}/{phase["frames"]} lost')
    if 'non_model_ms' in report:
        lines.append(f'  non-model {report["non_model_ms"]["total"]:.1f} ms/frame = '
                     f'{report["non_model_pct_of_backbone"]:.1f} % of the backbone '
                     f'({report["stages_ms"]["backbone"]:.0f} ms), target <= 10 %')
    if 'memory' in report:
        rss = report['memory']['rss_kib']
        lines.append(f'  node RSS {rss["after_warmup"] / 1024:.0f} -> {rss["last"] / 1024:.0f} '
                     f'MiB over the soak ({report["memory"]["rss_growth_pct"]:+.2f} %), '
                     f'target < 5 %')
    return '\n'.join(lines)
