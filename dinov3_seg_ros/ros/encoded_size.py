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

"""Width and height of a PNG or JPEG from its header, without decoding a pixel.

A compressed image can decode to a thousand times its size (a 46 KB PNG of one color is
48 MB of pixels): the node reads the size the header declares and refuses a too large image
before cv2.imdecode allocates anything. Other formats are refused: their size cannot be
checked this way.
"""

from typing import Any, Tuple

from ..core.errors import ImageError

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic); C4, C8 and CC
# are DHT, JPG and DAC, not frames
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset([0x01, *range(0xD0, 0xD9)])  # TEM, RST0-7, SOI: no length field


def encoded_size(data: Any) -> Tuple[int, int]:
    """(width, height) a PNG or JPEG byte buffer declares (ImageError if neither / broken)."""
    view = memoryview(data).cast('B')
    if bytes(view[:8]) == PNG_SIGNATURE:
        return _png_size(view)
    if bytes(view[:2]) == b'\xff\xd8':
        return _jpeg_size(view)
    raise ImageError('cannot decode compressed image: neither PNG nor JPEG data (only those '
                     'are accepted: their size is checked before decoding)')


def _png_size(view: memoryview) -> Tuple[int, int]:
    """Read width and height from the IHDR chunk that follows the signature (big-endian)."""
    if len(view) < 24 or bytes(view[12:16]) != b'IHDR':
        raise ImageError('cannot decode compressed image: PNG without an IHDR header')
    return int.from_bytes(view[16:20], 'big'), int.from_bytes(view[20:24], 'big')


def _jpeg_size(view: memoryview) -> Tuple[int, int]:
    """Walk the marker segments up to the first start-of-frame (height, then width)."""
    pos, size = 2, len(view)
    while pos + 1 < size:
        if view[pos] != 0xFF:
            break
        marker = view[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker in (0xD9, 0xDA) or pos + 4 > size:  # EOI or scan data before any frame
            break
        length = int.from_bytes(view[pos + 2:pos + 4], 'big')
        if marker in _SOF_MARKERS:
            if length < 7 or pos + 9 > size:
                break
            return (int.from_bytes(view[pos + 7:pos + 9], 'big'),
                    int.from_bytes(view[pos + 5:pos + 7], 'big'))
        pos += 2 + length
    raise ImageError('cannot decode compressed image: JPEG without a frame header')
