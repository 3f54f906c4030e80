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

"""sensor_msgs Image / CompressedImage <-> numpy, every supported encoding, with validation.

Pure functions (no node, no DDS). Decoding returns an (H, W, 3) uint8 RGB array that is a
zero-copy view of msg.data where the encoding allows it (rgb8, rgba8, padded rows included)
and a fresh array otherwise, plus the source encoding. Malformed messages raise ImageError
with the reason. Encoding copies the array once (`msg.data = array.tobytes()`, the fastest
assignment rclpy offers).
"""

import sys
from typing import Dict, Tuple

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from ..core.errors import ImageError
from ..core.quiet_opencv import quiet_opencv

MAX_SIDE = 16384
MAX_PIXELS = 256_000_000
MAX_COMPRESSED_BYTES = 512 * 1024 * 1024

# encoding -> (channels, bytes per channel)
_LAYOUTS: Dict[str, Tuple[int, int]] = {
    'rgb8': (3, 1), 'bgr8': (3, 1), 'rgba8': (4, 1), 'bgra8': (4, 1),
    'mono8': (1, 1), 'mono16': (1, 2),
    'yuv422': (2, 1), 'uyvy': (2, 1), 'yuv422_yuy2': (2, 1), 'yuyv': (2, 1),
    'bayer_rggb8': (1, 1), 'bayer_bggr8': (1, 1), 'bayer_gbrg8': (1, 1), 'bayer_grbg8': (1, 1),
}
# OpenCV names a Bayer pattern after the 2x2 block starting at pixel (1, 1), not (0, 0):
# ROS 'rggb' (R at the top-left) is OpenCV's 'BG' (same table as cv_bridge).
_CV_CODES: Dict[str, int] = {
    'bgr8': cv2.COLOR_BGR2RGB, 'bgra8': cv2.COLOR_BGRA2RGB, 'mono8': cv2.COLOR_GRAY2RGB,
    'yuv422': cv2.COLOR_YUV2RGB_UYVY, 'uyvy': cv2.COLOR_YUV2RGB_UYVY,
    'yuv422_yuy2': cv2.COLOR_YUV2RGB_YUY2, 'yuyv': cv2.COLOR_YUV2RGB_YUY2,
    'bayer_rggb8': cv2.COLOR_BayerBG2RGB, 'bayer_bggr8': cv2.COLOR_BayerRG2RGB,
    'bayer_gbrg8': cv2.COLOR_BayerGR2RGB, 'bayer_grbg8': cv2.COLOR_BayerGB2RGB,
}
SUPPORTED_ENCODINGS: Tuple[str, ...] = tuple(_LAYOUTS)
_OUTPUT_LAYOUTS = {'rgb8': (3, np.uint8), 'bgr8': (3, np.uint8), 'mono8': (1, np.uint8),
                   'mono16': (1, np.uint16)}


def check_size(width: int, height: int) -> None:
    """Raise ImageError for an empty or absurdly large image."""
    if width <= 0 or height <= 0:
        raise ImageError(f'empty image ({width}x{height})')
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageError(f'image {width}x{height} exceeds the limit of {MAX_SIDE} px per side '
                         f'and {MAX_PIXELS // 1_000_000} MP')


def check_image(msg: Image) -> None:
    """Validate an Image's encoding, size, step and data length (cheap; no pixel access)."""
    encoding = msg.encoding.lower()
    if encoding not in _LAYOUTS:
        raise ImageError(f'unsupported encoding {msg.encoding!r} (supported: '
                         f'{", ".join(SUPPORTED_ENCODINGS)})')
    width, height = int(msg.width), int(msg.height)
    check_size(width, height)
    channels, depth = _LAYOUTS[encoding]
    row_bytes = width * channels * depth
    if msg.step < row_bytes:
        raise ImageError(f'step {msg.step} < width {width} x {channels * depth} bytes '
                         f'= {row_bytes} for {encoding}')
    if len(msg.data) < msg.step * height:
        raise ImageError(f'truncated data: {len(msg.data)} bytes < step {msg.step} x height '
                         f'{height} = {msg.step * height}')
    if encoding.startswith(('yuv422', 'uyvy', 'yuyv')) and width % 2:
        raise ImageError(f'{encoding} needs an even width, got {width}')
    if encoding.startswith('bayer') and (width < 2 or height < 2):
        raise ImageError(f'{encoding} needs at least 2x2 pixels, got {width}x{height}')


def image_view(msg: Image) -> np.ndarray:
    """Zero-copy (H, W, C) view of msg.data honoring step and byte order (C = 1 kept)."""
    check_image(msg)
    encoding = msg.encoding.lower()
    channels, depth = _LAYOUTS[encoding]
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    flat = np.frombuffer(msg.data, dtype=np.uint8, count=step * height)
    rows = flat.reshape(height, step)[:, :width * channels * depth]
    if depth == 2:
        rows = rows.view('>u2' if msg.is_bigendian else '<u2')
    return rows.reshape(height, width, channels)


def image_to_rgb(msg: Image) -> Tuple[np.ndarray, str]:
    """Decode an Image into ((H, W, 3) uint8 RGB, source encoding); a view where possible."""
    view = image_view(msg)
    encoding = msg.encoding.lower()
    if encoding == 'rgb8':
        return view, encoding
    if encoding == 'rgba8':
        return view[:, :, :3], encoding
    if encoding == 'mono16':
        mono = (view[:, :, 0] >> 8).astype(np.uint8)  # full 16-bit range -> 8 bits, as cv_bridge
        return cv2.cvtColor(mono, cv2.COLOR_GRAY2RGB), encoding
    if view.shape[2] == 1:
        view = view[:, :, 0]
    return cv2.cvtColor(view, _CV_CODES[encoding]), encoding


def check_compressed(msg: CompressedImage) -> None:
    """Validate a CompressedImage before decoding (non-empty, not absurdly large)."""
    size = len(msg.data)
    if size == 0:
        raise ImageError('empty compressed image')
    if size > MAX_COMPRESSED_BYTES:
        raise ImageError(f'compressed image of {size} bytes exceeds {MAX_COMPRESSED_BYTES}')


def compressed_to_rgb(msg: CompressedImage) -> Tuple[np.ndarray, str]:
    """Decode a CompressedImage (JPEG, PNG, ... via cv2.imdecode) into (RGB, source encoding).

    The source encoding is 'bgr8' when the format names a BGR original (image_transport
    writes e.g. 'bgr8; jpeg compressed bgr8'), else 'rgb8'.
    """
    check_compressed(msg)
    buffer = np.frombuffer(msg.data, dtype=np.uint8)
    try:
        with quiet_opencv():
            if hasattr(cv2, 'IMREAD_COLOR_RGB'):
                rgb = cv2.imdecode(buffer, cv2.IMREAD_COLOR_RGB)
            else:  # OpenCV < 4.10
                bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
                rgb = None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    except cv2.error as exc:
        raise ImageError(f'cannot decode compressed image ({msg.format!r}): '
                         f'{str(exc).strip().splitlines()[-1]}') from None
    if rgb is None:
        raise ImageError(f'cannot decode compressed image ({msg.format!r}, '
                         f'{len(msg.data)} bytes)')
    check_size(rgb.shape[1], rgb.shape[0])
    source = msg.format.split(';')[0].strip().lower()
    return rgb, ('bgr8' if source.startswith('bgr') else 'rgb8')


def overlay_encoding(source_encoding: str) -> str:
    """Return the encoding of color outputs: bgr8 for BGR cameras, else rgb8."""
    return 'bgr8' if source_encoding.lower() in ('bgr8', 'bgra8') else 'rgb8'


def array_to_image(array: np.ndarray, encoding: str, header: Header) -> Image:
    """Pack an (H, W) or (H, W, C) array already in `encoding` into an Image with this header."""
    if encoding not in _OUTPUT_LAYOUTS:
        raise ImageError(f'cannot publish encoding {encoding!r}')
    channels, dtype = _OUTPUT_LAYOUTS[encoding]
    if channels == 1:
        shape_ok = array.ndim == 2
    else:
        shape_ok = array.ndim == 3 and array.shape[2] == channels
    if not shape_ok or array.dtype.kind != 'u' or array.dtype.itemsize != np.dtype(dtype).itemsize:
        raise ImageError(f'array {array.shape} {array.dtype} does not fit {encoding}')
    height, width = array.shape[:2]
    check_size(width, height)
    msg = Image()
    msg.header = header
    msg.height, msg.width, msg.encoding = height, width, encoding
    msg.is_bigendian = int(array.dtype.itemsize > 1 and sys.byteorder == 'big')
    msg.step = width * channels * array.dtype.itemsize
    msg.data = np.ascontiguousarray(array, dtype=dtype).tobytes()
    return msg


def labels_to_image(labels: np.ndarray, header: Header) -> Image:
    """(H, W) class ids -> mono8 (uint8 labels) or mono16 (uint16 labels) Image."""
    return array_to_image(labels, 'mono8' if labels.dtype.itemsize == 1 else 'mono16', header)


def rgb_to_image(rgb: np.ndarray, encoding: str, header: Header) -> Image:
    """(H, W, 3) uint8 RGB -> Image in 'rgb8' or 'bgr8' (converted once)."""
    if encoding == 'bgr8':
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ImageError(f'expected an (H, W, 3) RGB array, got {rgb.shape}')
        rgb = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    elif encoding != 'rgb8':
        raise ImageError(f'color outputs are rgb8 or bgr8, not {encoding!r}')
    return array_to_image(rgb, encoding, header)
