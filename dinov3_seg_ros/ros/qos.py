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

"""QoS profiles of the segmentation node's subscription and publishers."""

from rclpy.qos import (DurabilityPolicy, HistoryPolicy, qos_profile_sensor_data, QoSProfile,
                       ReliabilityPolicy)

from ..core.errors import ConfigError

RELIABILITIES = ('best_effort', 'reliable')


def input_qos(reliability: str, depth: int) -> QoSProfile:
    """Camera subscription: the sensor-data profile (best effort) or reliable, keep last depth."""
    if reliability not in RELIABILITIES:
        raise ConfigError(f'input_reliability: {reliability!r} is not one of '
                          f'{", ".join(RELIABILITIES)}')
    if depth < 1:
        raise ConfigError(f'input_depth: must be >= 1, got {depth}')
    if reliability == 'best_effort':
        profile = QoSProfile(depth=depth)
        profile.reliability = qos_profile_sensor_data.reliability
        profile.durability = qos_profile_sensor_data.durability
        return profile
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def output_qos(depth: int) -> QoSProfile:
    """Image outputs: reliable (reaches reliable and best-effort subscribers), keep last depth."""
    if depth < 1:
        raise ConfigError(f'output_depth: must be >= 1, got {depth}')
    return QoSProfile(depth=depth, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def latched_qos() -> QoSProfile:
    """Once-published metadata (label info): reliable, transient local, depth 1."""
    return QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)
