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

"""The `cameras` parameter: camera names, each the namespace of one camera's topics.

Empty = one camera on `image` (the single-camera node). Otherwise every name is one ROS name
token (letters, digits, underscores, not starting with a digit, no '__'), and names are
unique: camera `front` reads `front/image` and publishes `front/segmentation/...`.
"""

import re
from typing import Any, Tuple

from ..core.errors import ConfigError

_TOKEN = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')


def camera_names(value: Any) -> Tuple[str, ...]:
    """Turn a cameras value (a list of str, or one comma-separated str) into checked names.

    Raises ConfigError naming the `cameras` parameter for an empty, invalid or duplicate name.
    """
    if isinstance(value, str):
        if not value.strip():
            return ()
        items = [item.strip() for item in value.split(',')]
    elif isinstance(value, (list, tuple)):
        items = [item.strip() if isinstance(item, str) else item for item in value]
    else:
        raise ConfigError(f'cameras: expected a list of camera names, got {value!r}')
    seen = set()
    for item in items:
        if not isinstance(item, str) or not _TOKEN.fullmatch(item) or '__' in item:
            raise ConfigError(f'cameras: {item!r} is not a valid ROS name token (letters, '
                              f'digits and single underscores, not starting with a digit)')
        if item in seen:
            raise ConfigError(f'cameras: {item!r} is listed twice')
        seen.add(item)
    return tuple(items)


def camera_prefix(name: str) -> str:
    """Topic prefix of a camera: '' for the single-camera node, else '<name>/'."""
    return f'{name}/' if name else ''
