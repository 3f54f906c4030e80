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

"""SegmentationNode: the plain (unmanaged) segmentation node.

It loads the model when created and processes frames until it is destroyed; the work
itself lives in SegmentationRuntime, which the lifecycle node (lifecycle_node.py) shares.
"""

from typing import Any, List, Optional

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

from ..core.errors import Dinov3SegError
from .node_common import init_ros, NODE_NAME, NodeShell, RosLogHandler, topic_token  # noqa: F401
from .params import declare_class_names, declare_parameters
from .runtime import SegmentationRuntime
from .usage import print_help_if_asked


class SegmentationNode(NodeShell, Node):
    """Semantic segmentation of a camera stream with a DINOv3 backbone and ASPP heads."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._setup_shell()
        self.runtime: Optional[SegmentationRuntime] = None
        try:
            self.params = declare_parameters(self)
            self.runtime = SegmentationRuntime(self, self.current_params)  # loads the model
            declare_class_names(self, self.runtime.segmenter.class_names)
        except BaseException as exc:
            if isinstance(exc, Dinov3SegError):
                self.get_logger().error(f'cannot start: {exc}')
            self.destroy_node()
            raise
        self._setup_callbacks()
        self.runtime.activate()
        self.get_logger().info(f'ready: {self.runtime.describe()}')

    @property
    def segmenter(self) -> Any:
        """The loaded core Segmenter."""
        return self.runtime.segmenter

    def destroy_node(self) -> None:
        """Stop and join the worker, free the model, then destroy the node."""
        if self.runtime is not None:
            self.runtime.destroy()
            self.runtime = None
        self._teardown_shell()
        super().destroy_node()


def main(args: Optional[List[str]] = None) -> int:
    """Run the node until SIGINT/SIGTERM (exit 0); bad weights or config exit 1, no traceback."""
    if print_help_if_asked('segmentation_node', args):
        return 0
    if not init_ros('segmentation_node', args):
        return 1
    node = None
    code = 0
    try:
        node = SegmentationNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Dinov3SegError:
        code = 1  # SegmentationNode logged the one-line reason
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == '__main__':
    raise SystemExit(main())
