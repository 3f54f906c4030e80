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

"""FrameSlots, the latest-frame-wins hand-off between the camera callbacks and the worker."""

import threading

from dinov3_seg_ros.ros.frame_slot import FrameSlots


def test_put_replaces_a_cameras_unconsumed_frame_and_take_all_empties_in_key_order():
    slots = FrameSlots(['front', 'left', 'rear'])
    assert slots.put('rear', 1) is False
    assert slots.put('front', 2) is False
    assert slots.put('rear', 3) is True  # replaced an unprocessed frame
    assert list(slots.take_all(timeout=0).items()) == [('front', 2), ('rear', 3)]  # key order
    assert slots.take_all(timeout=0) == {}
    assert slots.put('rear', 4) is False  # consumed: nothing dropped
    assert slots.take_all(timeout=0) == {'rear': 4}


def test_take_all_times_out_with_nothing():
    assert FrameSlots(['front']).take_all(timeout=0.01) == {}


def test_a_waiting_take_all_receives_the_next_put():
    slots = FrameSlots(['front', 'left'])
    got = []
    consumer = threading.Thread(target=lambda: got.append(slots.take_all(timeout=60)))
    consumer.start()
    slots.put('left', 'frame')
    consumer.join(timeout=60)
    assert got == [{'left': 'frame'}]


def test_close_wakes_a_waiting_consumer_and_discards_pending_frames():
    slots = FrameSlots(['front', 'left'])
    got = []
    consumer = threading.Thread(target=lambda: got.append(slots.take_all(timeout=60)))
    consumer.start()
    slots.close()
    consumer.join(timeout=60)
    assert not consumer.is_alive() and got == [{}]
    slots.put('front', 'late')
    assert slots.closed and slots.take_all(timeout=60) == {}  # at once, not after 60 s


def test_concurrent_consumer_only_moves_forward_and_every_drop_is_reported():
    keys, total = ('front', 'rear'), 3000
    slots = FrameSlots(keys)
    seen = {key: [] for key in keys}
    dropped = {key: 0 for key in keys}

    def consume():
        while not all(seen[key] and seen[key][-1] == total - 1 for key in keys):
            batch = slots.take_all(timeout=60)
            if not batch:
                return
            for key, item in batch.items():
                seen[key].append(item)

    consumer = threading.Thread(target=consume)
    consumer.start()
    for index in range(total):
        for key in keys:
            dropped[key] += slots.put(key, index)
    consumer.join(timeout=120)
    for key in keys:
        assert seen[key][-1] == total - 1  # the newest frame of each camera is processed
        assert all(a < b for a, b in zip(seen[key], seen[key][1:]))  # never an older one
        assert len(seen[key]) + dropped[key] == total  # nothing lost unreported
