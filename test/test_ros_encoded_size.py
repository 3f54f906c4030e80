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

"""Decompression bombs: a compressed image's size is checked before it is decoded."""

import subprocess
import sys
import textwrap
import zlib

import cv2
from dinov3_seg_ros.core.errors import ImageError
from dinov3_seg_ros.ros import image_codec as codec
from dinov3_seg_ros.ros.encoded_size import encoded_size, PNG_SIGNATURE
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage


def png_chunk(kind, payload):
    body = kind + payload
    return (len(payload).to_bytes(4, 'big') + body
            + (zlib.crc32(body) & 0xFFFFFFFF).to_bytes(4, 'big'))


def gray_png_bomb(side):
    """A valid side x side 8-bit gray PNG of zeros (~1.1 MB for 16000: 1:230 of the pixels)."""
    compressor = zlib.compressobj(1)
    rows = (b'\0' * (1 + side)) * 64
    data = b''.join(compressor.compress(rows) for _ in range(side // 64))
    data += compressor.compress((b'\0' * (1 + side)) * (side % 64)) + compressor.flush()
    header = side.to_bytes(4, 'big') * 2 + bytes([8, 0, 0, 0, 0])
    return (PNG_SIGNATURE + png_chunk(b'IHDR', header) + png_chunk(b'IDAT', data)
            + png_chunk(b'IEND', b''))


def test_png_and_jpeg_sizes_are_read_from_the_header():
    rgb = np.zeros((30, 50, 3), np.uint8)
    for ext in ('.png', '.jpg'):
        ok, data = cv2.imencode(ext, rgb)
        assert ok and encoded_size(data.tobytes()) == (50, 30), ext
    ok, progressive = cv2.imencode('.jpg', rgb, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert encoded_size(progressive.tobytes()) == (50, 30)
    small = gray_png_bomb(100)
    assert encoded_size(small) == (100, 100)
    assert codec.compressed_to_rgb(CompressedImage(format='png', data=small))[0].shape == (
        100, 100, 3)  # the hand-made PNG is valid


@pytest.mark.parametrize('data,reason', [
    (b'BM' + b'\0' * 60, 'neither PNG nor JPEG'),
    (PNG_SIGNATURE + b'\0' * 8, 'IHDR'),
    (b'\xff\xd8\xff\xe0\x00\x10' + b'\0' * 14 + b'\xff\xd9', 'frame header'),
])
def test_other_or_broken_headers_are_refused(data, reason):
    with pytest.raises(ImageError, match=reason):
        codec.check_compressed(CompressedImage(format='x', data=data))


def test_a_jpeg_claiming_16000x16000_is_refused_before_decoding():
    ok, data = cv2.imencode('.jpg', np.zeros((8, 8, 3), np.uint8))
    data = bytearray(data.tobytes())
    sof = data.index(b'\xff\xc0')
    data[sof + 5:sof + 9] = (16000).to_bytes(2, 'big') * 2
    with pytest.raises(ImageError, match='16000x16000 exceeds'):
        codec.check_compressed(CompressedImage(format='jpeg', data=bytes(data)))


def test_a_16000x16000_png_is_refused_without_decoding(tmp_path):
    path = tmp_path / 'bomb.png'
    path.write_bytes(gray_png_bomb(16000))
    script = textwrap.dedent(f'''
        import resource
        from dinov3_seg_ros.core.errors import ImageError
        from dinov3_seg_ros.ros import image_codec as codec
        from sensor_msgs.msg import CompressedImage
        msg = CompressedImage(format='png', data=open({str(path)!r}, 'rb').read())
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            codec.compressed_to_rgb(msg)
            outcome = 'decoded'
        except ImageError as exc:
            outcome = str(exc)
        grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(grew // 1024, outcome)
    ''')
    out = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    grew_mb, outcome = out.stdout.strip().split(' ', 1)
    assert '16000x16000 exceeds' in outcome and 'png' in outcome
    assert int(grew_mb) < 20, f'peak RSS grew by {grew_mb} MB'  # decoding is 768 MB
