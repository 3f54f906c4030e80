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

"""Input-size modes, normalization and frame validation of core.preprocess."""

import cv2
import numpy as np
import pytest
import torch

from dinov3_seg_ros.core.errors import ConfigError, ImageError
from dinov3_seg_ros.core.preprocess import model_input_size, normalization_lut, Preprocessor
from dinov3_seg_ros.core.preprocess import resize_rgb, ResizeInfo, round_to_patch

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def _reference_normalize(rgb, mean, std):
    """The formula every reference uses: float32 (x / 255 - mean) / std, NCHW."""
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


@pytest.mark.parametrize('frame, expected', [
    ((480, 640), (480, 640)),      # the default camera size stays as it is
    ((1080, 1920), (352, 640)),    # 640x360 -> nearest multiple of 16 (tie: fewer tokens)
    ((720, 1280), (352, 640)),
    ((640, 480), (640, 480)),      # portrait
    ((300, 451), (432, 640)),      # upscaled to the long side
    ((1000, 1), (640, 16)),        # at least one patch
    ((1, 1), (640, 640)),
])
def test_long_side_mode_keeps_the_aspect_ratio(frame, expected):
    assert model_input_size(*frame, '640') == expected


def test_long_side_mode_on_many_sizes():
    rng = np.random.default_rng(0)
    for _ in range(300):
        height, width = (int(v) for v in rng.integers(16, 4000, size=2))
        long_side = int(rng.choice([224, 320, 448, 640, 1024]))
        in_h, in_w = model_input_size(height, width, str(long_side))
        assert in_h % 16 == 0 and in_w % 16 == 0
        assert max(in_h, in_w) == long_side
        # each side within half a patch of the exact aspect-preserving size (or one patch)
        for side, exact in ((in_h, height * long_side / max(height, width)),
                            (in_w, width * long_side / max(height, width))):
            assert abs(side - exact) <= 8 or (side == 16 and exact < 16)


@pytest.mark.parametrize('text, expected', [('640x640', (640, 640)), ('320x240', (240, 320)),
                                            ('100x50', (48, 96))])
def test_fixed_mode_ignores_the_frame_size(text, expected):
    for frame in ((480, 640), (1080, 1920), (7, 3)):
        assert model_input_size(*frame, text) == expected


@pytest.mark.parametrize('frame, expected', [
    ((480, 640), (480, 640)), ((224, 224), (224, 224)), ((300, 451), (304, 448)),
    ((1080, 1920), (1072, 1920)), ((1, 1), (16, 16)), ((23, 25), (16, 32))])
def test_native_mode_rounds_only_when_needed(frame, expected):
    assert model_input_size(*frame, 'native') == expected


def test_round_to_patch_is_exact_integer_math():
    assert round_to_patch(360) == 352 and round_to_patch(361) == 368
    assert round_to_patch(1080 * 640, divisor=1920) == 352  # no float rounding at the tie
    assert round_to_patch(0) == 16 and round_to_patch(24) == 16 and round_to_patch(25) == 32


def test_input_size_parse_errors_name_the_key():
    with pytest.raises(ConfigError, match='input_size'):
        model_input_size(10, 10, 'big')


def test_native_frame_is_normalized_bit_exactly(photos):
    rgb = photos['astronaut'][:224, :320]
    pre = Preprocessor('native', *IMAGENET)
    x, info = pre(rgb)
    assert info == ResizeInfo(224, 320, 224, 320) and not info.resized
    assert info.feature_size == (14, 20)
    assert x.dtype == torch.float32 and x.shape == (1, 3, 224, 320) and x.device.type == 'cpu'
    assert torch.equal(x, _reference_normalize(rgb, *IMAGENET))


def test_mean_and_std_come_from_the_caller(photos):
    rgb = photos['coffee'][:64, :64]
    x, _ = Preprocessor('native', (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))(rgb)
    assert torch.equal(x, _reference_normalize(rgb, (0.5,) * 3, (0.5,) * 3))
    assert x.min() >= -1.0 and x.max() <= 1.0
    y, _ = Preprocessor('native', *IMAGENET)(rgb)
    assert not torch.allclose(x, y)


def test_lut_matches_the_float_formula():
    lut = normalization_lut(*IMAGENET)
    values = torch.arange(256, dtype=torch.float32) / 255.0
    for c in range(3):
        expected = (values - IMAGENET[0][c]) / IMAGENET[1][c]
        assert torch.equal(torch.from_numpy(lut[c]), expected)


def test_resized_frame_matches_cv2_resize_then_normalize(photos):
    rgb = photos['chelsea']  # 300x451
    x, info = Preprocessor('224', *IMAGENET)(rgb)
    assert (info.in_height, info.in_width) == (144, 224) and info.resized
    assert x.shape == (1, 3, 144, 224)
    expected = _reference_normalize(cv2.resize(rgb, (224, 144), interpolation=cv2.INTER_AREA),
                                    *IMAGENET)
    # integer-factor box filter + bilinear rest vs one INTER_AREA: same picture, within a few
    # grey levels on average
    assert (x - expected).abs().mean().item() < 0.05


def test_resize_shrinks_by_an_integer_factor_with_a_box_filter():
    rgb = np.zeros((96, 96, 3), np.uint8)
    rgb[::2, ::2] = 255  # aliasing bait: every other pixel white
    out = resize_rgb(rgb, 48, 48)
    assert out.shape == (48, 48, 3) and out.flags['C_CONTIGUOUS']
    assert np.all(np.abs(out.astype(int) - 64) <= 1)  # averaged, not sampled


def test_strided_views_give_the_same_tensor(photos):
    bgr = np.ascontiguousarray(photos['astronaut'][:, :, ::-1])
    view = bgr[::2, ::2, ::-1]  # an RGB view with negative channel stride
    pre = Preprocessor('128', *IMAGENET)
    a, _ = pre(view)
    b, _ = pre(np.ascontiguousarray(view))
    assert torch.equal(a, b)


@pytest.mark.parametrize('bad', [
    np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8),
    np.zeros((10, 10, 3), np.float32), np.zeros((0, 10, 3), np.uint8),
    np.zeros((10, 0, 3), np.uint8), [[1, 2, 3]]])
def test_malformed_frames_raise_image_error(bad):
    with pytest.raises(ImageError):
        Preprocessor('64', *IMAGENET)(bad)


def test_one_pixel_frame_is_accepted():
    x, info = Preprocessor('native', *IMAGENET)(np.full((1, 1, 3), 200, np.uint8))
    assert x.shape == (1, 3, 16, 16) and info.feature_size == (1, 1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_upload_matches_the_cpu_path(photos):
    rgb = photos['astronaut'][:224, :320]
    gpu, _ = Preprocessor('native', *IMAGENET, device='cuda')(rgb)
    cpu, _ = Preprocessor('native', *IMAGENET)(rgb)
    assert gpu.device.type == 'cuda'
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=0)


def test_reused_output_buffer_holds_the_same_values(photos):
    rgb = photos['coffee'][:96, :128]
    shared = Preprocessor('native', *IMAGENET, reuse_output=True)
    first, _ = shared(rgb)
    expected = first.clone()
    second, _ = shared(rgb[::-1].copy())
    assert first.data_ptr() == second.data_ptr()  # one buffer, rewritten in place
    assert torch.equal(Preprocessor('native', *IMAGENET)(rgb)[0], expected)
    assert not torch.equal(second, expected)
