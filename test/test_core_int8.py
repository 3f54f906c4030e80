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

"""Int8 OpenVINO IR export (NNCF): calibration images, metadata, agreement and the CLI."""

import contextlib
import io
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip('openvino')
pytest.importorskip('nncf')

from dinov3_seg_ros.cli import export as export_cli  # noqa: E402
from dinov3_seg_ros.core.export import calibration, int8 as int8_export  # noqa: E402
from dinov3_seg_ros.core.checkpoint import save_head_checkpoint  # noqa: E402
from dinov3_seg_ros.core.errors import CheckpointError, ConfigError  # noqa: E402
from dinov3_seg_ros.core.export.metadata import read_metadata  # noqa: E402
from dinov3_seg_ros.core.export.metadata import read_ir_metadata  # noqa: E402
from dinov3_seg_ros.core.backends.torch_backend import random_head  # noqa: E402

CLASSES = [f'class{i}' for i in range(8)]


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """CLI export of a random vits16 + He-scaled head, fixed 64x64, with --int8: (dir, out)."""
    folder = tmp_path_factory.mktemp('int8')
    head = random_head(384, CLASSES, seed=3)
    for value in head.state_dict.values():  # labels vary across the image, as trained ones do
        if value.ndim == 4:
            value.mul_(math.sqrt(2.0 / value[0].numel()) / 0.02)
    save_head_checkpoint(str(folder / 'head.pth'), head)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = export_cli.main([
            '--backbone', 'vits16', '--head-weights', str(folder / 'head.pth'),
            '--out', str(folder / 'm.onnx'), '--input-size', '64x64', '--static',
            '--exporter', 'legacy', '--int8', '--calibration-count', '3', '-q'])
    assert code == 0, out.getvalue()
    return folder, out.getvalue()


def test_cli_writes_int8_ir_and_reports(exported):
    folder, printed = exported
    assert (folder / 'm.xml').is_file() and (folder / 'm.bin').is_file()
    line = next(t for t in printed.splitlines() if 'label agreement' in t)
    agree = float(line.split('label agreement ')[1].split(',')[0])
    cosine = float(line.split('logits cosine ')[1].split()[0])
    assert 0.0 <= agree <= 1.0 and cosine > 0.9
    assert 'kept float: head' in printed and 'ms/frame' in printed
    assert 'calibrated on 3 images (skimage.data)' in printed


def test_ir_metadata_round_trips_with_precision_int8(exported):
    folder, _ = exported
    meta = read_ir_metadata(str(folder / 'm.xml'))
    onnx_meta = read_metadata(str(folder / 'm.onnx'))
    assert meta['precision'] == 'int8' and meta['calibration'] == {'count': 3,
                                                                   'source': 'skimage.data'}
    for key in ('kind', 'backbone', 'class_names', 'mean', 'std', 'export_size', 'outputs'):
        assert meta[key] == onnx_meta[key]
    assert meta['class_names'] == [CLASSES]
    with pytest.raises(CheckpointError, match='not found'):
        read_ir_metadata(str(folder / 'missing.xml'))


def test_int8_model_runs_in_openvino_without_torch(exported):
    folder, _ = exported
    script = (
        "import sys, json; sys.modules['torch'] = None\n"
        'import numpy as np, openvino as ov\n'
        'from dinov3_seg_ros.core.export.metadata import read_ir_metadata\n'
        f'path = {str(folder / "m.xml")!r}\n'
        'meta = read_ir_metadata(path)\n'
        "model = ov.Core().compile_model(path, 'CPU')\n"
        "h, w = meta['export_size']\n"
        'x = np.random.default_rng(0).standard_normal((1, 3, h, w)).astype(np.float32)\n'
        'y = model([x])[0]\n'
        "print(json.dumps({'shape': list(y.shape), 'finite': bool(np.isfinite(y).all()),"
        " 'torch': 'torch' in sys.modules and sys.modules['torch'] is not None}))\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {'shape': [1, len(CLASSES), 4, 4], 'finite': True, 'torch': False}


def test_quantize_reports_agreement_per_keep_choice(exported, tmp_path):
    folder, _ = exported
    meta = read_metadata(str(folder / 'm.onnx'))
    sources, _ = calibration.resolve_sources([])
    frames = list(calibration.calibration_images(sources, meta['export_size'], meta['mean'],
                                                 meta['std'], 4))
    report = int8_export.quantize_to_int8(str(folder / 'm.onnx'), str(tmp_path / 'q.xml'),
                                          frames, keep=('head', 'MVN'))
    assert 0.0 <= report.agreement <= 1.0 and report.cosine > 0.9
    assert report.min_cosine <= report.cosine
    import openvino
    patch, head = int8_export.convolutions(openvino.convert_model(str(folder / 'm.onnx')))
    assert len(patch) == 1 and len(head) >= 2  # the patch embedding; ASPP + classifier
    assert set(head) <= set(report.ignored) and patch[0] not in report.ignored
    assert len(report.ignored) > len(head)  # the LayerNorms (MVN) stayed float too
    assert read_ir_metadata(str(tmp_path / 'q.xml'))['keep_precise'] == ['head', 'MVN']
    with pytest.raises(ConfigError, match='should end with .xml'):
        int8_export.quantize_to_int8(str(folder / 'm.onnx'), str(tmp_path / 'q.onnx'), frames)


def test_calibration_folder_files_and_errors(tmp_path):
    import cv2
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[:, :15] = (255, 0, 0)
    cv2.imwrite(str(tmp_path / 'a.png'), rgb[:, :, ::-1])
    (tmp_path / 'notes.txt').write_text('not an image')
    sources, text = calibration.resolve_sources([str(tmp_path)])
    assert sources == [str(tmp_path / 'a.png')] and text == str(tmp_path)
    frames = list(calibration.calibration_images(sources, (32, 48), (0.5,) * 3, (0.5,) * 3, 2))
    assert len(frames) == 2 and frames[0].shape == (1, 3, 32, 48)
    assert frames[0].dtype == np.float32
    assert frames[0][0, 0, 0, 0] == pytest.approx(1.0) and frames[0][0, 0, 0, -1] < 0
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ConfigError, match='empty.*has no images'):
        calibration.resolve_sources([str(empty)])
    with pytest.raises(ConfigError, match='missing'):
        calibration.resolve_sources([str(tmp_path / 'missing')])
    (tmp_path / 'bad.jpg').write_bytes(b'not a jpeg')
    bad, _ = calibration.resolve_sources([str(tmp_path / 'bad.jpg')])
    with pytest.raises(ConfigError, match='bad.jpg'):
        list(calibration.calibration_images(bad, (32, 48), (0.5,) * 3, (0.5,) * 3))


def test_cli_missing_calibration_folder_is_one_line(tmp_path, capsys):
    code = export_cli.main(['--backbone', 'vits16', '--out', str(tmp_path / 'm.onnx'),
                            '--int8', '--calibration-images', str(tmp_path / 'nowhere')])
    err = capsys.readouterr().err.strip()
    assert code != 0 and err.startswith('error:') and len(err.splitlines()) == 1
    assert 'nowhere' in err and not (tmp_path / 'm.onnx').exists()
