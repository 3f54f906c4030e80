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

"""quiet_opencv: no OpenCV log line for a corrupt image, the level restored after."""

import threading

import cv2
from dinov3_seg_ros.core.quiet_opencv import quiet_opencv
import numpy as np


def corrupt_png() -> bytes:
    """A PNG signature, then garbage: OpenCV logs a '[ WARN:...]' and an '[ERROR:...]' line."""
    return b'\x89PNG\r\n\x1a\n' + b'garbage ' * 8


def test_a_corrupt_png_decodes_to_none_without_opencv_lines(tmp_path, capfd):
    path = str(tmp_path / 'corrupt.png')
    with open(path, 'wb') as stream:
        stream.write(corrupt_png())
    buffer = np.frombuffer(corrupt_png(), np.uint8)
    assert cv2.imdecode(buffer, cv2.IMREAD_COLOR) is None
    assert '[ WARN' in capfd.readouterr().err  # what the helper is for
    with quiet_opencv():
        assert cv2.imdecode(buffer, cv2.IMREAD_COLOR) is None
        assert cv2.imread(path, cv2.IMREAD_UNCHANGED) is None
    assert capfd.readouterr().err == ''


def test_the_level_comes_back_after_nested_and_concurrent_use():
    logging = cv2.utils.logging
    before = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_INFO)
    try:
        entered, leave = threading.Barrier(2), threading.Event()

        def hold():
            with quiet_opencv():
                entered.wait(10)
                leave.wait(10)

        other = threading.Thread(target=hold)
        other.start()
        with quiet_opencv():
            entered.wait(10)
            with quiet_opencv():
                assert logging.getLogLevel() == logging.LOG_LEVEL_SILENT
            leave.set()
            other.join(10)
            assert logging.getLogLevel() == logging.LOG_LEVEL_SILENT  # still inside
        assert logging.getLogLevel() == logging.LOG_LEVEL_INFO
    finally:
        logging.setLogLevel(before)
