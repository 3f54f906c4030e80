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

"""The core and the offline CLI never import rclpy (they run on machines without ROS)."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROBE = r'''
import importlib, json, pkgutil, sys
sys.modules['rclpy'] = None  # any 'import rclpy' now raises ImportError
import dinov3_seg_ros.core as core
names = sorted(m.name for m in pkgutil.walk_packages(core.__path__, 'dinov3_seg_ros.core.'))
names += ['dinov3_seg_ros.cli.common', 'dinov3_seg_ros.cli.infer']
failed = {}
for name in names:
    try:
        importlib.import_module(name)
    except ImportError as exc:
        failed[name] = str(exc)
ros = sorted(m for m in sys.modules
             if m.split('.')[0] in ('rclpy', 'rosidl_runtime_py', 'sensor_msgs', 'std_msgs')
             and sys.modules[m] is not None)
print(json.dumps({'imported': names, 'failed': failed, 'ros_modules': ros}))
'''


def test_core_and_infer_cli_import_without_rclpy():
    result = subprocess.run([sys.executable, '-c', PROBE], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert 'dinov3_seg_ros.core.segmenter' in report['imported']
    assert 'dinov3_seg_ros.core.preprocess' in report['imported']
    assert report['failed'] == {}, f'modules that need rclpy: {report["failed"]}'
    assert report['ros_modules'] == []
