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

"""What the plain and the lifecycle segmentation node share besides the runtime.

NodeShell (a mixin for rclpy Node or LifecycleNode): the bridge from the core's Python
logging to ROS logging, the run-time parameter callbacks and the `segmentation/enable`
service (std_srvs/SetBool), which flips the same switch as the `enabled` parameter.
"""

import logging
import re
import sys
from typing import Any, Dict, List, Optional, Sequence

import rclpy
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.parameter import Parameter
from std_srvs.srv import SetBool

from ..core.errors import ConfigError
from .params import apply_runtime_changes, NodeParams, validate_runtime_changes

NODE_NAME = 'segmentation'
ENABLE_SERVICE = 'segmentation/enable'


def init_ros(program: str, args: Optional[List[str]]) -> bool:
    """rclpy.init(args); False after one line on stderr when rcl refuses the arguments.

    A missing or malformed --params-file, a bad remapping or ROS_DOMAIN_ID make rcl fail
    before any node exists: the user gets '<program>: cannot start: <rcl's reason>'.
    """
    try:
        rclpy.init(args=args)
    except _rclpy.RCLError as exc:
        reason = ' '.join(str(exc).split()).split(', at /')[0]
        print(f'{program}: cannot start: {reason}', file=sys.stderr)
        return False
    return True


def topic_token(name: str) -> str:
    """Turn a head name into a valid ROS topic token ('my-head.v2' -> 'my_head_v2')."""
    token = re.sub(r'_+', '_', re.sub(r'[^A-Za-z0-9_]', '_', name)).strip('_')
    return token if token and not token[0].isdigit() else f'head_{token}'


def check_topic_tokens(head_names: Sequence[str]) -> None:
    """Raise ConfigError when two heads' names make the same topic token.

    'my-head' and 'my_head' would both publish on segmentation/heads/my_head/: their labels
    and LabelInfo would interleave on one topic. (Head names are already unique.)
    """
    seen: Dict[str, str] = {}
    for name in head_names:
        token = topic_token(name)
        if token in seen:
            raise ConfigError(f'heads {seen[token]!r} and {name!r} would share the topics '
                              f'segmentation/heads/{token}/: rename one of the head files')
        seen[token] = name


class RosLogHandler(logging.Handler):
    """Forwards the core's Python log records (e.g. the CPU fallback warning) to ROS logging."""

    def __init__(self, logger: Any) -> None:
        super().__init__()
        self._logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        """Log record at the matching ROS level."""
        message = record.getMessage()
        if record.levelno >= logging.ERROR:
            self._logger.error(message)
        elif record.levelno >= logging.WARNING:
            self._logger.warning(message)
        elif record.levelno >= logging.INFO:
            self._logger.info(message)
        else:
            self._logger.debug(message)


class NodeShell:
    """Mixin for a Node subclass: log bridge, parameter callbacks and the enable service."""

    params: Optional[NodeParams] = None

    def _setup_shell(self) -> None:
        """Call once from __init__, after super().__init__."""
        self._log_bridge = RosLogHandler(self.get_logger())
        logging.getLogger('dinov3_seg_ros').addHandler(self._log_bridge)
        logging.getLogger('dinov3_seg_ros').setLevel(logging.INFO)

    def _setup_callbacks(self) -> None:
        """Call once the parameters are declared: run-time changes and the enable service."""
        self.add_on_set_parameters_callback(validate_runtime_changes)
        self.add_post_set_parameters_callback(self._on_parameters_set)
        self._enable_service = self.create_service(SetBool, ENABLE_SERVICE, self._on_enable)

    def _on_parameters_set(self, changes: List[Parameter]) -> None:
        if self.params is not None:
            self.params = apply_runtime_changes(self.params, changes)

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response
                   ) -> SetBool.Response:
        """SetBool: set the `enabled` parameter (so both always agree); always answers."""
        try:
            result = self.set_parameters([Parameter('enabled', Parameter.Type.BOOL,
                                                    bool(request.data))])[0]
        except Exception as exc:  # noqa: BLE001 - a service callback must not end the node
            response.success, response.message = False, f'{type(exc).__name__}: {exc}'
            return response
        response.success = result.successful
        response.message = (('enabled' if request.data else 'disabled')
                            if result.successful else result.reason)
        return response

    def current_params(self) -> NodeParams:
        """Return the parameter values the runtime works with."""
        return self.params

    def _teardown_shell(self) -> None:
        logging.getLogger('dinov3_seg_ros').removeHandler(self._log_bridge)
