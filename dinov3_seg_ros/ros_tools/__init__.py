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

"""Tools around the node, not the node: the demo, the test camera, the ROS benchmark, bags.

dinov3-seg-demo (demo.py), image_publisher (image_publisher.py) and dinov3-seg-ros-bench
(bench*.py) start the node as a child process and talk to it over DDS. dinov3-seg-bag
(bag*.py) segments recordings offline with the node's own message code (no graph). The node
runtime itself lives in dinov3_seg_ros.ros and never imports this package.
"""
