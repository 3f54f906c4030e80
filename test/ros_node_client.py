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

"""Test-side helpers: segmentation_node as a subprocess and a ROS client that talks to it.

The node test modules share their fixtures' bodies from here: a head checkpoint to load
(write_head), a client in its own context (ros_client) and a started node (start_node).
"""

from collections import defaultdict
from contextlib import contextmanager
from functools import partial
import itertools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence
from typing import Tuple

from diagnostic_msgs.msg import DiagnosticArray
from dinov3_seg_ros.core.checkpoint import HeadCheckpoint, save_head_checkpoint
from dinov3_seg_ros.core.heads import build_head, HeadConfig
import pytest
import rclpy
from rcl_interfaces.msg import ParameterValue, SetParametersResult
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
import torch

CLASSES = ['sky', 'road', 'car', 'tree', 'person']
START_S = 300.0  # shared 2-core CPU: importing torch/timm and building the model can be slow
REPLY_S = 120.0
OUTPUTS = {'labels': '/segmentation/labels', 'overlay': '/segmentation/overlay',
           'colored': '/segmentation/colored',
           'second_head': '/segmentation/heads/second_head/labels',
           'zip_labels': '/zip/segmentation/labels', 'zip_overlay': '/zip/segmentation/overlay'}


def node_executable() -> str:
    """The installed segmentation_node console script."""
    return (shutil.which('segmentation_node')
            or os.path.join(sys.prefix, 'bin', 'segmentation_node'))


class NodeProcess:
    """segmentation_node as a subprocess with its console output in a file."""

    def __init__(self, tmp: Any, name: str, params_file: str, *ros_args: str,
                 command: Optional[List[str]] = None) -> None:
        self.log_path = tmp / f'{name}.log'
        env = dict(os.environ, ROS_LOG_DIR=str(tmp / 'ros_log'), PYTHONUNBUFFERED='1',
                   RCUTILS_COLORIZED_OUTPUT='0')
        self._log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(
            [*(command or [node_executable()]), '--ros-args', '--params-file', params_file,
             *ros_args],
            stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def output(self) -> str:
        """Everything the node printed so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60.0) -> int:
        """Send sig (kill after timeout s) and return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def stamp_key(header: Any) -> Tuple[int, int, str]:
    """What identifies a frame: its stamp and frame_id."""
    return header.stamp.sec, header.stamp.nanosec, header.frame_id


class NodeClient:
    """Reliable subscriptions to the node's outputs plus parameter service calls."""

    def __init__(self, context: Any, image_topic: str, node_name: str) -> None:
        self.node = Node('c1_test_client', context=context)
        self.image_topic, self.node_name = image_topic, node_name
        self.received: Dict[str, List[Any]] = defaultdict(list)
        self._condition = threading.Condition()
        self._frames = itertools.count(1)
        self._publishers: Dict[Tuple[type, str], Any] = {}
        self._reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        for name, topic in OUTPUTS.items():
            self.node.create_subscription(Image, topic, partial(self._store, name),
                                          self._reliable)
        self.node.create_subscription(DiagnosticArray, '/diagnostics',
                                      partial(self._store, 'diagnostics'), 50)
        self._executor = SingleThreadedExecutor(context=context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._executor.spin, daemon=True)
        self._thread.start()

    def subscribe(self, name: str, topic: str, msg_type: type = Image) -> None:
        """Also store messages of topic (reliable) under received[name]."""
        self.node.create_subscription(msg_type, topic, partial(self._store, name),
                                      self._reliable)

    def _store(self, name: str, msg: Any) -> None:
        with self._condition:
            self.received[name].append(msg)
            self._condition.notify_all()

    def wait_until(self, predicate: Callable[[], Any], timeout: float) -> bool:
        """Wait until predicate() is truthy; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.1))
        return True

    def stamp(self, msg: Any) -> Any:
        """Give msg a fresh stamp (now) and a unique frame_id."""
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.header.frame_id = f'camera_{next(self._frames)}'
        return msg

    def publish(self, msg: Any, topic: Optional[str] = None) -> None:
        """Publish msg reliably on topic (default: the camera topic)."""
        key = (type(msg), topic or self.image_topic)
        if key not in self._publishers:
            self._publishers[key] = self.node.create_publisher(key[0], key[1], self._reliable)
        self._publishers[key].publish(msg)

    def find(self, name: str, key: Tuple[int, int, str]) -> Optional[Any]:
        """The latest received output `name` whose header matches key."""
        for msg in reversed(self.received[name]):
            if stamp_key(msg.header) == key:
                return msg
        return None

    def request(self, msg: Any, names: Iterable[str], timeout: float,
                topic: Optional[str] = None) -> Dict[str, Any]:
        """Publish msg (stamped if unstamped) until every output in names answers it."""
        if msg.header.stamp.sec == 0 and not msg.header.frame_id:
            self.stamp(msg)
        key, names = stamp_key(msg.header), tuple(names)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.publish(msg, topic)
            if self.wait_until(lambda: all(self.find(n, key) for n in names), 3.0):
                return {n: self.find(n, key) for n in names}
        raise AssertionError(f'no {names} for frame {key} within {timeout} s')

    def diagnostics(self, predicate: Callable[[Dict[str, Any]], bool],
                    timeout: float) -> Dict[str, Any]:
        """Values of the first new status of this node that satisfies predicate."""
        start = len(self.received['diagnostics'])
        found: List[Dict[str, Any]] = []

        def check() -> bool:
            for array in self.received['diagnostics'][start:]:
                for status in array.status:
                    if status.name.startswith(self.node_name + ':'):
                        values = {kv.key: kv.value for kv in status.values}
                        values.update(level=ord(status.level), message=status.message)
                        if predicate(values):
                            found.append(values)
                            return True
            return False
        assert self.wait_until(check, timeout), 'no matching diagnostics'
        return found[0]

    def call(self, service: type, suffix: str, request: Any, timeout: float = 60.0) -> Any:
        """Call the node's service <node_name><suffix> and return its response."""
        return self._call(service, suffix, request, timeout)

    def _call(self, service: type, suffix: str, request: Any, timeout: float = 60.0) -> Any:
        client = self.node.create_client(service, self.node_name + suffix)
        try:
            assert client.wait_for_service(timeout_sec=timeout), suffix
            future = client.call_async(request)
            assert self.wait_until(future.done, timeout), suffix
            return future.result()
        finally:
            self.node.destroy_client(client)

    def get_parameters(self, names: List[str]) -> List[ParameterValue]:
        """Values of the node's parameters via its GetParameters service."""
        return self._call(GetParameters, '/get_parameters', GetParameters.Request(names=names)
                          ).values

    def set_parameter(self, name: str, value: Any) -> SetParametersResult:
        """Set one parameter via the SetParameters service; return its result."""
        request = SetParameters.Request(parameters=[Parameter(name, value=value)
                                                    .to_parameter_msg()])
        return self._call(SetParameters, '/set_parameters', request).results[0]

    def label_info(self, timeout: float) -> Any:
        """The latched vision_msgs/LabelInfo (needs vision_msgs)."""
        from vision_msgs.msg import LabelInfo
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.node.create_subscription(LabelInfo, self.node_name + '/label_info',
                                      partial(self._store, 'label_info'), latched)
        assert self.wait_until(lambda: self.received['label_info'], timeout)
        return self.received['label_info'][-1]

    def close(self) -> None:
        """Stop spinning and destroy the client node."""
        self._executor.shutdown()
        self.node.destroy_node()


def write_head(path: Any, num_classes: int = len(CLASSES)) -> str:
    """Write a seeded vits16 head checkpoint with the first num_classes CLASSES; its path."""
    torch.manual_seed(0)
    config = HeadConfig(in_channels=384, num_classes=num_classes, proj_channels=32,
                        branch_channels=16)
    state = {k: v.clone() for k, v in build_head(config).state_dict().items()}
    save_head_checkpoint(str(path), HeadCheckpoint(state, config, CLASSES[:num_classes],
                                                   backbone='vits16'))
    return str(path)


@contextmanager
def ros_client(image_topic: str, node_name: str,
               subscriptions: Optional[Mapping[str, str]] = None) -> Iterator[NodeClient]:
    """A NodeClient in its own rclpy context, also storing {name: topic} subscriptions."""
    context = rclpy.Context()
    rclpy.init(context=context)
    client = NodeClient(context, image_topic, node_name)
    try:
        for name, topic in (subscriptions or {}).items():
            client.subscribe(name, topic)
        yield client
    finally:
        client.close()
        rclpy.try_shutdown(context=context)


def start_node(client: NodeClient, inputs: Sequence[str], tmp: Any, name: str,
               params_file: str, *ros_args: str) -> NodeProcess:
    """Start segmentation_node and wait until it subscribes to every input topic.

    Fails the test with the node's output when it exits or does not subscribe in START_S.
    """
    process = NodeProcess(tmp, name, params_file, *ros_args)
    subscribed = client.wait_until(
        lambda: all(client.node.count_subscribers(topic) > 0 for topic in inputs)
        or process.proc.poll() is not None, START_S)
    if process.proc.poll() is not None or not subscribed:
        exited = process.proc.poll() is not None
        code = process.stop()
        what = (f'exited with {code}' if exited else
                f'did not subscribe to {list(inputs)} within {START_S:.0f} s')
        pytest.fail(f'node {name} {what}:\n{process.output()}')
    return process


def start_error(process: NodeProcess) -> str:
    """Wait for a node that must fail to start; return its one ERROR line (exit != 0, no trace)."""
    try:
        code = process.proc.wait(START_S)
    finally:
        process.stop()
    output = process.output()
    assert code != 0, output
    assert 'Traceback' not in output
    errors = [line for line in output.splitlines() if 'ERROR' in line]
    assert len(errors) == 1, output
    return errors[0]
