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
"""Lifecycle cycles give the model back: after cleanup nothing holds the segmenter or engine.

The lifecycle node runs in this process (no DDS peer needed): configure -> activate ->
deactivate -> cleanup, three times per backend, with weak references to what each
configure built.
"""

import gc
import weakref

import pytest
import rclpy
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter

from dinov3_seg_ros.ros.lifecycle_node import SegmentationLifecycleNode

pytestmark = [pytest.mark.ros]
OK = TransitionCallbackReturn.SUCCESS


@pytest.fixture
def context():
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    rclpy.try_shutdown(context=context)


@pytest.mark.parametrize('backend', ['torch', 'openvino'])
def test_cleanup_releases_the_model_and_engine(context, backend, tmp_path):
    overrides = [Parameter('backbone', value='vits16'), Parameter('input_size', value='64'),
                 Parameter('device', value='cpu'), Parameter('backend', value=backend),
                 Parameter('warmup', value=1), Parameter('cache_dir', value=str(tmp_path))]
    node = SegmentationLifecycleNode(context=context, parameter_overrides=overrides,
                                     namespace='/release_test')
    try:
        for _ in range(3):
            assert node.trigger_configure() == OK
            segmenter = weakref.ref(node.segmenter)
            engine = weakref.ref(node.segmenter.engine)
            runtime = weakref.ref(node.runtime)
            assert node.segmenter.backend == backend
            assert node.trigger_activate() == OK
            assert node.trigger_deactivate() == OK
            assert node.trigger_cleanup() == OK and node.segmenter is None
            gc.collect()
            assert (segmenter(), engine(), runtime()) == (None, None, None)
    finally:
        node.destroy_node()
