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
"""The torch-free CUDA probe and what backend selection does with its answer."""

import sys
import time

import pytest

from dinov3_seg_ros.core import cuda_probe
from dinov3_seg_ros.core.backends import selection
from dinov3_seg_ros.core.config import ModelConfig
from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.core.segmenter import Segmenter


def test_device_nodes_and_driver_probe(tmp_path):
    (tmp_path / 'nvidia0').write_text('')
    (tmp_path / 'nvidiactl').write_text('')
    assert cuda_probe.device_nodes([str(tmp_path / 'nvidia[0-9]*')]) == [
        str(tmp_path / 'nvidia0')]
    assert cuda_probe.driver_device_count(['libno_such_cuda_driver.so']) == 0


def test_probe_without_device_nodes_is_false_and_torch_free(monkeypatch):
    monkeypatch.setattr(cuda_probe, 'device_nodes', lambda patterns=(): [])
    monkeypatch.setitem(sys.modules, 'torch', None)  # any torch use would now fail
    monkeypatch.delitem(sys.modules, 'torch')
    cuda_probe._probe.cache_clear()
    try:
        assert cuda_probe.cuda_present() is False
    finally:
        cuda_probe._probe.cache_clear()


def test_device_cuda_without_cuda_fails_before_any_conversion(monkeypatch):
    monkeypatch.setattr(cuda_probe, 'cuda_present', lambda: False)
    built = []
    monkeypatch.setattr(selection, 'resolve_backend', lambda config: built.append(1))
    started = time.perf_counter()
    for backend in ('auto', 'torch'):
        with pytest.raises(ConfigError, match=r"^device: 'cuda' requested but no CUDA device"):
            Segmenter(ModelConfig(backend=backend, device='cuda', backbone='vits16'))
    assert not built and time.perf_counter() - started < 5.0


def test_auto_warns_when_openvino_is_missing(monkeypatch, caplog):
    real = selection.importable
    monkeypatch.setattr(selection, 'importable', lambda name: name != 'openvino' and real(name))
    monkeypatch.setattr(selection, '_LOGGED', set())
    config = ModelConfig(backend='auto', device='cpu')
    assert selection.resolve_backend(config) == ('torch', 'CPU only, openvino not installed')

    class Built:
        @classmethod
        def from_config(cls, config):
            return 'built'
    monkeypatch.setattr(selection, 'backend_class', lambda name: Built)
    with caplog.at_level('WARNING', logger=selection.__name__):
        assert selection.create_backend(config) == 'built'
    assert 'pip install openvino' in caplog.text
