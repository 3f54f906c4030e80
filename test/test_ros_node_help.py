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

"""segmentation_node --help / segmentation_lifecycle_node --help: usage, exit 0, no rclpy.init."""

import os
import subprocess
import sys

import pytest

from dinov3_seg_ros.ros import params as P
from dinov3_seg_ros.ros.usage import usage, wants_help

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize('module, prog', [('node', 'segmentation_node'),
                                          ('lifecycle_node', 'segmentation_lifecycle_node')])
def test_help_prints_usage_and_exits_0_without_rclpy_init(module, prog):
    # rclpy.init fails on a non-numeric ROS_DOMAIN_ID: exit 0 proves it never ran
    env = {**os.environ, 'ROS_DOMAIN_ID': 'not-a-number'}
    result = subprocess.run([sys.executable, '-m', f'dinov3_seg_ros.ros.{module}', '--help'],
                            capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f'usage: {prog} ')
    for name in P.parameter_names():
        assert f'\n  {name} (' in result.stdout, name
    for topic in ('segmentation/labels', 'segmentation/confidence', 'segmentation/camera_info',
                  'segmentation/label_info', 'segmentation/enable', 'camera_info'):
        assert topic in result.stdout
    assert ('ros2 lifecycle set' in result.stdout) == (module == 'lifecycle_node')
    assert 'Traceback' not in result.stderr


def test_help_is_only_the_programs_own_argument():
    assert wants_help(['segmentation_node', '-h'])
    assert wants_help(['segmentation_node', '--help', '--ros-args', '-p', 'a:=1'])
    assert not wants_help(['segmentation_node', '--ros-args', '--help'])  # rcl's own flag
    assert not wants_help(['segmentation_node'])


def test_usage_lists_choices_and_run_time_parameters():
    text = usage('segmentation_node')
    dynamic = [spec for spec in P.SPECS if not spec.read_only]
    assert dynamic
    for spec in dynamic:
        assert f'  {spec.name} (default {spec.default!r}, changes at run time)' in text
    assert 'One of: auto, torch, onnxruntime, openvino.' in ' '.join(text.split())


def test_help_states_the_dtype_rule_and_the_label_encoding_the_code_uses():
    from dinov3_seg_ros.core.postprocess import label_dtype
    import numpy as np
    text = ' '.join(usage('segmentation_node').split())
    assert 'float16 on CUDA, float32 on CPU' not in text
    assert ('auto (on the CPU bfloat16 when it has native bf16, AMX-BF16 or AVX512-BF16, else '
            'float32; on CUDA bfloat16 where the GPU supports it, else float16)') in text
    assert 'class ids (mono8 up to 256 classes, mono16 above)' in text
    assert label_dtype(256) is np.uint8 and label_dtype(257) is np.uint16


@pytest.mark.parametrize('module, prog', [('node', 'segmentation_node'),
                                          ('lifecycle_node', 'segmentation_lifecycle_node')])
def test_a_params_file_rcl_cannot_read_is_one_line_and_exit_1(module, prog, tmp_path):
    missing = str(tmp_path / 'missing.yaml')
    result = subprocess.run([sys.executable, '-m', f'dinov3_seg_ros.ros.{module}', '--ros-args',
                             '--params-file', missing], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 1 and 'Traceback' not in result.stderr, result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith(f'{prog}: ')]
    assert len(ours) == 1 and 'cannot start' in ours[0] and missing in ours[0]
