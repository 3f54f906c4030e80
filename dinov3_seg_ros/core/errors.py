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

"""Exceptions the core raises for bad user input (weights, configuration, images)."""


class Dinov3SegError(Exception):
    """Base class of every error the package reports to users in one clear message."""


class CheckpointError(Dinov3SegError):
    """A weights file is missing, corrupt, or does not match the model it is loaded into."""


class ConfigError(Dinov3SegError):
    """A configuration value is invalid; the message names the key."""


class ImageError(Dinov3SegError):
    """An input image is malformed (shape, dtype, size) and cannot be segmented."""


def one_line(exc: BaseException, limit: int = 0) -> str:
    """Return the exception's message on one line (whitespace folded), cut to limit chars."""
    text = ' '.join(str(exc).split())
    return text[:limit] if limit else text
