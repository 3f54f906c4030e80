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
"""TensorRT engine cache: the key follows the model file, precision and shape profile."""

import logging

from dinov3_seg_ros.core.config import InputSize
from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.core.preprocess import model_input_size
from dinov3_seg_ros.core.backends.ort_session import CPU, CUDA, provider_plan, TRT
from dinov3_seg_ros.core.backends.tensorrt_cache import file_digest, shape_profile, trt_cache_key
from dinov3_seg_ros.core.backends.tensorrt_cache import trt_options
import pytest


def test_key_changes_with_model_precision_and_profile(tmp_path):
    model = tmp_path / 'm.onnx'
    model.write_bytes(b'model one')
    profile = shape_profile(InputSize.parse('640'))
    key = trt_cache_key(file_digest(str(model)), 'float16', profile)
    assert key == trt_cache_key(file_digest(str(model)), 'float16', profile)  # pure
    assert key != trt_cache_key(file_digest(str(model)), 'float32', profile)
    assert key != trt_cache_key(file_digest(str(model)), 'float16',
                                shape_profile(InputSize.parse('512')))
    model.write_bytes(b'model two')
    assert key != trt_cache_key(file_digest(str(model)), 'float16', profile)


def test_external_data_is_part_of_the_digest(tmp_path):
    model = tmp_path / 'big.onnx'
    model.write_bytes(b'graph')
    before = file_digest(str(model))
    (tmp_path / 'big.onnx.data').write_bytes(b'weights')
    assert file_digest(str(model)) != before


def test_shape_profiles():
    assert shape_profile(InputSize.parse('640x480')) == ((1, 3, 480, 640),) * 3
    assert shape_profile(InputSize.parse('640')) == (
        (1, 3, 16, 16), (1, 3, 480, 640), (1, 3, 640, 640))
    assert shape_profile(InputSize.parse('native'))[2] == (1, 3, 1088, 1920)


def test_options_one_folder_per_key_and_one_build_line(tmp_path, caplog):
    model = tmp_path / 'm.onnx'
    model.write_bytes(b'model')
    with caplog.at_level(logging.WARNING):
        fp16 = trt_options(str(model), str(tmp_path / 'cache'), 'float16',
                           InputSize.parse('640x480'))
    assert fp16['trt_fp16_enable'] and fp16['trt_profile_opt_shapes'] == 'image:1x3x480x640'
    assert sum('building a float16 engine' in r.message for r in caplog.records) == 1
    fp32 = trt_options(str(model), str(tmp_path / 'cache'), 'float32',
                       InputSize.parse('640x480'))
    assert not fp32['trt_fp16_enable']
    assert fp32['trt_engine_cache_path'] != fp16['trt_engine_cache_path']
    (tmp_path / 'cache' / fp16['trt_engine_cache_path'].split('/')[-1] / 'a.engine').write_text('')
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        trt_options(str(model), str(tmp_path / 'cache'), 'float16', InputSize.parse('640x480'))
    assert not caplog.records  # engine present: no build line


def test_plan_uses_given_trt_options_and_torch_stream():
    plan = provider_plan([TRT, CUDA, CPU], 'cuda', trt={'trt_engine_cache_path': '/x'},
                         stream=1234)[0]
    assert plan[0] == (TRT, {'trt_engine_cache_path': '/x', 'user_compute_stream': '1234'})
    assert plan[1][1]['user_compute_stream'] == '1234' and plan[2] == (CPU, {})


@pytest.mark.parametrize('size', ['800x600', '1024x600', '640x376', '600', '1000', '376',
                                  '640', '640x480', 'native'])
def test_every_model_input_lies_inside_the_profile(size):
    """The profile rounds like preprocessing: 800x600 is 592x800, and so is the profile."""
    low, _, high = shape_profile(InputSize.parse(size))
    for frame in ((480, 640), (600, 800), (1080, 1920), (1920, 1080), (376, 640), (33, 47),
                  (600, 1024), (1088, 1920)):
        if size == 'native' and frame[0] > frame[1]:
            continue  # native admits landscape frames up to 1920x1088 (documented)
        shape = model_input_size(*frame, size)
        assert low[2:] <= shape and shape[0] <= high[2] and shape[1] <= high[3], (
            size, frame, shape, low, high)


def test_provider_plans():
    every = [TRT, CUDA, CPU]
    plans = provider_plan(every, 'auto', trt_cache_dir='/tmp/engines')
    assert [[p for p, _ in plan] for plan in plans] == [every, [CUDA, CPU], [CPU]]
    trt_options = plans[0][0][1]
    assert trt_options['trt_fp16_enable'] and trt_options['trt_engine_cache_enable']
    assert trt_options['trt_engine_cache_path'] == '/tmp/engines'
    assert [[p for p, _ in plan] for plan in provider_plan(every, 'cuda', tensorrt=False)] == \
        [[CUDA, CPU]]
    assert provider_plan(every, 'cpu') == [[(CPU, {})]]
    with pytest.raises(ConfigError, match='CUDA'):
        provider_plan([CPU], 'cuda')
