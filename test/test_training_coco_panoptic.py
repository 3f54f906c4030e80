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

"""COCO panoptic -> semantic labels: pure conversion and the dinov3-seg-prepare-coco CLI."""

import json
import os
import shutil
import subprocess
import sys

from coco_fixture import write_synthetic_coco_panoptic
import cv2
from dinov3_seg_ros.cli.prepare_coco import main
from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.training import coco_panoptic as cp
import numpy as np
import pytest

SPLIT = 'val2017'


def _encode(ids: np.ndarray) -> np.ndarray:
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536], -1).astype(np.uint8)


def _run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _labels(folder, names):
    return {n: cv2.imread(os.path.join(folder, n), cv2.IMREAD_UNCHANGED) for n in names}


@pytest.fixture()
def coco(tmp_path):
    return write_synthetic_coco_panoptic(str(tmp_path / 'coco'), SPLIT, n_images=6)


def test_segment_ids_decode_all_three_channels():
    ids = np.array([[0, 1, 255, 256], [65535, 65536, 16777215, 3226956]], np.int64)
    assert np.array_equal(cp.segment_ids(_encode(ids)), ids)


def test_panoptic_to_semantic_maps_segments_and_voids():
    ids = np.array([[0, 70000, 70000], [5, 5, 999]], np.int64)  # 999 is not in segments
    labels = cp.panoptic_to_semantic(_encode(ids), {70000: 3, 5: 0}, void_value=255)
    assert labels.dtype == np.uint8
    assert labels.tolist() == [[255, 3, 3], [0, 0, 255]]
    labels = cp.panoptic_to_semantic(_encode(ids), {70000: 4, 5: 1}, void_value=0)
    assert labels.tolist() == [[0, 4, 4], [1, 1, 0]]
    big = np.array([[16777215, 16777214, 1000]], np.int64)  # ids above and below every key
    assert cp.panoptic_to_semantic(_encode(big), {16777214: 2, 999: 1}).tolist() == [[255, 2, 255]]
    assert cp.panoptic_to_semantic(_encode(ids), {}).tolist() == [[255] * 3] * 2


def test_class_layout_sorts_category_ids_in_both_void_modes():
    cats = [{'id': 92, 'name': 'banner'}, {'id': 1, 'name': 'person'}, {'id': 7, 'name': 'train'}]
    ignore = cp.class_layout(cats, 'ignore')
    assert ignore.names == ('person', 'train', 'banner')
    assert dict(ignore.category_to_class) == {1: 0, 7: 1, 92: 2} and ignore.void_value == 255
    background = cp.class_layout(cats, 'background')
    assert background.names == ('background', 'person', 'train', 'banner')
    assert dict(background.category_to_class) == {1: 1, 7: 2, 92: 3}
    assert background.void_value == 0
    with pytest.raises(ConfigError, match='void'):
        cp.class_layout(cats, 'zero')


@pytest.mark.parametrize('void', ['ignore', 'background'])
def test_cli_converts_the_fixture_exactly(coco, capsys, void):
    code, out, _ = _run(capsys, '--coco-root', coco.root, '--split', SPLIT, '--workers', '1',
                        '--void', void)
    assert code == 0, out
    folder = os.path.join(coco.root, f'semantic_{SPLIT}')
    pngs = sorted(n for n in os.listdir(folder) if n.endswith('.png'))
    assert pngs == sorted(coco.panoptic_files)  # same file names as the panoptic PNGs
    with open(os.path.join(folder, 'class_names.txt')) as stream:
        assert stream.read().splitlines() == coco.class_names(void)
    void_value = 0 if void == 'background' else 255
    for name, labels in _labels(folder, pngs).items():
        assert labels.dtype == np.uint8 and labels.ndim == 2
        assert np.array_equal(labels, coco.expected_labels(name, void)), name
        assert np.all(labels[coco.truth[name] == 0] == void_value)
    assert coco.crowd, 'the fixture must hold a crowd segment'
    name, segment = coco.crowd[0]
    panoptic = cv2.imread(os.path.join(coco.panoptic_dir, name))[..., ::-1]
    crowd = cp.segment_ids(panoptic) == segment
    category = next(s['category_id'] for a in json.load(open(coco.json_path))['annotations']
                    if a['file_name'] == name for s in a['segments_info'] if s['id'] == segment)
    expected = coco.category_ids.index(category) + (1 if void == 'background' else 0)
    assert crowd.any() and np.all(_labels(folder, [name])[name][crowd] == expected)


def test_ghost_segment_missing_from_segments_info_is_void(coco, capsys):
    assert _run(capsys, '--coco-root', coco.root, '--split', SPLIT, '--workers', '1')[0] == 0
    name = coco.panoptic_files[1]  # the fixture draws an unlisted segment in image 1
    panoptic = cv2.imread(os.path.join(coco.panoptic_dir, name))[..., ::-1]
    listed = {s['id'] for a in json.load(open(coco.json_path))['annotations']
              if a['file_name'] == name for s in a['segments_info']}
    ghost = ~np.isin(cp.segment_ids(panoptic), list(listed) + [0])
    assert ghost.any()
    labels = _labels(os.path.join(coco.root, f'semantic_{SPLIT}'), [name])[name]
    assert np.all(labels[ghost] == 255)


def test_rerun_skips_finished_files_and_redoes_a_deleted_one(coco, capsys, tmp_path):
    out = str(tmp_path / 'labels')
    args = ('--coco-root', coco.root, '--split', SPLIT, '--workers', '1', '--out', out)
    assert _run(capsys, *args)[0] == 0
    names = sorted(coco.panoptic_files)
    before = {n: os.stat(os.path.join(out, n)).st_mtime_ns for n in names}
    first = _labels(out, names)
    os.remove(os.path.join(out, names[2]))
    stale = os.path.join(out, f'.{names[3]}.4242.tmp')  # what a killed run leaves behind
    with open(stale, 'wb') as stream:
        stream.write(b'partial')
    code, printed, _ = _run(capsys, *args)
    assert code == 0 and '1 converted, 5 already done' in printed
    assert not os.path.exists(stale)
    after = {n: os.stat(os.path.join(out, n)).st_mtime_ns for n in names}
    assert all(after[n] == before[n] for n in names if n != names[2])
    assert np.array_equal(_labels(out, [names[2]])[names[2]], first[names[2]])


def test_two_workers_match_one_worker(coco, capsys, tmp_path):
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    for out, workers in ((one, '1'), (two, '2')):
        code, printed, _ = _run(capsys, '--coco-root', coco.root, '--split', SPLIT,
                                '--workers', workers, '--out', out)
        assert code == 0 and '6 converted' in printed
    a, b = _labels(one, coco.panoptic_files), _labels(two, coco.panoptic_files)
    assert all(np.array_equal(a[n], b[n]) for n in coco.panoptic_files)


def test_other_void_mode_into_the_same_folder_is_refused(coco, capsys):
    args = ('--coco-root', coco.root, '--split', SPLIT, '--workers', '1')
    assert _run(capsys, *args)[0] == 0
    code, _, err = _run(capsys, *args, '--void', 'background')
    assert code == 2 and 'class_names.txt' in err and '--void' in err


def _break_missing_image(coco):
    os.remove(os.path.join(coco.image_dir, coco.image_files[2]))
    return coco.image_files[2]


def _break_missing_panoptic(coco):
    os.remove(os.path.join(coco.panoptic_dir, coco.panoptic_files[3]))
    return coco.panoptic_files[3]


def _break_size(coco):
    path = os.path.join(coco.panoptic_dir, coco.panoptic_files[4])
    cv2.imwrite(path, np.zeros((10, 12, 3), np.uint8))
    return coco.panoptic_files[4]


def _break_category(coco):
    data = json.load(open(coco.json_path))
    data['annotations'][1]['segments_info'][0]['category_id'] = 4242
    json.dump(data, open(coco.json_path, 'w'))
    return '4242'


def _break_json(coco):
    text = open(coco.json_path).read()
    assert '"licenses": []' in text
    open(coco.json_path, 'w').write(text.replace('"licenses": []', '"licenses": [,]'))
    return f'panoptic_{SPLIT}.json'


@pytest.mark.parametrize('breaker', [_break_missing_image, _break_missing_panoptic, _break_size,
                                     _break_category, _break_json])
def test_bad_data_gives_one_line_naming_the_file(coco, capsys, breaker):
    culprit = breaker(coco)
    code, _, err = _run(capsys, '--coco-root', coco.root, '--split', SPLIT, '--workers', '2')
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith('error:')]
    assert len(lines) == 1 and culprit in lines[0], err
    assert 'Traceback' not in err
    if breaker is _break_json:
        column = open(coco.json_path).read().index('[,]') + 2  # 1-based, at the comma
        assert f'line 1 column {column}' in lines[0]
    if breaker is _break_category:
        assert coco.panoptic_files[1] in lines[0]


def test_console_script_fails_cleanly_on_a_corrupt_json(coco):
    with open(coco.json_path, 'w') as stream:
        stream.write('{"images": [')
    script = shutil.which('dinov3-seg-prepare-coco') or ''
    command = [script] if script else [sys.executable, '-m', 'dinov3_seg_ros.cli.prepare_coco']
    run = subprocess.run(command + ['--coco-root', coco.root, '--split', SPLIT],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert 'Traceback' not in run.stderr
    assert run.stderr.strip().startswith('error: corrupt JSON in')
    assert coco.json_path in run.stderr


def test_a_wrong_coco_root_or_split_says_what_was_expected(tmp_path, capsys):
    a_file = tmp_path / 'coco.zip'
    a_file.write_bytes(b'')
    (tmp_path / 'coco' / 'annotations' / f'panoptic_{SPLIT}.json').mkdir(parents=True)
    cases = ((tmp_path / 'nope', SPLIT, f'COCO root {tmp_path / "nope"} does not exist; '
                                        'expected the folder holding annotations/'),
             (a_file, SPLIT, f'COCO root {a_file} is a file; expected the folder'),
             (tmp_path / 'coco', 'val2071', 'annotations file not found: '
                                            f'{tmp_path}/coco/annotations/panoptic_val2071.json '
                                            '(is the split name right?'),
             (tmp_path / 'coco', SPLIT, f'{tmp_path}/coco/annotations/panoptic_{SPLIT}.json '
                                        'is a folder; expected the panoptic JSON file'))
    for root, split, message in cases:
        code, _, err = _run(capsys, '--coco-root', str(root), '--split', split)
        assert code == 2 and err.splitlines()[0].startswith(f'error: {message}'), err
        assert len(err.splitlines()) == 1
