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

"""House rules that keep the layers apart: the node never loads training, training never ROS."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NODE_PROBE = r'''
import json, sys
import dinov3_seg_ros.ros.node  # noqa: F401
print(json.dumps(sorted(m for m in sys.modules if m.startswith('dinov3_seg_ros.training'))))
'''

TRAINING_PROBE = r'''
import importlib, json, pkgutil, sys
for name in ('rclpy', 'sensor_msgs', 'std_msgs'):
    sys.modules[name] = None  # importing them now raises ImportError
import dinov3_seg_ros.training as training
names = sorted(m.name for m in pkgutil.walk_packages(training.__path__,
                                                      'dinov3_seg_ros.training.'))
names += ['dinov3_seg_ros.cli.train', 'dinov3_seg_ros.cli.evaluate',
          'dinov3_seg_ros.cli.prepare_coco', 'dinov3_seg_ros.cli.export']
failed = {}
for name in names:
    try:
        importlib.import_module(name)
    except ImportError as exc:
        failed[name] = str(exc)
print(json.dumps({'imported': names, 'failed': failed}))
'''


def _probe(code: str):
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_node_never_imports_training():
    assert _probe(NODE_PROBE) == []


def test_training_and_offline_clis_import_without_ros():
    report = _probe(TRAINING_PROBE)
    assert 'dinov3_seg_ros.training.engine' in report['imported']
    assert report['failed'] == {}, f'modules that need ROS: {report["failed"]}'
