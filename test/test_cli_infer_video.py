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

"""dinov3-seg-infer on video files: an overlay video of the same size, lossless labels per
frame equal to the Segmenter's on the decoded frames, --every N, one error line for a
corrupt video."""

import os

import cv2
import numpy as np

from dinov3_seg_ros.cli.infer import main
from dinov3_seg_ros.core.config import ModelConfig
from dinov3_seg_ros.core.segmenter import Segmenter

MODEL = ['--backbone', 'vits16', '--input-size', '64', '--backend', 'torch',
         '--dtype', 'float32', '--device', 'cpu', '-q']


def write_video(path, frames=5, fps=10.0, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, size)
    assert writer.isOpened()
    y, x = np.mgrid[0:size[1], 0:size[0]]
    for i in range(frames):
        bgr = np.stack([x * 4, y * 5, (x + y) * 2 + 30 * i], -1).astype(np.uint8)
        bgr[10:30, 4 * i:4 * i + 20] = (20, 200, 250)
        writer.write(bgr)
    writer.release()
    return path


def decoded_frames(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, fps


def test_video_gives_overlay_video_and_lossless_labels(tmp_path, capsys):
    video = write_video(tmp_path / 'drive.mp4')
    out = tmp_path / 'out'
    assert main([str(video), '--out-dir', str(out), '--every', '2', *MODEL]) == 0
    assert '3 of 5 frames segmented (every 2)' in capsys.readouterr().out
    assert sorted(os.listdir(out / 'drive_labels')) == ['000000.png', '000002.png',
                                                        '000004.png']
    overlay, overlay_fps = decoded_frames(out / 'drive_overlay.mp4')
    source, fps = decoded_frames(video)
    assert len(overlay) == 3 and overlay[0].shape == (48, 64, 3)
    assert abs(overlay_fps - fps / 2) < 1e-3  # every 2nd frame: the duration is kept
    segmenter = Segmenter(ModelConfig(backbone='vits16', input_size='64', backend='torch',
                                      dtype='float32', device='cpu'))
    for index in (0, 2, 4):
        labels = cv2.imread(str(out / 'drive_labels' / f'{index:06d}.png'), cv2.IMREAD_UNCHANGED)
        assert labels.dtype == np.uint8 and labels.shape == (48, 64)
        np.testing.assert_array_equal(labels, segmenter(source[index]).labels)


def test_corrupt_video_is_one_error_line_and_no_output(tmp_path, capsys):
    bad = tmp_path / 'broken.mp4'
    bad.write_bytes(b'\x00\x00\x00\x18ftypmp42' + os.urandom(2000))
    out = tmp_path / 'out'
    assert main([str(bad), '--out-dir', str(out), *MODEL]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot read video '"), err
    assert os.listdir(out) == []
