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

"""segmentation_node (and the test camera) as child processes on loopback-only DDS.

Shared by dinov3-seg-demo and dinov3-seg-ros-bench: the DDS environment, the node's command
line (params file + the given overrides), starting and stopping children with their output in
a log file, and spinning a client until a condition holds while watching that the children
still run.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence

from rclpy.executors import Executor

from ..core.errors import ConfigError, Dinov3SegError

PACKAGE = 'dinov3_seg_ros'
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Child(NamedTuple):
    """A started child process, the name its errors use and the file its output goes to."""

    name: str
    process: subprocess.Popen
    log_path: str


def share_file(*parts: str) -> str:
    """Path of a config file: the source tree's copy, else the installed share directory."""
    path = os.path.join(SOURCE_ROOT, *parts)
    if os.path.exists(path):
        return path
    from ament_index_python.packages import get_package_share_directory
    return os.path.join(get_package_share_directory(PACKAGE), *parts)


def params_file(path: str = '') -> str:
    """Return the node parameters YAML to use: path, or the shipped segmentation.yaml."""
    return path or share_file('config', 'segmentation.yaml')


def ros_environment(domain_id: Optional[int] = None) -> Dict[str, str]:
    """Set (in os.environ, before rclpy.init) and return the loopback-only DDS settings."""
    if domain_id is None:
        domain_id = 120 + os.getpid() % 90  # private per run, away from the default 0
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ['ROS_DOMAIN_ID'] = str(domain_id)
    os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = share_file('config', 'fastdds_shm_localhost.xml')
    return {key: os.environ[key] for key in ('ROS_AUTOMATIC_DISCOVERY_RANGE', 'ROS_DOMAIN_ID',
                                             'RMW_IMPLEMENTATION',
                                             'FASTDDS_DEFAULT_PROFILES_FILE')}


def add_override_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --params-file, --input-size, --backbone and --device (empty = the file's value)."""
    parser.add_argument('--params-file', default='',
                        help='node parameters (default: config/segmentation.yaml)')
    parser.add_argument('--input-size', default='',
                        help="override input_size, e.g. '320' (default: the params file's)")
    parser.add_argument('--backbone', default='',
                        help="override backbone (default: the params file's)")
    parser.add_argument('--device', default='',
                        help="override device (default: the params file's)")


def console_command(script: str, module: str) -> List[str]:
    """Command running an installed console script, or its module with this interpreter."""
    candidates = [os.path.join(os.path.dirname(sys.executable), script), shutil.which(script)]
    prefix = os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)[0]
    if prefix:
        candidates.append(os.path.join(prefix, 'lib', PACKAGE, script))  # ros2 run's place
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return [path]
    return [sys.executable, '-m', module]


def node_command(parameters: str, overrides: Mapping[str, str]) -> List[str]:
    """segmentation_node with a params file (see params_file) and the non-empty overrides.

    Raises ConfigError naming --params-file when that file is missing or a folder (the node
    itself would stop with rcl's parse error).
    """
    path = params_file(parameters)
    if not os.path.isfile(path):
        what = 'is a folder' if os.path.isdir(path) else 'does not exist'
        raise ConfigError(f'--params-file {path!r} {what}; give a node parameters YAML '
                          '(e.g. config/segmentation.yaml)')
    command = console_command('segmentation_node', f'{PACKAGE}.ros.node')
    command += ['--ros-args', '--params-file', path]
    for name, value in overrides.items():
        if value:
            command += ['-p', f'{name}:={value}']
    return command


def start(name: str, command: Sequence[str], log_path: str) -> Child:
    """Start a process in its own session with stdout+stderr going to log_path."""
    with open(log_path, 'wb') as log:
        process = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return Child(name, process, log_path)


def stop(child: Child, timeout: float = 15.0) -> Optional[int]:
    """SIGINT, wait up to timeout seconds, then SIGKILL; return the exit code."""
    process = child.process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def log_tail(path: str, lines: int = 15) -> str:
    """Return the last lines of a process log (for error messages)."""
    try:
        with open(path, errors='replace') as stream:
            return ''.join(stream.readlines()[-lines:])
    except OSError:
        return ''


def spin_until(executor: Executor, condition: Callable[[], bool], timeout: float,
               children: Sequence[Child], period: float = 0.01) -> bool:
    """Spin until condition() holds; False on timeout.

    Raises Dinov3SegError with the end of its log when one of the children has exited.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        for child in children:
            if child.process.poll() is not None:
                raise Dinov3SegError(f'{child.name} exited with code '
                                     f'{child.process.returncode}:\n{log_tail(child.log_path)}')
        if time.monotonic() > deadline:
            return False
        executor.spin_once(timeout_sec=period)
    return True
