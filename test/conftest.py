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

"""Shared fixtures: DDS kept on loopback, reference data, deterministic weights, photos."""

import json
import os
import random

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE_DIR = os.environ.get('DINOV3_SEG_REFERENCE',
                               os.path.join(ROOT, '..', 'shared', 'reference'))

# DDS must stay on this machine: loopback discovery and a private domain for this run.
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('ROS_DOMAIN_ID', str(100 + os.getpid() % 100))
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
os.environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE',
                      os.path.join(ROOT, 'config', 'fastdds_shm_localhost.xml'))
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope='session', autouse=True)
def _float32_auto_dtype():
    """Pin dtype 'auto' to float32 on the CPU: the parity tests compare float32 references.

    The real choice (bfloat16 on CPUs with AVX512-BF16/AMX) is tested in test_core_precision.
    """
    from dinov3_seg_ros.core import precision
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(precision, 'cpu_flags', lambda path=None: frozenset())
        yield


@pytest.fixture(scope='session', autouse=True)
def _private_model_cache(tmp_path_factory):
    """Model cache entries (backends.model_cache) go to a session folder, not ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('XDG_CACHE_HOME', str(tmp_path_factory.mktemp('xdg_cache')))
        yield


def reference_path(name: str) -> str:
    """Path of a file in ../shared/reference; skip (fail on CI) when it is absent."""
    path = os.path.join(REFERENCE_DIR, name)
    if not os.path.exists(path):
        if os.environ.get('CI'):
            pytest.fail(f'reference data missing on CI: {path}')
        pytest.skip(f'reference data not available: {path}')
    return path


def deterministic_state_dict(layout, seed: int = 0, buffers=None, released_style=False):
    """The reference README's procedure: N(0, 1) * 0.02 per key in order, +1 for 1-D weights.

    released_style: the README's released-style recipe (qkv weights x6, layer scales 1).
    """
    rng = np.random.default_rng(seed)
    buffers = buffers or {}
    state = {}
    for key, shape, *_ in layout:
        if key in buffers:
            value = buffers[key]
            state[key] = value if torch.is_tensor(value) else torch.as_tensor(np.asarray(value))
            continue
        if key.endswith(('running_mean', 'running_var', 'num_batches_tracked')):
            value = {'running_mean': np.zeros(shape, np.float32),
                     'running_var': np.ones(shape, np.float32),
                     'num_batches_tracked': np.zeros(shape, np.int64)}[key.rsplit('.', 1)[1]]
            state[key] = torch.from_numpy(np.asarray(value))
            continue
        value = rng.standard_normal(shape).astype(np.float32) * 0.02
        if released_style and key.endswith('attn.qkv.weight'):
            value *= 6.0
        if released_style and key.endswith('.gamma'):
            value = np.ones(shape, np.float32)  # the draw above is still consumed
        elif key.endswith('.weight') and len(shape) == 1:
            value += 1.0
        state[key] = torch.from_numpy(np.asarray(value))
    return state


@pytest.fixture(scope='session')
def dinov3_reference():
    """(npz, state_dict) of Meta's vits16plus with seed-0 weights."""
    data = np.load(reference_path('dinov3_vits16plus_seed0.npz'))
    with open(reference_path('dinov3_checkpoint_layouts.json')) as stream:
        layout = json.load(stream)['vits16plus']
    buffers = {k[len('buffer/'):]: data[k] for k in data.files if k.startswith('buffer/')}
    return data, deterministic_state_dict(layout, 0, buffers)


@pytest.fixture(scope='session')
def released_style_pth(dinov3_reference, tmp_path_factory):
    """(npz, path): the README's released-style vits16plus (seed 3, bf16 RoPE periods) .pth."""
    data = np.load(reference_path('dinov3_vits16plus_released_style_seed3.npz'))
    seed0 = dinov3_reference[0]
    with open(reference_path('dinov3_checkpoint_layouts.json')) as stream:
        layout = json.load(stream)['vits16plus']
    buffers = {k[len('buffer/'):]: seed0[k] for k in seed0.files if k.startswith('buffer/')}
    periods = torch.from_numpy(buffers['rope_embed.periods']).to(torch.bfloat16)
    buffers['rope_embed.periods'] = periods
    path = tmp_path_factory.mktemp('released') / 'dinov3_vits16plus_released_style.pth'
    torch.save(deterministic_state_dict(layout, 3, buffers, released_style=True), path)
    return data, str(path)


def normalized_image(image, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """(H, W, 3) uint8 RGB -> (1, 3, H, W) float32 scaled to [0, 1] and normalized."""
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


@pytest.fixture(scope='session')
def meta_vits16plus_pth(dinov3_reference, tmp_path_factory):
    """A Meta-format .pth file (bare state_dict) of the seed-0 vits16plus."""
    path = tmp_path_factory.mktemp('meta') / 'dinov3_vits16plus_pretrain_lvd1689m-seed0.pth'
    torch.save(dinov3_reference[1], path)
    return str(path)


@pytest.fixture(scope='session')
def upstream_head_reference(tmp_path_factory):
    """(npz, path of an upstream-style bare model.pth with seed-0 weights)."""
    data = np.load(reference_path('upstream_head_seed0.npz'))
    with open(reference_path('upstream_head_layout.json')) as stream:
        layout = json.load(stream)
    path = tmp_path_factory.mktemp('upstream') / 'model.pth'
    torch.save(deterministic_state_dict(layout, 0), path)
    return data, str(path)


@pytest.fixture(scope='session')
def photos():
    """Real RGB photos from skimage.data (shipped offline), including odd sizes."""
    from skimage import data
    return {'astronaut': data.astronaut(), 'chelsea': data.chelsea(), 'coffee': data.coffee()}


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope='module')
def context():
    """An rclpy context of its own for in-process nodes (shut down after the module)."""
    import rclpy
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)
