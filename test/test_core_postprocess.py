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

"""The fast logits -> labels path agrees with bilinear upsampling + argmax on real photos."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dinov3_seg_ros.core.backbone import build_backbone
from dinov3_seg_ros.core.checkpoint import load_head_checkpoint
from dinov3_seg_ros.core.heads import ASPPHead, HeadConfig
from dinov3_seg_ros.core.postprocess import bilinear_axis, confidence_map, label_dtype
from dinov3_seg_ros.core.postprocess import labels_from_logits, postprocess, reference_labels
from dinov3_seg_ros.core.preprocess import Preprocessor, ResizeInfo

REQUIRED_AGREEMENT = 0.995


def chunked_reference(logits, height, width, chunk=16):
    """reference_labels with bounded memory: bilinear upsampling + argmax, chunk by chunk."""
    x = torch.as_tensor(np.asarray(logits, np.float32)).reshape(1, -1, *logits.shape[-2:])
    best = index = None
    for start in range(0, x.shape[1], chunk):
        up = F.interpolate(x[:, start:start + chunk], size=(height, width), mode='bilinear',
                           align_corners=False)[0]
        value, arg = up.max(0)
        if best is None:
            best, index = value, arg
        else:
            better = value > best  # strict: ties keep the first class, like argmax
            best = torch.where(better, value, best)
            index = torch.where(better, arg + start, index)
    return index.numpy()


@pytest.fixture(scope='module')
def photo_logits(photos, meta_vits16plus_pth, upstream_head_reference):
    """Logits of the seed-0 DINOv3 backbone + (reference head, random head) on three photos."""
    backbone = build_backbone('vits16plus', meta_vits16plus_pth)
    reference_head = load_head_checkpoint(upstream_head_reference[1]).build()
    torch.manual_seed(1)
    random_head = ASPPHead(HeadConfig()).eval()
    pre = Preprocessor('224', backbone.mean, backbone.std)
    out = {}
    with torch.inference_mode():
        for name, rgb in photos.items():
            x, info = pre(rgb)
            features = backbone(x)
            out[name, 'reference head'] = (reference_head(features).numpy(), info)
            out[name, 'random head'] = (random_head(features).numpy(), info)
    return out


def test_agreement_with_the_reference_on_photos(photo_logits):
    agreements = {}
    for (photo, head), (logits, info) in photo_logits.items():
        for height, width in ((info.height, info.width), (377, 601)):
            expected = chunked_reference(logits, height, width)
            labels = labels_from_logits(logits, height, width)
            assert labels.shape == (height, width) and labels.dtype == np.uint8
            agreements[photo, head, height] = float((labels == expected).mean())
    print('agreement with bilinear + argmax:',
          {k: f'{v:.6f}' for k, v in agreements.items()})
    assert min(agreements.values()) >= REQUIRED_AGREEMENT
    assert np.mean(list(agreements.values())) >= 0.9999  # exact up to float ties


def test_random_head_gives_real_boundaries(photo_logits):
    """Guard against a vacuous agreement test: the random head labels several classes."""
    for (photo, head), (logits, info) in photo_logits.items():
        if head == 'random head':
            assert np.unique(labels_from_logits(logits, info.height, info.width)).size >= 2


@pytest.mark.parametrize('num_classes, smooth', [(134, True), (134, False), (300, False)])
def test_agreement_on_synthetic_logits(num_classes, smooth):
    rng = np.random.default_rng(num_classes)
    if smooth:  # blob-like maps, many classes present
        coarse = torch.from_numpy(rng.standard_normal((1, num_classes, 6, 8)).astype(np.float32))
        logits = F.interpolate(coarse, size=(24, 32), mode='bicubic').numpy()
    else:  # white noise: the worst case, every cell has a boundary
        logits = rng.standard_normal((1, num_classes, 12, 16)).astype(np.float32)
    labels = labels_from_logits(logits, 150, 203)
    assert labels.dtype == label_dtype(num_classes)
    assert (labels == chunked_reference(logits, 150, 203)).mean() >= 0.9999


@pytest.mark.parametrize('size', [(1, 1), (7, 5), (16, 16), (40, 30), (9, 300)])
def test_odd_output_sizes_including_downsampling(size):
    logits = np.random.default_rng(0).standard_normal((1, 6, 16, 16)).astype(np.float32)
    labels = labels_from_logits(logits, *size)
    assert labels.shape == size
    assert (labels == reference_labels(logits, *size)).mean() >= 0.999


def test_bilinear_axis_matches_torch():
    for n_in, n_out in ((30, 480), (40, 640), (22, 1080), (16, 7)):
        i0, i1, w = bilinear_axis(n_in, n_out)
        ramp = torch.arange(n_in, dtype=torch.float64).view(1, 1, 1, n_in)
        expected = F.interpolate(ramp, size=(1, n_out), mode='bilinear',
                                 align_corners=False).view(-1).numpy()
        np.testing.assert_allclose(i0 * (1 - w) + i1 * w, expected, atol=1e-6)


def test_label_dtype_switches_above_256_classes():
    assert label_dtype(256) is np.uint8 and label_dtype(257) is np.uint16
    logits = np.zeros((1, 300, 2, 2), np.float32)
    logits[0, 299] = 1.0
    labels = labels_from_logits(logits, 4, 4)
    assert labels.dtype == np.uint16 and np.all(labels == 299)


def test_tensor_and_array_inputs_agree():
    logits = torch.randn(1, 5, 6, 8)
    a = labels_from_logits(logits, 48, 64)
    b = labels_from_logits(logits.numpy()[0], 48, 64)
    c = labels_from_logits(logits.half(), 48, 64)
    assert np.array_equal(a, b) and (a == c).mean() > 0.95


def test_confidence_only_on_request():
    logits = torch.randn(1, 5, 6, 8)
    info = ResizeInfo(48, 64, 96, 128)
    labels, conf = postprocess(logits, info)
    assert conf is None and labels.shape == (48, 64)
    labels, conf = postprocess(logits, info, confidence=True)
    assert conf.shape == (48, 64) and conf.dtype == np.float32
    assert conf.min() >= 1 / 5 - 1e-6 and conf.max() <= 1.0


def test_confidence_is_the_max_softmax_at_feature_resolution():
    logits = torch.randn(1, 7, 6, 8)
    conf = confidence_map(logits, 6, 8)
    expected = logits[0].softmax(0).max(0).values.numpy()
    np.testing.assert_allclose(conf, expected, rtol=1e-5)


def test_malformed_logits_are_rejected():
    with pytest.raises(ValueError):
        labels_from_logits(np.zeros((2, 3, 4, 4), np.float32), 8, 8)
    with pytest.raises(ValueError):
        labels_from_logits(np.zeros((4, 4), np.float32), 8, 8)
