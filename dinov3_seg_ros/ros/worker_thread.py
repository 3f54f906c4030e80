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

"""WorkerThread: the one segmentation thread of a node, never two at once.

stop() waits a bounded time; a thread still inside inference then (a torch.compile
recompile takes 25-35 s) is kept, and start() refuses to run a second thread next to it
(the model is not thread-safe). The thread holds its own reference to the model, so freeing
the node's reference never frees a model under a running frame.
"""

import threading
from typing import Any, Callable, Optional

JOIN_TIMEOUT_S = 30.0  # how long stop() and start() wait for a thread inside inference


class WorkerThread:
    """Start, stop and watch the segmentation worker thread."""

    def __init__(self, name: str = 'segmentation-worker') -> None:
        self._name = name
        self._thread: Any = None

    @property
    def busy(self) -> bool:
        """True while a thread (possibly of a previous activation) is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, target: Callable[..., None], *args: Any) -> None:
        """Run target(*args) in a new daemon thread (RuntimeError if one still runs)."""
        if not self.join():
            raise RuntimeError(f'the previous segmentation worker is still running after '
                               f'{JOIN_TIMEOUT_S:.0f} s (inside inference): not starting a '
                               'second one; try again later')
        self._thread = threading.Thread(target=target, args=args, name=self._name,
                                        daemon=True)
        self._thread.start()

    def join(self, timeout: Optional[float] = None) -> bool:
        """Wait up to timeout s (JOIN_TIMEOUT_S) for the thread to end: True once none runs."""
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout=JOIN_TIMEOUT_S if timeout is None else timeout)
        if thread.is_alive():
            return False
        self._thread = None
        return True
