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


"""The backend contract: one ModelInfo kept by reference, declared capabilities, one registry."""

import ast
import dataclasses
import logging
import os
import sys
import types

import numpy as np
import pytest

from dinov3_seg_ros.core.backends import selection
from dinov3_seg_ros.core.backends.base import Backend, CapabilityError, COMPILE, FEATURES
from dinov3_seg_ros.core.backends.base import ModelInfo
from dinov3_seg_ros.core.config import BACKENDS, ModelConfig
from dinov3_seg_ros.core.segmenter import Segmenter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = ('sky', 'road', 'car')


class ConstantBackend(Backend):
    """A fourth engine in a few lines: logits favour class 1 everywhere."""

    name = 'constant'

    @classmethod
    def from_config(cls, config):
        backend = cls()
        backend.info = ModelInfo(class_names=(NAMES,), head_names=('const',),
                                 mean=(0.5,) * 3, std=(0.25,) * 3, backbone='none',
                                 untrained=False, precision_reason='test', source='const')
        return backend

    def __call__(self, x, timer=None):
        n, _, height, width = x.shape
        logits = np.zeros((n, len(NAMES), height // 16, width // 16), np.float32)
        logits[:, 1] = 1.0
        return [logits]


@pytest.fixture
def constant_engine(monkeypatch):
    """Register ConstantBackend under the name 'torch' (ModelConfig accepts that name)."""
    module = types.ModuleType('constant_engine')
    module.ConstantBackend = ConstantBackend
    monkeypatch.setitem(sys.modules, 'constant_engine', module)
    monkeypatch.setitem(selection.ENGINES, 'torch', ('constant_engine', 'ConstantBackend'))


def test_a_new_engine_is_one_class_and_one_registry_line(constant_engine, caplog):
    with caplog.at_level(logging.WARNING):
        seg = Segmenter(ModelConfig(backend='torch', device='cpu', input_size='64', warmup=1,
                                    compile=True))
    assert seg.info is seg.engine.info  # kept by reference, not copied
    assert seg.backend == 'constant' and seg.class_names == list(NAMES)
    assert seg.head_names == ['const'] and seg.precision_reason == 'test'
    assert not seg.compiled and 'compile: true is ignored' in caplog.text
    result = seg(np.zeros((48, 64, 3), np.uint8))
    assert result.labels.shape == (48, 64) and (result.labels == 1).all()
    with pytest.raises(CapabilityError, match='no features capability'):
        seg.features(np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(CapabilityError, match='no compile capability'):
        seg.engine.compile(None)


def test_model_info_is_immutable():
    info = ConstantBackend.from_config(None).info
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.untrained = True  # type: ignore[misc]
    changed = info.replace(untrained=True)
    assert changed.untrained and not info.untrained


def test_every_registered_engine_is_built_by_from_config():
    for name in selection.ENGINES:
        cls = selection.backend_class(name)
        assert issubclass(cls, Backend) and cls.name == name
        assert cls.from_config.__func__ is not Backend.from_config.__func__
    assert selection.backend_class('torch').capabilities == {FEATURES, COMPILE}
    assert selection.backend_class('openvino').capabilities == frozenset()
    with pytest.raises(Exception, match='not one of auto'):
        selection.backend_class('tensorrt')
    assert BACKENDS == ('auto',) + tuple(selection.ENGINES)  # the choices follow the registry


def test_the_facade_reads_no_engine_attribute_by_name():
    path = os.path.join(ROOT, 'dinov3_seg_ros', 'core', 'segmenter.py')
    tree = ast.parse(open(path, encoding='utf-8').read())
    calls = [n.func.id for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert 'getattr' not in calls and 'hasattr' not in calls
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert '__getattr__' not in functions  # no lazy module re-exports
