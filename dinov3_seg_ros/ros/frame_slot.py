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

"""A one-slot, latest-frame-wins hand-off between a subscription callback and a worker."""

import threading
from typing import Generic, Optional, TypeVar

T = TypeVar('T')


class FrameSlot(Generic[T]):
    """Holds at most one item: put() never blocks and replaces an unconsumed item.

    The producer (subscription callback) calls put(); the consumer (worker thread) calls
    get(timeout). Replaced items are counted in `dropped`; close() wakes the consumer for
    shutdown.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: Optional[T] = None
        self._full = False
        self._closed = False
        self.received = 0
        self.dropped = 0

    def put(self, item: T) -> bool:
        """Store item, replacing an unprocessed one; return True if one was dropped."""
        with self._condition:
            replaced = self._full
            self._item, self._full = item, True
            self.received += 1
            self.dropped += int(replaced)
            self._condition.notify()
        return replaced

    def get(self, timeout: Optional[float] = None) -> Optional[T]:
        """Take the newest item; wait up to timeout s; None on timeout or once closed."""
        with self._condition:
            self._condition.wait_for(lambda: self._full or self._closed, timeout)
            if self._closed or not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    def close(self) -> None:
        """Discard any pending item and make get() return None at once, now and later."""
        with self._condition:
            self._closed = True
            self._item, self._full = None, False
            self._condition.notify_all()

    @property
    def closed(self) -> bool:
        """True after close()."""
        return self._closed
