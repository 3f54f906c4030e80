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

"""Tests of the latest-frame-wins slot between the subscription callback and the worker."""

import threading

from dinov3_seg_ros.ros.frame_slot import FrameSlot


def test_put_replaces_an_unconsumed_item_and_counts_the_drop():
    slot = FrameSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True
    assert slot.put(3) is True
    assert (slot.received, slot.dropped) == (3, 2)
    assert slot.get(timeout=0) == 3
    assert slot.get(timeout=0) is None
    assert slot.put(4) is False
    assert slot.get(timeout=0) == 4
    assert slot.dropped == 2


def test_get_times_out_with_none():
    assert FrameSlot().get(timeout=0.01) is None


def test_a_waiting_get_receives_the_next_put():
    slot = FrameSlot()
    got = []
    consumer = threading.Thread(target=lambda: got.append(slot.get(timeout=60)))
    consumer.start()
    slot.put('frame')
    consumer.join(timeout=60)
    assert got == ['frame']


def test_close_wakes_a_waiting_consumer_and_discards_the_pending_item():
    slot = FrameSlot()
    got = []
    consumer = threading.Thread(target=lambda: got.append(slot.get(timeout=60)))
    consumer.start()
    slot.close()
    consumer.join(timeout=60)
    assert not consumer.is_alive() and got == [None]
    slot.put('late')
    assert slot.closed and slot.get(timeout=0) is None


def test_concurrent_consumer_only_moves_forward_and_nothing_is_lost_uncounted():
    slot = FrameSlot()
    total = 5000
    seen = []

    def consume():
        while True:
            item = slot.get(timeout=60)
            if item is None:
                return
            seen.append(item)
            if item == total - 1:
                return

    consumer = threading.Thread(target=consume)
    consumer.start()
    for index in range(total):
        slot.put(index)
    consumer.join(timeout=120)
    assert seen[-1] == total - 1  # the newest frame is always processed
    assert all(a < b for a, b in zip(seen, seen[1:]))  # never an older frame after a newer
    assert len(seen) + slot.dropped == total
