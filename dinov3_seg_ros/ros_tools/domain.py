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

"""DDS domain of the demo and the ROS benchmark: --domain-id, else $ROS_DOMAIN_ID, else private."""

import os
from typing import Dict, Optional

from ..core.errors import ConfigError
from ..ros.node_process import ros_environment

MAX_DOMAIN_ID = 232  # Fast DDS / RTPS port mapping limit


def resolve_domain_id(option: Optional[int]) -> Optional[int]:
    """Return option, else the exported ROS_DOMAIN_ID, else None (a private id per run)."""
    if option is None:
        value = os.environ.get('ROS_DOMAIN_ID', '').strip()
        if not value:
            return None
        try:
            option = int(value)
        except ValueError:
            raise ConfigError(f'ROS_DOMAIN_ID={value!r} is not an integer') from None
        source = 'ROS_DOMAIN_ID'
    else:
        source = '--domain-id'
    if not 0 <= option <= MAX_DOMAIN_ID:
        raise ConfigError(f'{source} {option} is outside 0..{MAX_DOMAIN_ID}')
    return option


def tool_environment(option: Optional[int]) -> Dict[str, str]:
    """Set and return the loopback DDS settings with the resolved domain id."""
    return ros_environment(resolve_domain_id(option))
