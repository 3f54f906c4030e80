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

"""Latest-frame-wins hand-off between the cameras' subscription callbacks and the worker."""

import threading
from typing import Dict, Generic, Optional, Sequence, TypeVar

T = TypeVar('T')


class FrameSlots(Generic[T]):
    """One latest-frame-wins slot per camera; the consumer takes every filled slot at once.

    put(key, item) never blocks and replaces that camera's unconsumed item; take_all(timeout)
    waits until at least one slot is filled and empties all of them (the batch of newest
    frames, in key order); close() wakes the consumer for shutdown.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        self._condition = threading.Condition()
        self._keys = tuple(keys)
        self._items: Dict[str, T] = {}
        self._closed = False

    def put(self, key: str, item: T) -> bool:
        """Store item as key's newest frame; return True if an unprocessed one was dropped."""
        with self._condition:
            replaced = key in self._items
            self._items[key] = item
            self._condition.notify()
        return replaced

    def take_all(self, timeout: Optional[float] = None) -> Dict[str, T]:
        """Take every pending item ({key: item}, key order); {} on timeout or once closed."""
        with self._condition:
            self._condition.wait_for(lambda: self._items or self._closed, timeout)
            if self._closed:
                return {}
            items = {key: self._items[key] for key in self._keys if key in self._items}
            self._items = {}
            return items

    def close(self) -> None:
        """Discard pending items and make take_all() return {} at once, now and later."""
        with self._condition:
            self._closed = True
            self._items = {}
            self._condition.notify_all()

    @property
    def closed(self) -> bool:
        """True after close()."""
        return self._closed
