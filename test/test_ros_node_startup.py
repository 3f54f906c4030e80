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

"""segmentation_node starting and stopping: compressed input, device auto, SIGTERM, bad start-ups.

Bad weights or no CUDA exit non-zero with one line; a node started here stops with exit 0.
"""

import signal

import cv2
import pytest
from sensor_msgs.msg import CompressedImage
import torch

from ros_node_client import NodeProcess, REPLY_S, ros_client, start_error, start_node
from ros_node_client import write_head
from ros_node_inputs import write_params

pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('startup')
    head = write_head(tmp / 'demo_head.pth')
    return tmp, head, write_params(tmp / 'params.yaml', head)


@pytest.fixture(scope='module')
def client():
    with ros_client('/cam/image', '/segmentation') as client:
        yield client


@pytest.fixture(scope='module')
def photo(photos):
    return cv2.resize(photos['chelsea'], (64, 48), interpolation=cv2.INTER_AREA)


def test_compressed_transport_auto_device_and_sigterm(files, client, photo):
    tmp, _, params = files
    process = start_node(client, ['/cam/image/compressed'], tmp, 'compressed', params,
                         '-p', 'input_size:=64', '-p', 'input_transport:=compressed',
                         '-p', 'device:=auto', '-r', '__ns:=/zip',
                         '-r', 'image:=/cam/image')  # reads /cam/image/compressed
    try:
        ok, png = cv2.imencode('.png', photo[:, :, ::-1])
        msg = CompressedImage(format='bgr8; png compressed bgr8', data=png.tobytes())
        out = client.request(msg, ('zip_labels', 'zip_overlay'), REPLY_S,
                             topic='/cam/image/compressed')
        assert (out['zip_labels'].width, out['zip_labels'].height) == (64, 48)
        assert out['zip_overlay'].encoding == 'bgr8'
    finally:
        code = process.stop(signal.SIGTERM)
    output = process.output()
    assert code == 0, output
    assert 'Traceback' not in output
    if not torch.cuda.is_available():  # auto falls back to the CPU with a warning
        assert any('WARN' in line and 'cpu' in line.lower() for line in output.splitlines())


@pytest.mark.parametrize('case', ['garbage', 'missing', 'cuda'])
def test_startup_failures_exit_nonzero_with_one_clear_line(files, case):
    tmp, head, params = files
    if case == 'cuda' and torch.cuda.is_available():
        pytest.skip('CUDA is available here')
    garbage = tmp / 'garbage.pth'
    garbage.write_bytes(b'this is not a checkpoint' * 10)
    args = {'garbage': ['-p', f'head_weights:={garbage}'],
            'missing': ['-p', f'head_weights:={tmp / "nope.pth"}'],
            'cuda': ['-p', 'device:=cuda']}[case]
    error = start_error(NodeProcess(tmp, f'fail_{case}', params, '-r', f'__ns:=/fail_{case}',
                                    *args))
    expected = {'garbage': 'garbage.pth', 'missing': 'nope.pth', 'cuda': 'cuda'}[case]
    assert expected in (error.lower() if case == 'cuda' else error)
