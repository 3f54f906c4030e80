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

"""Per-stage milliseconds of a frame (torch is imported only for CUDA events)."""

import time
from typing import Any, Dict, List, Tuple


class StageTimer:
    """Milliseconds per pipeline stage without extra GPU syncs.

    mark(stage) ends a stage that runs in device order: on CUDA it records an event that is
    read after the frame's single sync (the copy of the logits to the host), on the CPU it
    reads perf_counter. add(stage, ms) records a host-side duration measured by the caller.
    device: a torch.device or a label ('cpu', 'cuda:0').
    """

    def __init__(self, device: Any = 'cpu') -> None:
        self._cuda = str(getattr(device, 'type', device)).startswith('cuda')
        self._start = self._now()
        self._marks: List[Tuple[str, object]] = []

    def _now(self) -> object:
        if self._cuda:
            import torch
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def mark(self, stage: str) -> None:
        """Close the stage that began at the previous mark, or at construction."""
        self._marks.append((stage, self._now()))

    def results(self) -> Dict[str, float]:
        """Milliseconds per stage; call after the sync when on CUDA."""
        out: Dict[str, float] = {}
        previous = self._start
        for stage, value in self._marks:
            if self._cuda:
                elapsed = previous.elapsed_time(value)  # type: ignore[union-attr]
            else:
                elapsed = (value - previous) * 1e3  # type: ignore[operator]
            out[stage] = out.get(stage, 0.0) + elapsed
            previous = value
        return out
