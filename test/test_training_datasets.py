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

"""SemanticSegmentationDataset over the prepared layout of the synthetic COCO fixture."""

import os
import shutil

from coco_fixture import write_synthetic_coco_panoptic
import cv2
from dinov3_seg_ros.cli.prepare_coco import main as prepare
from dinov3_seg_ros.core.errors import ConfigError, ImageError
from dinov3_seg_ros.core.preprocess import Preprocessor
from dinov3_seg_ros.training.datasets import SemanticSegmentationDataset
from dinov3_seg_ros.training.transforms import build_transforms
import numpy as np
import pytest
import torch

from test_core_quiet_opencv import corrupt_png

SPLIT = 'val2017'
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    """A pristine prepared fixture (void=ignore); tests that break files copy it first."""
    coco = write_synthetic_coco_panoptic(str(tmp_path_factory.mktemp('ds') / 'coco'), SPLIT,
                                         n_images=5)
    assert prepare(['--coco-root', coco.root, '--split', SPLIT, '--workers', '1', '-q']) == 0
    return coco


def _dataset(root, **kwargs):
    kwargs.setdefault('image_size', '64x48')
    return SemanticSegmentationDataset(root, SPLIT, mean=MEAN, std=STD, **kwargs)


def _copy(prepared, tmp_path):
    root = str(tmp_path / 'copy')
    shutil.copytree(prepared.root, root)
    return root


def test_sample_shapes_dtypes_and_metadata(prepared):
    dataset = _dataset(prepared.root)
    assert len(dataset) == 5
    assert dataset.class_names == prepared.class_names('ignore')
    assert dataset.num_classes == 6 and dataset.ignore_index == 255
    sample = dataset[0]
    assert sample['image'].dtype == torch.float32 and sample['image'].shape == (3, 48, 64)
    assert sample['label'].dtype == torch.int64 and sample['label'].shape == (48, 64)
    assert sample['path'] == os.path.join(prepared.image_dir, prepared.image_files[0])


def test_image_is_normalized_with_mean_and_std(prepared):
    dataset = _dataset(prepared.root)
    raw, sample = dataset.raw(1), dataset[1]
    assert raw['image'].dtype == np.uint8 and raw['image'].shape == (48, 64, 3)
    assert raw['label'].dtype == np.uint8 and raw['label'].shape == (48, 64)
    pixels = torch.from_numpy(raw['image']).permute(2, 0, 1).float() / 255
    expected = (pixels - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)
    torch.testing.assert_close(sample['image'], expected)
    assert abs(float(sample['image'].mean())) < 3.0  # normalized, not 0..255


def test_native_size_labels_equal_the_fixture_truth(prepared):
    dataset = _dataset(prepared.root, image_size=None)
    for index, name in enumerate(prepared.panoptic_files):
        label = dataset[index]['label'].numpy()
        assert label.shape == (64, 96)
        assert np.array_equal(label, prepared.expected_labels(name, 'ignore'))
        assert (label == 255).any() == (prepared.truth[name] == 0).any()


def test_resized_labels_use_nearest_and_images_follow(prepared):
    dataset = _dataset(prepared.root, image_size='48x32')
    native = _dataset(prepared.root, image_size=None)
    for index in range(len(dataset)):
        small, full = dataset.raw(index), native.raw(index)
        assert small['label'].shape == (32, 48)
        assert set(np.unique(small['label'])) <= set(np.unique(full['label']))
        expected = cv2.resize(full['label'], (48, 32), interpolation=cv2.INTER_NEAREST)
        assert np.array_equal(small['label'], expected)
        blurred = cv2.resize(full['image'], (48, 32), interpolation=cv2.INTER_AREA)
        assert np.array_equal(small['image'], blurred)  # 2x shrink: the box filter


@pytest.mark.parametrize('size, expected', [('native', (64, 96)), ('48', (32, 48)),
                                            ('96x64', (64, 96)), ('160', (112, 160))])
def test_input_size_modes_give_patch_multiples(prepared, size, expected):
    assert _dataset(prepared.root, image_size=size)[0]['label'].shape == expected


@pytest.mark.parametrize('size', ['64x48', '80', 'native'])
def test_training_inputs_equal_the_inference_preprocessing(prepared, size):
    dataset = _dataset(prepared.root, image_size=size)
    preprocess = Preprocessor(size, MEAN, STD)
    for index in (0, 3):
        frame = cv2.cvtColor(cv2.imread(dataset.samples[index][0]), cv2.COLOR_BGR2RGB)
        tensor, info = preprocess(frame)  # what the node feeds the model for this photo
        shape = (info.in_height, info.in_width)
        assert tensor.shape[2:] == dataset[index]['label'].shape == shape
        assert torch.equal(tensor[0], dataset[index]['image'])


def test_fixed_size_must_be_a_patch_multiple(prepared):
    with pytest.raises(ConfigError, match='multiple of 16'):
        _dataset(prepared.root, image_size='50x48')


def test_transform_runs_on_uint8_and_output_is_normalized(prepared):
    flip = build_transforms({'hflip': 1.0}, (48, 64))
    plain, flipped = _dataset(prepared.root), _dataset(prepared.root, transform=flip)
    a, b = plain[2], flipped[2]
    torch.testing.assert_close(b['image'], a['image'].flip(-1))
    assert torch.equal(b['label'], a['label'].flip(-1))


def test_background_layout_and_class_names_file(prepared, tmp_path):
    out = str(tmp_path / 'bg')
    assert prepare(['--coco-root', prepared.root, '--split', SPLIT, '--workers', '1',
                    '--void', 'background', '--out', out, '-q']) == 0
    names = os.path.join(out, 'class_names.txt')
    dataset = _dataset(prepared.root, class_names_file=names)
    assert dataset.num_classes == 7 and dataset.class_names[0] == 'background'


def test_validate_passes_on_good_data(prepared):
    assert _dataset(prepared.root).validate(check_values=True) == 5


def test_missing_label_is_reported_at_construction(prepared, tmp_path):
    root = _copy(prepared, tmp_path)
    os.remove(os.path.join(root, f'semantic_{SPLIT}', prepared.panoptic_files[3]))
    with pytest.raises(ConfigError, match=prepared.panoptic_files[3]):
        _dataset(root)


def test_missing_class_names_is_reported(prepared, tmp_path):
    root = _copy(prepared, tmp_path)
    os.remove(os.path.join(root, f'semantic_{SPLIT}', 'class_names.txt'))
    with pytest.raises(ConfigError, match='class_names.txt'):
        _dataset(root)


def test_validate_names_a_label_of_another_size(prepared, tmp_path):
    root = _copy(prepared, tmp_path)
    bad = os.path.join(root, f'semantic_{SPLIT}', prepared.panoptic_files[1])
    cv2.imwrite(bad, np.zeros((10, 12), np.uint8))
    dataset = _dataset(root)
    with pytest.raises(ImageError, match=f'1 of 5 samples are bad: label {bad} is 12x10'):
        dataset.validate()
    with pytest.raises(ImageError, match=prepared.panoptic_files[1]):
        dataset[1]


def test_label_ids_outside_the_classes_are_caught(prepared, tmp_path):
    root = _copy(prepared, tmp_path)
    bad = os.path.join(root, f'semantic_{SPLIT}', prepared.panoptic_files[0])
    label = cv2.imread(bad, cv2.IMREAD_UNCHANGED)
    label[0, 0] = 6  # one past the last class, not the ignore index
    cv2.imwrite(bad, label)
    dataset = _dataset(root)
    assert dataset.validate() == 5  # sizes are fine
    with pytest.raises(ImageError, match=r'holds ids \[6\]'):
        dataset.validate(check_values=True)
    with pytest.raises(ImageError, match=prepared.panoptic_files[0]):
        dataset[0]


def test_unreadable_image_is_named(prepared, tmp_path):
    root = _copy(prepared, tmp_path)
    bad = os.path.join(root, SPLIT, prepared.image_files[4])
    with open(bad, 'wb') as stream:
        stream.write(b'not a jpeg')
    dataset = _dataset(root)
    with pytest.raises(ImageError, match=prepared.image_files[4]):
        dataset[4]
    with pytest.raises(ImageError, match=prepared.image_files[4]):
        dataset.validate()


def test_a_corrupt_label_png_is_one_error_without_opencv_lines(prepared, tmp_path, capfd):
    root = _copy(prepared, tmp_path)
    label = os.path.join(root, f'semantic_{SPLIT}', os.path.splitext(
        prepared.image_files[1])[0] + '.png')
    assert os.path.isfile(label)
    with open(label, 'wb') as stream:
        stream.write(corrupt_png())
    capfd.readouterr()
    with pytest.raises(ImageError, match='cannot read label .*missing or corrupt'):
        _dataset(root)[1]
    assert capfd.readouterr().err == ''  # no '[ WARN:0@...]' line from OpenCV


def test_a_wrong_root_or_split_is_named_before_the_class_names(prepared, tmp_path):
    with pytest.raises(ConfigError, match=f'^dataset folder not found: {tmp_path}/nope$'):
        _dataset(str(tmp_path / 'nope'))
    with pytest.raises(ConfigError, match="image folder not found: .*/train2071 "
                                          r"\(is the split 'train2071' right\?\)"):
        SemanticSegmentationDataset(prepared.root, 'train2071', mean=MEAN, std=STD)
