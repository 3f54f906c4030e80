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
"""The RoPE table cache: timm's values, one entry per size, follows the periods buffer."""

import torch
from timm.layers.pos_embed_sincos import RotaryEmbeddingDinoV3

from dinov3_seg_ros.core.rope_cache import CachedRotaryEmbeddingDinoV3, install_rope_cache


def make_rope():
    """A DINOv3-style rope (vits16: head dim 64, temperature 100) and a plain timm twin."""
    plain = RotaryEmbeddingDinoV3(64, temperature=100.0)
    cached = RotaryEmbeddingDinoV3(64, temperature=100.0)
    assert install_rope_cache(cached)
    return plain, cached


def test_values_equal_timm_and_cache_hits():
    plain, cached = make_rope()
    assert isinstance(cached, CachedRotaryEmbeddingDinoV3)
    with torch.inference_mode():
        first = cached.get_embed(shape=(3, 5))
        torch.testing.assert_close(first, plain.get_embed(shape=(3, 5)), rtol=0, atol=0)
        assert cached.get_embed(shape=[3, 5]) is first  # hit: the same tensor
        other = cached.get_embed(shape=(4, 5))
        assert other is not first and other.shape == (20, 128)
        torch.testing.assert_close(other, plain.get_embed(shape=(4, 5)), rtol=0, atol=0)
        half = cached.get_embed(shape=(3, 5), dtype=torch.bfloat16)
        assert half.dtype == torch.bfloat16 and half is not first
    assert len(cached.rope_cache) == 3


def test_new_periods_give_a_new_entry():
    """A checkpoint's periods (copied in or replacing the buffer) are the ones used."""
    plain, cached = make_rope()
    with torch.no_grad():
        before = cached.get_embed(shape=(2, 3))
        bf16_periods = cached.periods.to(torch.bfloat16).float()  # what Meta's files hold
        cached.periods.copy_(bf16_periods)
        plain.periods.copy_(bf16_periods)
        after = cached.get_embed(shape=(2, 3))
        assert after is not before and not torch.equal(after, before)
        torch.testing.assert_close(after, plain.get_embed(shape=(2, 3)), rtol=0, atol=0)
        cached.register_buffer('periods', cached.periods * 2, persistent=False)
        assert cached.get_embed(shape=(2, 3)) is not after


def test_bypassed_with_gradients():
    _, cached = make_rope()
    first = cached.get_embed(shape=(2, 2))  # grad mode on: not cached
    assert cached.get_embed(shape=(2, 2)) is not first and not cached.rope_cache


def test_backbone_installs_the_cache():
    from dinov3_seg_ros.core.backbone import DinoV3Backbone
    backbone = DinoV3Backbone('vits16')
    assert isinstance(backbone.model.rope, CachedRotaryEmbeddingDinoV3)
    with torch.inference_mode():
        out = backbone(torch.zeros(1, 3, 32, 48))
        assert backbone(torch.zeros(1, 3, 32, 48)).shape == out.shape == (1, 384, 2, 3)
    assert len(backbone.model.rope.rope_cache) == 1
