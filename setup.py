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

"""ament_python package setup for dinov3_seg_ros."""

from glob import glob
import os

from setuptools import find_packages, setup

package_name = 'dinov3_seg_ros'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        (os.path.join('share', package_name, 'launch'), glob('launch/*.launch.py')),
        (os.path.join('share', package_name, 'config'),
         glob('config/*.yaml') + glob('config/*.rviz') + glob('config/*.xml')
         + glob('config/*.txt')),
        (os.path.join('share', package_name, 'weights'), ['weights/README.md']),
    ],
    # Runtime dependencies come from rosdep (package.xml) or requirements.txt (make venv).
    install_requires=['setuptools'],
    extras_require={
        'test': ['pytest', 'flake8', 'scikit-image', 'onnx', 'onnxruntime'],
        'onnx': ['onnx', 'onnxscript', 'onnxruntime'],
        'train': ['tqdm', 'matplotlib', 'torchvision'],
    },
    package_data={'dinov3_seg_ros.core': ['*.txt']},
    include_package_data=True,
    zip_safe=False,
    maintainer='dinov3_seg_ros maintainers',
    maintainer_email='maintainers@dinov3-seg-ros.invalid',
    description='Real-time DINOv3 semantic segmentation for ROS 2.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'segmentation_node = dinov3_seg_ros.ros.node:main',
            'segmentation_lifecycle_node = dinov3_seg_ros.ros.lifecycle_node:main',
            'image_publisher = dinov3_seg_ros.ros_tools.image_publisher:main',
            'dinov3-seg-demo = dinov3_seg_ros.ros_tools.demo:main',
            'dinov3-seg-ros-bench = dinov3_seg_ros.ros_tools.bench:main',
            'dinov3-seg-ros-bench-multicam = dinov3_seg_ros.ros_tools.bench_multi_camera:main',
            'dinov3-seg-bag = dinov3_seg_ros.ros_tools.bag:main',
            'dinov3-seg-infer = dinov3_seg_ros.cli.infer:main',
            'dinov3-seg-bench = dinov3_seg_ros.cli.bench:main',
            'dinov3-seg-export = dinov3_seg_ros.cli.export:main',
            'dinov3-seg-prepare-coco = dinov3_seg_ros.cli.prepare_coco:main',
            'dinov3-seg-train = dinov3_seg_ros.cli.train:main',
            'dinov3-seg-eval = dinov3_seg_ros.cli.evaluate:main',
            'dinov3-seg-bench-cache = dinov3_seg_ros.cli.bench_cache:main',
            'dinov3-seg-cache = dinov3_seg_ros.cli.cache:main',
        ],
    },
)
