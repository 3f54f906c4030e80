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

"""argparse types of the ROS tools: a bad number is a usage error naming its option.

``parser.add_argument('--frames', type=positive_int)`` turns ``--frames 0`` into
``dinov3-seg-demo: error: argument --frames: must be >= 1, got '0'`` and exit code 2,
before any process starts.
"""

import argparse
from typing import Callable, TypeVar

N = TypeVar('N', int, float)


def _bounded(kind: Callable[[str], N], low: N, strict: bool) -> Callable[[str], N]:
    relation = '>' if strict else '>='

    def convert(text: str) -> N:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'expected {"an integer" if kind is int else "a number"}, got {text!r}') from None
        if value < low or (strict and value == low) or value != value:  # NaN fails too
            raise argparse.ArgumentTypeError(f'must be {relation} {low:g}, got {text!r}')
        return value

    convert.__name__ = kind.__name__  # argparse names the type in its own messages
    return convert


positive_int = _bounded(int, 1, strict=False)
non_negative_int = _bounded(int, 0, strict=False)
positive_float = _bounded(float, 0.0, strict=True)
non_negative_float = _bounded(float, 0.0, strict=False)
