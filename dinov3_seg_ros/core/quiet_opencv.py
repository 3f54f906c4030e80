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

"""Silence OpenCV's own log lines while the package decodes files or bytes.

cv2.imread / cv2.imdecode print ``[ WARN:0@...]`` and ``[ERROR:0@...]`` lines on stderr
for a missing or corrupt image, beside the one message the package reports for it. Every
decoding call runs inside ``quiet_opencv()``; the level is process-wide, so nested and
concurrent users share one lock and a count, and the first level comes back when the last
one leaves.
"""

from contextlib import contextmanager
import threading
from typing import Iterator, Optional

import cv2

_LOCK = threading.Lock()
_users = 0
_saved_level: Optional[int] = None


@contextmanager
def quiet_opencv() -> Iterator[None]:
    """Run the body with OpenCV's logger silent; restore its level afterwards."""
    global _users, _saved_level
    logging = cv2.utils.logging
    with _LOCK:
        if _users == 0:
            _saved_level = logging.getLogLevel()
            logging.setLogLevel(logging.LOG_LEVEL_SILENT)
        _users += 1
    try:
        yield
    finally:
        with _LOCK:
            _users -= 1
            if _users == 0 and _saved_level is not None:
                logging.setLogLevel(_saved_level)
                _saved_level = None
