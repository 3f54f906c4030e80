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

"""SegmentationLifecycleNode: the managed (rclpy.lifecycle) segmentation node.

configure reads the parameters and loads the model (a bad file fails the transition with
the one-line reason; the node stays unconfigured and can be configured again), activate
subscribes and publishes, deactivate stops processing (model kept), cleanup frees the
model (and GPU memory), shutdown ends the process with exit code 0.
"""

import functools
from typing import Any, Callable, List, Optional

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.task import Future

from ..core.errors import ConfigError, Dinov3SegError
from .failure_log import describe_error
from .node_common import init_ros, NODE_NAME, NodeShell
from .params import CLASS_NAMES, declare_class_names, declare_parameters, read_parameters
from .runtime import SegmentationRuntime
from .usage import print_help_if_asked


Transition = Callable[[Any, LifecycleState], TransitionCallbackReturn]


def reported(name: str) -> Callable[[Transition], Transition]:
    """Wrap a transition callback: an exception is logged with its reason and fails it.

    rclpy turns an exception in a lifecycle callback into ERROR without a word (a CUDA
    out-of-memory, a read-only cache folder, ...); here the log says why.
    """
    def wrap(callback: Transition) -> Transition:
        @functools.wraps(callback)
        def run(self: Any, state: LifecycleState) -> TransitionCallbackReturn:
            try:
                return callback(self, state)
            except Exception as exc:  # noqa: BLE001 - said here, then the transition fails
                self.get_logger().error(f'{name} failed: {describe_error(exc)}')
                return TransitionCallbackReturn.FAILURE
        return run
    return wrap


class SegmentationLifecycleNode(NodeShell, LifecycleNode):
    """Managed semantic segmentation node; starts unconfigured."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._setup_shell()
        self.runtime: Optional[SegmentationRuntime] = None
        self.finished = Future()  # done once the node reached 'finalized'
        self._rejected = ''
        try:
            declare_parameters(self)
        except ConfigError as exc:  # all declared (rejected values at their defaults)
            self._rejected = str(exc)
            self.get_logger().error(f'invalid parameters: {exc}')
        self._setup_callbacks()
        self.get_logger().info('unconfigured: waiting for the configure transition')

    @property
    def segmenter(self) -> Any:
        """The loaded core Segmenter (None unless configured)."""
        return self.runtime.segmenter if self.runtime is not None else None

    @reported('configure')
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Read the parameters and load the model; FAILURE keeps the node unconfigured."""
        if self._rejected:
            self.get_logger().warning(f'configuring with rejected parameters at their '
                                      f'defaults: {self._rejected}')
        try:
            self.params = read_parameters(self)
            self.runtime = SegmentationRuntime(self, self.current_params)
        except Dinov3SegError as exc:
            self.params = None
            self.get_logger().error(f'configure failed: {exc}')
            return TransitionCallbackReturn.FAILURE
        except Exception:
            self._free()  # back to unconfigured; reported() says why
            raise
        self._set_class_names(self.runtime.segmenter.class_names)
        self.get_logger().info(f'configured: {self.runtime.describe()}')
        return TransitionCallbackReturn.SUCCESS

    def _set_class_names(self, names: List[str]) -> None:
        if self.has_parameter(CLASS_NAMES):  # a re-configure: the model may have changed
            self._parameters[CLASS_NAMES] = Parameter(CLASS_NAMES, Parameter.Type.STRING_ARRAY,
                                                      [str(n) for n in names])
        else:
            declare_class_names(self, names)

    @reported('activate')
    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the camera and start publishing."""
        self.runtime.activate()
        self.get_logger().info('active')
        return super().on_activate(state)

    @reported('deactivate')
    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop processing; the model stays loaded."""
        self.runtime.deactivate()
        self.get_logger().info('inactive: not processing frames')
        return super().on_deactivate(state)

    @reported('cleanup')
    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Free the model and the publishers (back to unconfigured)."""
        self._free()
        self.get_logger().info('cleaned up: model freed')
        return TransitionCallbackReturn.SUCCESS

    @reported('shutdown')
    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Free everything and let main() exit 0."""
        self._free()
        self.finished.set_result(True)
        return TransitionCallbackReturn.SUCCESS

    @reported('error')
    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Free the model after an exception in a transition (back to unconfigured)."""
        self._free()
        return TransitionCallbackReturn.SUCCESS

    def _free(self) -> None:
        if self.runtime is not None:
            self.runtime.destroy()
            self.runtime = None
        self.params = None

    def destroy_node(self) -> None:
        """Free the runtime, then destroy the node."""
        self._free()
        self._teardown_shell()
        super().destroy_node()


def main(args: Optional[List[str]] = None) -> int:
    """Spin until the shutdown transition or SIGINT/SIGTERM (exit 0)."""
    if print_help_if_asked('segmentation_lifecycle_node', args, managed=True):
        return 0
    if not init_ros('segmentation_lifecycle_node', args):
        return 1
    node = None
    try:
        node = SegmentationLifecycleNode()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin_until_future_complete(node.finished)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
