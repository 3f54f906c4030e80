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
"""The compiled-model cache: entries built once, validated, rebuilt, shared by starts."""

import json
import logging
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from dinov3_seg_ros.cli import cache as cache_cli
from dinov3_seg_ros.core.backends import cache_builder, model_cache
from dinov3_seg_ros.core.config import ModelConfig

ov = pytest.importorskip('openvino')
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny(cache_dir, **kwargs):
    """The tiny model of these tests (vits16, seed-0 random weights, 64 px)."""
    return ModelConfig(backbone='vits16', input_size='64', device='cpu', warmup=0,
                       cache_dir=str(cache_dir), **kwargs)


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    """(cache dir, entry .xml) built once by the real child process."""
    folder = tmp_path_factory.mktemp('cache')
    work = tmp_path_factory.mktemp('work')
    xml = cache_builder.model_file(tiny(folder), str(work))
    return folder, xml


def copy_entry(built, target):
    """A copy of the built cache folder at target; return (config, entry folder)."""
    shutil.copytree(built[0], target)
    config = tiny(target)
    key = model_cache.cache_key(model_cache.key_inputs(config))
    return config, model_cache.entry_dir(str(target), key)


@pytest.fixture
def fake_build(built, monkeypatch):
    """Replace the child build by a copy of the built IR; return the list of built paths."""
    calls = []

    def build(config, xml_path):
        calls.append(xml_path)
        for ext in ('.xml', '.bin'):
            shutil.copyfile(os.path.splitext(built[1])[0] + ext,
                            os.path.splitext(xml_path)[0] + ext)
        return xml_path
    monkeypatch.setattr(cache_builder, 'build_ir', build)
    return calls


def test_entry_built_once_then_read(built, tmp_path, caplog):
    folder, xml = built
    assert xml.startswith(os.path.join(str(folder), model_cache.MODELS))
    entry = os.path.dirname(xml)
    version = model_cache.openvino_version()
    assert model_cache.validate(entry, os.path.basename(entry), version) == ''
    record = model_cache.read_record(entry)
    assert record['inputs']['seed'] == 0 and record['inputs']['backbone'] == 'vits16'
    with caplog.at_level(logging.INFO):
        again = cache_builder.model_file(tiny(folder), str(tmp_path))
    assert again == xml and 'reading' in caplog.text and 'building' not in caplog.text
    assert not os.listdir(tmp_path)  # nothing converted for this start


@pytest.mark.parametrize('damage', ['truncate', 'flip', 'version', 'record'])
def test_bad_entry_warns_once_and_is_rebuilt(built, tmp_path, fake_build, caplog, damage):
    config, entry = copy_entry(built, tmp_path / 'cache')
    path = os.path.join(entry, model_cache.BIN)
    if damage == 'truncate':
        os.truncate(path, os.path.getsize(path) // 2)
    elif damage == 'flip':
        with open(path, 'r+b') as handle:
            handle.seek(1000)
            byte = handle.read(1)
            handle.seek(1000)
            handle.write(bytes([byte[0] ^ 0xFF]))
    elif damage == 'version':
        record = model_cache.read_record(entry)
        record['inputs']['openvino'] = '2020.1.0'
        with open(os.path.join(entry, model_cache.ENTRY), 'w', encoding='utf-8') as handle:
            json.dump(record, handle)
    else:
        os.remove(os.path.join(entry, model_cache.ENTRY))  # a half-written entry
    with caplog.at_level(logging.WARNING):
        xml = cache_builder.model_file(config, str(tmp_path))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and 'rebuilding' in warnings[0].getMessage()
    assert len(fake_build) == 1 and xml == os.path.join(entry, model_cache.XML)
    assert model_cache.validate(entry, os.path.basename(entry),
                                model_cache.openvino_version()) == ''


def test_unwritable_cache_runs_from_a_temporary_model(tmp_path, fake_build, caplog):
    blocker = tmp_path / 'not_a_folder'
    blocker.write_text('a file where the cache folder should be')
    work = tmp_path / 'work'
    work.mkdir()
    with caplog.at_level(logging.WARNING):
        xml = cache_builder.model_file(tiny(blocker), str(work))
    assert 'not usable' in caplog.text and xml == str(work / model_cache.XML)
    assert os.path.getsize(xml) > 0 and len(fake_build) == 1


def test_cache_off_builds_for_this_start_only(tmp_path, fake_build):
    xml = cache_builder.model_file(tiny('none'), str(tmp_path))
    assert xml == str(tmp_path / model_cache.XML) and len(fake_build) == 1


def test_every_key_input_changes_the_key(tmp_path):
    head = tmp_path / 'head.pth'
    head.write_bytes(b'first head' * 100)
    base = model_cache.key_inputs(tiny(tmp_path, head_weights=(str(head),)))
    head.write_bytes(b'other head' * 100)  # same file name, other content
    changed = model_cache.key_inputs(tiny(tmp_path, head_weights=(str(head),)))
    keys = {model_cache.cache_key(base), model_cache.cache_key(changed)}
    for kwargs in ({'seed': 1}, {'backbone': 'vits16plus'}, {'dtype': 'bfloat16'}):
        keys.add(model_cache.cache_key(model_cache.key_inputs(
            ModelConfig(**dict(dict(backbone='vits16', input_size='64'), **kwargs)))))
    assert len(keys) == 5
    weights = tmp_path / 'backbone.safetensors'
    weights.write_bytes(b'weights')
    named = tiny(tmp_path, head_weights=(str(head),), backbone_weights=str(weights))
    assert model_cache.key_inputs(named)['seed'] is None  # no random weights: seed is moot


CONCURRENT = '''
import os, shutil, sys, time
from dinov3_seg_ros.core.backends import cache_builder, model_cache
from dinov3_seg_ros.core.config import ModelConfig
source, cache_dir, work = sys.argv[1:4]
built = []
def slow_build(config, xml_path):  # writes the IR slowly: a reader must never see it half
    built.append(xml_path)
    shutil.copyfile(source, xml_path)
    time.sleep(1.5)
    shutil.copyfile(os.path.splitext(source)[0] + '.bin', os.path.splitext(xml_path)[0] + '.bin')
    return xml_path
cache_builder.build_ir = slow_build
config = ModelConfig(backbone='vits16', input_size='64', device='cpu', cache_dir=cache_dir)
xml = cache_builder.model_file(config, work)
print(len(built), model_cache.file_digest(os.path.splitext(xml)[0] + '.bin'))
'''


def test_concurrent_starts_share_one_complete_entry(built, tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO)
    cache_dir = str(tmp_path / 'cache')
    runs = []
    for i in range(2):
        work = tmp_path / f'work{i}'
        work.mkdir()
        runs.append(subprocess.Popen([sys.executable, '-c', CONCURRENT, built[1], cache_dir,
                                      str(work)], env=env, cwd=REPO, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outputs = [run.communicate(timeout=240) for run in runs]
    assert all(run.returncode == 0 for run in runs), [err[-2000:] for _, err in outputs]
    results = [out.split() for out, _ in outputs]
    digest = model_cache.file_digest(os.path.splitext(built[1])[0] + '.bin')
    assert sorted(int(r[0]) for r in results) == [0, 1]  # one built, the other waited
    assert all(r[1] == digest for r in results)


def test_cache_cli_lists_and_clears(built, tmp_path, capsys):
    config, entry = copy_entry(built, tmp_path / 'cache')
    assert cache_cli.main(['list', '--cache-dir', config.cache_dir]) == 0
    out = capsys.readouterr().out
    assert os.path.basename(entry) in out and 'vits16 (random weights)' in out
    assert '1 entries' in out and 'UNUSABLE' not in out
    assert cache_cli.main(['clear', '--cache-dir', config.cache_dir]) == 0
    assert 'MiB freed' in capsys.readouterr().out and not os.path.exists(entry)
    assert cache_cli.main(['list', '--cache-dir', config.cache_dir]) == 0
    assert '0 entries' in capsys.readouterr().out


def test_cached_model_equals_the_fresh_conversion(built, tmp_path):
    from dinov3_seg_ros.core.export.ir import convert_from_torch
    from dinov3_seg_ros.core.export.quiet import quiet_conversion
    with quiet_conversion():  # also checks that it silences the tracer's warnings
        fresh, _ = convert_from_torch(tiny(built[0]), ov, str(tmp_path))
    core = ov.Core()
    x = np.random.default_rng(0).standard_normal((1, 3, 48, 64)).astype(np.float32)
    cached = core.compile_model(core.read_model(built[1]), 'CPU').create_infer_request()
    direct = core.compile_model(fresh, 'CPU').create_infer_request()
    a, b = np.array(cached.infer({0: x})[0]), np.array(direct.infer({0: x})[0])
    assert np.array_equal(a.argmax(1), b.argmax(1)) and np.allclose(a, b, atol=1e-4)


LATER_START = '''
import sys
import numpy as np
from dinov3_seg_ros.core.config import ModelConfig
from dinov3_seg_ros.core.segmenter import Segmenter
seg = Segmenter(ModelConfig(backbone='vits16', input_size='64', device='cpu', warmup=1,
                            cache_dir=sys.argv[1]))
frame = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
labels = seg(frame).labels
maps = open('/proc/self/maps').read()
print(seg.backend, sorted(m for m in ('torch', 'torchvision', 'timm') if m in sys.modules),
      'libtorch' in maps, int(labels.sum()))
'''


def test_a_later_start_reads_the_entry_without_torch(built):
    """backend auto, no model file: the Segmenter reads the entry; torch never loads."""
    env = dict(os.environ, PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, '-c', LATER_START, str(built[0])], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    backend, modules, libtorch, _ = out.stdout.split(' ', 3)
    assert (backend, modules, libtorch) == ('openvino', '[]', 'False')
    assert 'Warning' not in out.stderr  # no third-party warning on a default start


def test_compiling_holds_the_blob_lock(built, tmp_path, monkeypatch):
    """OpenVINO writes blobs in place and maps them: concurrent compiles take turns."""
    import fcntl
    from dinov3_seg_ros.core.segmenter import Segmenter
    config, _ = copy_entry(built, tmp_path / 'cache')
    blobs = model_cache.blob_dir(str(tmp_path / 'cache'))
    held, compile_model = [], ov.Core.compile_model

    def spy(self, *args, **kwargs):
        with open(os.path.join(blobs, 'compile.lock'), 'a+b') as other:
            try:
                fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                held.append(False)
            except BlockingIOError:
                held.append(True)
        return compile_model(self, *args, **kwargs)
    monkeypatch.setattr(ov.Core, 'compile_model', spy)
    segmenter = Segmenter(config)
    assert held == [True]
    assert segmenter(np.zeros((48, 64, 3), np.uint8)).labels.shape == (48, 64)
    assert any(name.endswith('.blob') for name in os.listdir(blobs))
    with model_cache.blob_lock('') as no_folder, \
            model_cache.blob_lock(str(tmp_path / 'missing')) as no_file:
        assert (no_folder, no_file) == (False, False)
