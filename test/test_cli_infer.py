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

"""dinov3-seg-infer: exact outputs on the reference image, input conversions, and one-line
errors (exit code 2, no traceback) for every kind of bad file."""

import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from dinov3_seg_ros.cli.infer import main, read_rgb
from dinov3_seg_ros.core.checkpoint import DEFAULT_CLASSES_FILE, HeadCheckpoint
from dinov3_seg_ros.core.checkpoint import load_head_checkpoint, save_head_checkpoint
from dinov3_seg_ros.core.errors import ImageError
from dinov3_seg_ros.core.heads import build_head, HeadConfig
from dinov3_seg_ros.core.postprocess import labels_from_logits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_rgb(path, rgb):
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return str(path)


def assert_one_error_line(capsys, code, *fragments):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith('error: '), err
    assert 'Traceback' not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_reference_image_gives_the_exact_features_logits_and_labels(
        tmp_path, dinov3_reference, meta_vits16plus_pth, upstream_head_reference):
    data, _ = dinov3_reference
    head_data, head_path = upstream_head_reference
    image = write_rgb(tmp_path / 'ref.png', data['image_480x640'])
    out = tmp_path / 'out'
    code = main([image, '--out-dir', str(out), '--backbone', 'vits16plus',
                 '--backbone-weights', meta_vits16plus_pth, '--head-weights', head_path,
                 '--classes-file', DEFAULT_CLASSES_FILE, '--input-size', 'native',
                 '--device', 'cpu', '--save-features', '--save-logits'])
    assert code == 0
    features = np.load(out / 'ref_features.npy')
    logits = np.load(out / 'ref_logits.npy')
    assert features.dtype == np.float32 and features.shape == (384, 30, 40)
    assert logits.dtype == np.float32 and logits.shape == (134, 30, 40)
    # the whole CLI path (PNG, RGB, normalization, backbone) is Meta's reference
    assert np.abs(features - data['features_480x640'][0]).max() <= 1e-5
    # the logits are the upstream head applied to the saved features
    with torch.inference_mode():
        expected = load_head_checkpoint(head_path).build()(torch.from_numpy(features)[None])
    assert np.abs(logits - expected[0].numpy()).max() <= 1e-4
    labels = cv2.imread(str(out / 'ref_labels.png'), cv2.IMREAD_UNCHANGED)
    assert labels.dtype == np.uint8 and labels.shape == (480, 640)
    assert np.array_equal(labels, labels_from_logits(logits, 480, 640))
    overlay = cv2.imread(str(out / 'ref_overlay.png'), cv2.IMREAD_UNCHANGED)
    assert overlay.shape == (480, 640, 3)


@pytest.fixture(scope='module')
def converted_inputs(tmp_path_factory, photos):
    """Gray, RGBA, 16-bit gray and palette inputs through one CLI run: a random backbone and
    a 3-class project checkpoint (self-describing: names, backbone)."""
    src = tmp_path_factory.mktemp('inputs')
    head = HeadConfig(in_channels=384, num_classes=3)
    save_head_checkpoint(str(src / 'three.pth'), HeadCheckpoint(
        build_head(head).state_dict(), head, ['sky', 'road', 'car'], backbone='vits16'))
    rgb = photos['astronaut'][::8, ::8]  # 64x64
    from PIL import Image
    Image.fromarray(rgb[:, :48, 0]).save(src / 'gray.png')
    Image.fromarray(np.dstack([rgb[:40], np.full((40, 64), 128, np.uint8)])).save(
        src / 'rgba.png')
    Image.fromarray((rgb[:, :, 1].astype(np.uint16) * 257)).save(src / 'deep.png')
    Image.fromarray(rgb).convert('P').save(src / 'palette.png')
    Image.fromarray(rgb).save(src / 'photo.jpg')
    out = tmp_path_factory.mktemp('out')
    names = ['gray.png', 'rgba.png', 'deep.png', 'palette.png', 'photo.jpg']
    code = main([str(src / n) for n in names]
                + ['--out-dir', str(out), '--backbone', 'vits16', '--input-size', '32',
                   '--head-weights', str(src / 'three.pth'), '--device', 'cpu', '-q'])
    return code, src, out


def test_gray_rgba_and_deep_images_are_converted(converted_inputs):
    code, src, out = converted_inputs
    assert code == 0
    for stem, shape in (('gray', (64, 48)), ('rgba', (40, 64)), ('deep', (64, 64)),
                        ('palette', (64, 64)), ('photo', (64, 64))):
        labels = cv2.imread(str(out / f'{stem}_labels.png'), cv2.IMREAD_UNCHANGED)
        overlay = cv2.imread(str(out / f'{stem}_overlay.png'), cv2.IMREAD_UNCHANGED)
        assert labels.shape == shape and labels.dtype == np.uint8
        assert overlay.shape == shape + (3,)
        assert labels.max() < 3
    assert not list(out.glob('*.npy'))  # only on request


def test_read_rgb_conversions(converted_inputs):
    _, src, _ = converted_inputs
    gray = read_rgb(str(src / 'gray.png'))
    assert gray.shape == (64, 48, 3) and gray.dtype == np.uint8
    assert np.array_equal(gray[..., 0], gray[..., 2])
    deep = read_rgb(str(src / 'deep.png'))
    assert deep.dtype == np.uint8 and deep.max() > 200  # scaled from 16 bits, not clipped
    assert read_rgb(str(src / 'rgba.png')).shape == (40, 64, 3)


def test_untrained_overlay_has_the_banner(converted_inputs):
    _, _, out = converted_inputs
    overlay = cv2.imread(str(out / 'photo_overlay.png'))[..., ::-1]
    assert (overlay[0] == (200, 0, 0)).all(axis=-1).mean() > 0.9


@pytest.fixture
def good_image(tmp_path, photos):
    return write_rgb(tmp_path / 'good.png', photos['coffee'][::10, ::10])


def _run(capsys, *args):
    capsys.readouterr()
    return main(list(args))


def test_missing_head_weights(capsys, tmp_path, good_image):
    code = _run(capsys, good_image, '--out-dir', str(tmp_path / 'o'), '--device', 'cpu',
                '--head-weights', str(tmp_path / 'nope.pth'))
    assert_one_error_line(capsys, code, 'nope.pth')


@pytest.mark.parametrize('content', [b'', b'hello world', b'PK\x03\x04 truncated zip'])
def test_corrupt_head_weights(capsys, tmp_path, good_image, content):
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(content)
    code = _run(capsys, good_image, '--out-dir', str(tmp_path / 'o'), '--device', 'cpu',
                '--head-weights', str(bad))
    assert_one_error_line(capsys, code, 'bad.pth')


def test_truncated_head_weights(capsys, tmp_path, good_image, upstream_head_reference):
    data = open(upstream_head_reference[1], 'rb').read()
    bad = tmp_path / 'cut.pth'
    bad.write_bytes(data[:len(data) // 2])
    code = _run(capsys, good_image, '--out-dir', str(tmp_path / 'o'), '--device', 'cpu',
                '--head-weights', str(bad))
    assert_one_error_line(capsys, code, 'cut.pth')


def test_head_of_the_wrong_width(capsys, tmp_path, good_image):
    wide = tmp_path / 'wide.pth'
    torch.save(build_head(HeadConfig(in_channels=768, num_classes=7)).state_dict(), wide)
    names = tmp_path / 'names.txt'
    names.write_text(''.join(f'c{i}\n' for i in range(7)))
    code = _run(capsys, good_image, '--out-dir', str(tmp_path / 'o'), '--device', 'cpu',
                '--head-weights', str(wide), '--classes-file', str(names),
                '--backbone', 'vits16plus')
    assert_one_error_line(capsys, code, '768', '384')


def test_classes_file_of_the_wrong_length(capsys, tmp_path, good_image,
                                          upstream_head_reference):
    names = tmp_path / 'names.txt'
    names.write_text('cat\ndog\n')
    code = _run(capsys, good_image, '--out-dir', str(tmp_path / 'o'), '--device', 'cpu',
                '--head-weights', upstream_head_reference[1], '--classes-file', str(names))
    assert_one_error_line(capsys, code, '2 class names', '134')


def test_corrupt_backbone_weights(capsys, tmp_path, good_image, upstream_head_reference):
    bad = tmp_path / 'dinov3.pth'
    bad.write_bytes(b'\x80\x02garbage')
    code = _run(capsys, good_image, '--out-dir', str(tmp_path / 'o'), '--device', 'cpu',
                '--head-weights', upstream_head_reference[1], '--classes-file',
                DEFAULT_CLASSES_FILE, '--backbone-weights', str(bad))
    assert_one_error_line(capsys, code, 'dinov3.pth')


def test_bad_options_are_one_line(capsys, tmp_path, good_image):
    code = _run(capsys, good_image, '--out-dir', str(tmp_path / 'o'), '--input-size', 'huge')
    assert_one_error_line(capsys, code, '--input-size:')
    with pytest.raises(SystemExit) as exited:  # a choice argparse refuses, with the usage
        _run(capsys, good_image, '--out-dir', str(tmp_path / 'o'), '--backbone', 'vit99')
    err = capsys.readouterr().err
    assert exited.value.code == 2 and 'Traceback' not in err
    assert "--backbone: invalid choice: 'vit99'" in err and 'convnext_tiny' in err


def test_missing_image_fails_before_loading_anything(capsys, tmp_path, good_image):
    code = _run(capsys, good_image, str(tmp_path / 'absent.jpg'), '--out-dir',
                str(tmp_path / 'o'))
    assert_one_error_line(capsys, code, 'absent.jpg')
    assert not (tmp_path / 'o').exists()


def test_unreadable_image_is_reported_and_the_others_are_kept(capsys, tmp_path, good_image):
    data = open(good_image, 'rb').read()
    cut = tmp_path / 'cut.png'
    cut.write_bytes(data[:len(data) // 2])
    out = tmp_path / 'o'
    code = _run(capsys, str(cut), good_image, '--out-dir', str(out), '--device', 'cpu',
                '--backbone', 'vits16', '--input-size', '32', '-q')
    assert_one_error_line(capsys, code, 'cut.png')
    assert (out / 'good_labels.png').exists() and (out / 'good_overlay.png').exists()
    assert not (out / 'cut_labels.png').exists()
    with pytest.raises(ImageError, match='cut.png'):
        read_rgb(str(cut))


def test_console_script_exit_code_and_message(tmp_path):
    script = shutil.which('dinov3-seg-infer', path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, '-m', 'dinov3_seg_ros.cli.infer']
    result = subprocess.run(command + [str(tmp_path / 'missing.png'), '--out-dir',
                                       str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: image not found: '{tmp_path / 'missing.png'}'"


def test_folder_input_colored_output_and_input_size_line(capsys, tmp_path, photos):
    folder = tmp_path / 'frames'
    folder.mkdir()
    write_rgb(folder / 'a.png', photos['coffee'][::10, ::10])
    write_rgb(folder / 'b.jpg', photos['astronaut'][::8, ::8])
    (folder / 'notes.txt').write_text('not an image')
    out = tmp_path / 'o'
    code = _run(capsys, str(folder), '--out-dir', str(out), '--device', 'cpu', '--backbone',
                'vits16', '--input-size', '32', '--colored')
    captured = capsys.readouterr()
    assert code == 0, captured.err
    for stem in ('a', 'b'):
        labels = cv2.imread(str(out / f'{stem}_labels.png'), cv2.IMREAD_UNCHANGED)
        colored = cv2.imread(str(out / f'{stem}_colored.png'))[..., ::-1]
        assert colored.shape == labels.shape + (3,)
        colors = {}
        for value in np.unique(labels):  # one palette colour per class, distinct classes
            pixels = colored[labels == value]
            assert (pixels == pixels[0]).all()
            colors[int(value)] = tuple(pixels[0])
        assert len(set(colors.values())) == len(colors) > 1
    assert not (out / 'notes_labels.png').exists()
    size_lines = [line for line in captured.out.splitlines() if line.startswith('model input')]
    h, w = photos['coffee'][::10, ::10].shape[:2]
    assert len(size_lines) == 2 and f'for {w}x{h} images (input_size 32)' in size_lines[0]
    empty = tmp_path / 'empty'
    empty.mkdir()
    code = _run(capsys, str(empty), '--out-dir', str(out))
    assert_one_error_line(capsys, code, 'no images', 'empty')


def test_directory_given_as_weights_says_is_a_directory(capsys, tmp_path, good_image):
    for option in ('--head-weights', '--backbone-weights'):
        code = _run(capsys, good_image, '--out-dir', str(tmp_path / 'o'), '--device', 'cpu',
                    '--backbone', 'vits16', option, str(tmp_path))
        assert_one_error_line(capsys, code, 'is a directory', str(tmp_path))
