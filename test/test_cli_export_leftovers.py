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

"""dinov3-seg-export --int8: checks before the long export, leaves nothing on failure."""

import pytest

pytest.importorskip('openvino')
pytest.importorskip('nncf')

from dinov3_seg_ros.cli import export as export_cli  # noqa: E402
from dinov3_seg_ros.core.errors import ConfigError  # noqa: E402
from dinov3_seg_ros.core.export import int8 as int8_export  # noqa: E402
from dinov3_seg_ros.core.export import onnx as onnx_export  # noqa: E402

ARGS = ['--backbone', 'vits16', '--input-size', '32x32', '--static', '--exporter', 'legacy',
        '--int8', '-q']


def test_a_corrupt_calibration_image_fails_before_the_export(tmp_path, capsys, monkeypatch):
    import cv2
    import numpy as np
    cv2.imwrite(str(tmp_path / 'a_good.png'), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / 'bad.jpg').write_bytes(b'\xff\xd8 not a jpeg')
    exports = []
    real = onnx_export.export_fused
    monkeypatch.setattr(onnx_export, 'export_fused',
                        lambda *a, **k: exports.append(1) or real(*a, **k))
    code = export_cli.main(ARGS + ['--out', str(tmp_path / 'm.onnx'),
                                   '--calibration-images', str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith('error:') and 'bad.jpg' in err, err
    assert exports == [] and not (tmp_path / 'm.onnx').exists()


def test_a_failed_int8_step_leaves_no_onnx(tmp_path, capsys, monkeypatch):
    def failing(onnx_path, xml_path, frames, **kwargs):
        assert (tmp_path / 'm.onnx').exists()  # the float export was written
        (tmp_path / 'm.xml').write_text('<partial/>')
        raise ConfigError('int8: quantization failed')
    monkeypatch.setattr(int8_export, 'quantize_to_int8', failing)
    (tmp_path / 'other.onnx').write_bytes(b'kept')
    code = export_cli.main(ARGS + ['--out', str(tmp_path / 'm.onnx'),
                                   '--calibration-count', '1'])
    err = capsys.readouterr().err.strip()
    assert code == 2 and 'quantization failed' in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['other.onnx']
