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

"""colcon build / test / test-result of the package in a temporary workspace."""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = 'dinov3_seg_ros'
IGNORED = ('.git', '.notes', '.venv', '__pycache__', '.pytest_cache', 'build', 'install', 'log',
           'demo_output', '*.egg-info', '*.pth', '*.onnx', '*.safetensors')
# A fast subset for `colcon test`: static checks only (the full suite runs through pytest).
FAST_TESTS = ('test/test_copyright.py', 'test/test_ros_launch.py')
INSTALLED = (
    'share/dinov3_seg_ros/package.xml',
    'share/dinov3_seg_ros/launch/segmentation.launch.py',
    'share/dinov3_seg_ros/config/segmentation.yaml',
    'share/dinov3_seg_ros/config/segmentation.rviz',
    'share/dinov3_seg_ros/config/fastdds_shm.xml',
    'share/dinov3_seg_ros/config/fastdds_shm_localhost.xml',
    'share/ament_index/resource_index/packages/dinov3_seg_ros',
)
EXECUTABLES = ('segmentation_node', 'segmentation_lifecycle_node', 'image_publisher',
               'dinov3-seg-demo', 'dinov3-seg-ros-bench', 'dinov3-seg-infer', 'dinov3-seg-export',
               'dinov3-seg-bag')


def _colcon():
    found = shutil.which('colcon') or os.path.join(os.path.dirname(sys.executable), 'colcon')
    if not os.path.isfile(found):
        pytest.skip('colcon is not installed')
    return found


def _run(command, cwd, env, timeout=120):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (
        f'{" ".join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}')
    return result.stdout


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """A colcon workspace with a copy of this package, built once for the module."""
    colcon = _colcon()
    ws = tmp_path_factory.mktemp('colcon_ws')
    shutil.copytree(ROOT, ws / 'src' / PACKAGE, ignore=shutil.ignore_patterns(*IGNORED))
    env = dict(os.environ, AMENT_PREFIX_PATH=os.environ.get('AMENT_PREFIX_PATH', sys.prefix),
               PYTHONDONTWRITEBYTECODE='1')
    _run([colcon, 'build', '--base-paths', 'src', '--event-handlers', 'console_direct-'],
         ws, env)
    return ws, colcon, env


@pytest.mark.slow
def test_colcon_build_installs_the_ros_layout(workspace):
    ws, _, env = workspace
    prefix = ws / 'install' / PACKAGE
    for path in INSTALLED:
        assert (prefix / path).is_file(), f'not installed: {path}'
    for name in EXECUTABLES:  # ros2 run looks in lib/<package>
        script = prefix / 'lib' / PACKAGE / name
        assert script.is_file() and os.access(script, os.X_OK), name
    # the installed copy is importable, found through the ament index and runnable
    site = next((prefix / 'lib').glob('python3*/site-packages'))
    run_env = dict(env, PYTHONPATH=os.pathsep.join([str(site), env.get('PYTHONPATH', '')]),
                   AMENT_PREFIX_PATH=os.pathsep.join([str(prefix), env['AMENT_PREFIX_PATH']]))
    out = _run([sys.executable, '-c',
                'import dinov3_seg_ros, ament_index_python.packages as p; '
                'print(dinov3_seg_ros.__file__); '
                f'print(p.get_package_share_directory("{PACKAGE}"))'], ws, run_env)
    module_file, share = out.split()
    assert module_file.startswith(str(site))
    assert share == str(prefix / 'share' / PACKAGE)
    usage = _run([str(prefix / 'lib' / PACKAGE / 'image_publisher'), '--help'], ws, run_env)
    assert '--rate' in usage and '--reliable' in usage
    # what `ros2 run dinov3_seg_ros <script>` starts: the node's usage and a non-ROS CLI
    usage = _run([str(prefix / 'lib' / PACKAGE / 'segmentation_node'), '--help'], ws,
                 dict(run_env, ROS_DOMAIN_ID='not-a-number'))  # no rclpy.init
    assert usage.startswith('usage: segmentation_node') and 'head_weights' in usage
    usage = _run([str(prefix / 'lib' / PACKAGE / 'dinov3-seg-infer'), '--help'], ws, run_env)
    assert 'usage: dinov3-seg-infer' in usage


@pytest.mark.slow
def test_colcon_test_runs_a_fast_subset(workspace):
    ws, colcon, env = workspace
    _run([colcon, 'test', '--base-paths', 'src', '--event-handlers', 'console_direct-',
          '--pytest-args', *FAST_TESTS, '-p', 'no:cacheprovider'], ws, env, timeout=300)
    report = ET.parse(ws / 'build' / PACKAGE / 'pytest.xml').getroot()
    suite = report if report.tag == 'testsuite' else report.find('testsuite')
    tests, failures, errors = (int(suite.get(k)) for k in ('tests', 'failures', 'errors'))
    skipped = int(suite.get('skipped', 0))
    assert tests > 0 and tests - skipped > 0
    problems = [f'{case.get("name")}: {child.get("message")}' for case in suite.iter('testcase')
                for child in case if child.tag in ('failure', 'error')]
    assert failures == 0 and errors == 0, problems
    names = {case.get('classname', '') for case in suite.iter('testcase')}
    assert any('test_ros_launch' in name for name in names)
    summary = _run([colcon, 'test-result', '--verbose', '--test-result-base', 'build'], ws, env)
    assert f'{tests} tests, 0 errors, 0 failures' in summary
