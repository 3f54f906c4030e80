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

"""Layering rules: core, training and the offline CLIs run without ROS; the node never
loads training.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BLOCKED = ('rclpy', 'sensor_msgs', 'std_msgs')

IMPORT_PROBE = r'''
import importlib, json, pkgutil, sys
for name in {blocked!r}:
    sys.modules[name] = None  # any import of it now raises ImportError
package = importlib.import_module({package!r})
names = sorted(m.name for m in pkgutil.walk_packages(package.__path__, {package!r} + '.'))
names += {extra!r}
failed = {{}}
for name in names:
    try:
        importlib.import_module(name)
    except ImportError as exc:
        failed[name] = str(exc)
ros = sorted(m for m in sys.modules
             if m.split('.')[0] in ('rclpy', 'rosidl_runtime_py', 'sensor_msgs', 'std_msgs')
             and sys.modules[m] is not None)
print(json.dumps({{'imported': names, 'failed': failed, 'ros_modules': ros}}))
'''

NODE_PROBE = r'''
import json, sys
import dinov3_seg_ros.ros.node  # noqa: F401
print(json.dumps(sorted(m for m in sys.modules if m.startswith('dinov3_seg_ros.training'))))
'''


def _probe(code: str):
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _import_without_ros(package: str, extra: list) -> dict:
    return _probe(IMPORT_PROBE.format(blocked=BLOCKED, package=package, extra=extra))


def test_core_and_infer_cli_import_without_rclpy():
    report = _import_without_ros('dinov3_seg_ros.core',
                                 ['dinov3_seg_ros.cli.common', 'dinov3_seg_ros.cli.infer',
                                  'dinov3_seg_ros.cli.options', 'dinov3_seg_ros.cli.bench',
                                  'dinov3_seg_ros.benchmark.stages',
                                  'dinov3_seg_ros.benchmark.compare',
                                  'dinov3_seg_ros.benchmark.flops'])
    assert 'dinov3_seg_ros.core.segmenter' in report['imported']
    assert 'dinov3_seg_ros.core.preprocess' in report['imported']
    assert report['failed'] == {}, f'modules that need rclpy: {report["failed"]}'
    assert report['ros_modules'] == []


def test_training_and_offline_clis_import_without_ros():
    report = _import_without_ros('dinov3_seg_ros.training',
                                 ['dinov3_seg_ros.cli.train', 'dinov3_seg_ros.cli.evaluate',
                                  'dinov3_seg_ros.cli.prepare_coco', 'dinov3_seg_ros.cli.export'])
    assert 'dinov3_seg_ros.training.engine' in report['imported']
    assert report['failed'] == {}, f'modules that need ROS: {report["failed"]}'
    assert report['ros_modules'] == []


def test_the_node_never_imports_training():
    assert _probe(NODE_PROBE) == []
