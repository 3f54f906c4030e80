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

"""Pure tests of ros/image_codec.py: every encoding, padding, byte order, validation."""

import cv2
from dinov3_seg_ros.core.errors import ImageError
from dinov3_seg_ros.ros import image_codec as codec
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from test_core_quiet_opencv import corrupt_png


def make_image(pixels: np.ndarray, encoding: str, pad: int = 0,
               bigendian: bool = False) -> Image:
    """Pack (H, W[, C]) pixels into an Image with `pad` extra bytes per row."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    height, width = pixels.shape[:2]
    if pixels.dtype == np.uint16:
        pixels = pixels.astype('>u2' if bigendian else '<u2')
    rows = pixels.reshape(height, -1).view(np.uint8)
    padded = np.full((height, rows.shape[1] + pad), 0xAB, np.uint8)
    padded[:, :rows.shape[1]] = rows
    msg = Image(height=height, width=width, encoding=encoding, step=padded.shape[1],
                is_bigendian=int(bigendian))
    msg.header.frame_id = 'camera'
    msg.header.stamp.sec, msg.header.stamp.nanosec = 12, 345
    msg.data = padded.tobytes()
    return msg


def shares_buffer(array: np.ndarray, msg) -> bool:
    return np.shares_memory(array, np.frombuffer(msg.data, np.uint8))


@pytest.fixture
def rgb(photos):
    """A real 47x62 RGB crop (odd height) with C-contiguous memory."""
    return np.ascontiguousarray(photos['astronaut'][100:147, 200:262])


@pytest.mark.parametrize('pad', [0, 7])
def test_rgb8_is_a_zero_copy_view(rgb, pad):
    msg = make_image(rgb, 'rgb8', pad)
    out, source = codec.image_to_rgb(msg)
    assert source == 'rgb8'
    np.testing.assert_array_equal(out, rgb)
    assert shares_buffer(out, msg)


@pytest.mark.parametrize('pad', [0, 5])
def test_rgba8_drops_alpha_without_copy(rgb, pad):
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 77, np.uint8)])
    msg = make_image(rgba, 'rgba8', pad)
    out, _ = codec.image_to_rgb(msg)
    np.testing.assert_array_equal(out, rgb)
    assert shares_buffer(out, msg)


@pytest.mark.parametrize('encoding,pad', [('bgr8', 0), ('bgr8', 3), ('bgra8', 0),
                                          ('bgra8', 9)])
def test_bgr_encodings_are_swapped_to_rgb(rgb, encoding, pad):
    bgr = rgb[:, :, ::-1]
    pixels = bgr if encoding == 'bgr8' else np.dstack([bgr, np.zeros(rgb.shape[:2], np.uint8)])
    out, source = codec.image_to_rgb(make_image(np.ascontiguousarray(pixels), encoding, pad))
    assert source == encoding and out.flags.c_contiguous
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize('pad', [0, 1])
def test_mono8_is_replicated_to_three_channels(rgb, pad):
    gray = np.ascontiguousarray(rgb[:, :, 1])
    out, _ = codec.image_to_rgb(make_image(gray, 'mono8', pad))
    assert out.shape == gray.shape + (3,)
    for channel in range(3):
        np.testing.assert_array_equal(out[:, :, channel], gray)


@pytest.mark.parametrize('bigendian', [False, True])
@pytest.mark.parametrize('pad', [0, 4])
def test_mono16_honors_byte_order_and_keeps_the_high_byte(rgb, bigendian, pad):
    gray = rgb[:, :, 0]
    low = np.random.default_rng(1).integers(0, 256, gray.shape)
    mono16 = (gray.astype(np.uint16) << 8) | low.astype(np.uint16)
    msg = make_image(mono16, 'mono16', pad, bigendian)
    np.testing.assert_array_equal(codec.image_view(msg)[:, :, 0], mono16)
    out, _ = codec.image_to_rgb(msg)
    np.testing.assert_array_equal(out[:, :, 2], gray)


def test_mono16_with_the_wrong_byte_order_flag_decodes_differently(rgb):
    mono16 = (rgb[:, :, 0].astype(np.uint16) << 8) | 0x0F
    msg = make_image(mono16, 'mono16', bigendian=False)
    msg.is_bigendian = 1
    out, _ = codec.image_to_rgb(msg)
    assert np.all(out[:, :, 0] == 0x0F)


@pytest.mark.parametrize('encoding,code', [('yuv422', cv2.COLOR_RGB2YUV_UYVY),
                                           ('yuv422_yuy2', cv2.COLOR_RGB2YUV_YUY2)])
@pytest.mark.parametrize('pad', [0, 6])
def test_yuv422_round_trips_within_rounding(rgb, encoding, code, pad):
    pairs = np.repeat(rgb[:, ::2][:, :31], 2, axis=1)  # equal chroma within each pixel pair
    packed = cv2.cvtColor(np.ascontiguousarray(pairs), code)
    out, _ = codec.image_to_rgb(make_image(packed, encoding, pad))
    assert out.shape == pairs.shape
    assert np.abs(out.astype(int) - pairs).max() <= 4


def test_yuv422_byte_orders_are_distinct():
    red_uyvy = np.array([[[90, 81], [240, 81]] * 2], np.uint8)  # U Y V Y: BT.601 red
    red_yuy2 = np.array([[[81, 90], [81, 240]] * 2], np.uint8)  # Y U Y V
    for pixels, encoding in ((red_uyvy, 'yuv422'), (red_yuy2, 'yuv422_yuy2')):
        out, _ = codec.image_to_rgb(make_image(pixels, encoding))
        assert np.abs(out.astype(int) - (255, 0, 0)).max() <= 3, (encoding, out)
    out, _ = codec.image_to_rgb(make_image(red_uyvy, 'yuv422_yuy2'))
    assert np.abs(out.astype(int) - (255, 0, 0)).max() > 50


@pytest.mark.parametrize('pattern', ['rggb', 'bggr', 'gbrg', 'grbg'])
@pytest.mark.parametrize('pad', [0, 3])
def test_bayer_demosaics_a_known_color(pattern, pad):
    color = {'r': 200, 'g': 100, 'b': 30}
    mosaic = np.zeros((12, 16), np.uint8)
    for index, channel in enumerate(pattern):
        mosaic[index // 2::2, index % 2::2] = color[channel]
    out, _ = codec.image_to_rgb(make_image(mosaic, f'bayer_{pattern}8', pad))
    interior = out[2:-2, 2:-2].reshape(-1, 3)
    np.testing.assert_array_equal(interior, np.tile([200, 100, 30], (len(interior), 1)))


def test_deserialized_message_decodes_zero_copy(rgb):
    wire = deserialize_message(serialize_message(make_image(rgb, 'rgb8', 2)), Image)
    out, _ = codec.image_to_rgb(wire)
    np.testing.assert_array_equal(out, rgb)
    assert shares_buffer(out, wire)


@pytest.mark.parametrize('change,reason', [
    (dict(encoding='32FC1'), 'unsupported encoding'),
    (dict(encoding=''), 'unsupported encoding'),
    (dict(step=10), 'step 10 <'),
    (dict(height=48), 'truncated data'),
    (dict(data=b''), 'truncated data'),
    (dict(width=0, height=0, step=0, data=b''), 'empty image'),
    (dict(width=0), 'empty image'),
    (dict(width=20000, step=60000), 'exceeds the limit'),
    (dict(width=16000, height=16001, step=48000), 'exceeds the limit'),
])
def test_malformed_images_raise_with_a_reason(rgb, change, reason):
    msg = make_image(rgb, 'rgb8')
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(ImageError, match=reason):
        codec.image_to_rgb(msg)


def test_odd_width_yuv_and_tiny_bayer_are_rejected():
    with pytest.raises(ImageError, match='even width'):
        codec.image_to_rgb(make_image(np.zeros((4, 3, 2), np.uint8), 'yuv422'))
    with pytest.raises(ImageError, match='2x2'):
        codec.image_to_rgb(make_image(np.zeros((1, 8), np.uint8), 'bayer_rggb8'))


def test_compressed_png_is_exact_and_reports_the_source_encoding(rgb):
    ok, png = cv2.imencode('.png', rgb[:, :, ::-1])
    assert ok
    msg = CompressedImage(format='bgr8; png compressed bgr8', data=png.tobytes())
    out, source = codec.compressed_to_rgb(msg)
    np.testing.assert_array_equal(out, rgb)
    assert source == 'bgr8'
    msg.format = 'jpeg'
    assert codec.compressed_to_rgb(msg)[1] == 'rgb8'


def test_compressed_jpeg_is_close(rgb):
    ok, jpeg = cv2.imencode('.jpg', rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    out, _ = codec.compressed_to_rgb(CompressedImage(format='jpeg', data=jpeg.tobytes()))
    assert out.shape == rgb.shape
    assert np.abs(out.astype(int) - rgb).mean() < 4


@pytest.mark.parametrize('data,reason', [(b'', 'empty'), (b'not an image at all', 'decode'),
                                         (b'\x89PNG\r\n\x1a\n' + b'\0' * 40, 'decode'),
                                         (corrupt_png(), 'decode')])
def test_bad_compressed_data_raises(data, reason, capfd):
    with pytest.raises(ImageError, match=reason):
        codec.compressed_to_rgb(CompressedImage(format='png', data=data))
    assert capfd.readouterr().err == ''  # the package's error only, no OpenCV log line


def test_labels_pack_as_mono8_or_mono16_with_the_input_header():
    header = Header(frame_id='cam_optical')
    header.stamp.sec, header.stamp.nanosec = 7, 99
    small = np.arange(48 * 64, dtype=np.uint8).reshape(48, 64)
    msg = codec.labels_to_image(small, header)
    assert (msg.encoding, msg.width, msg.height, msg.step) == ('mono8', 64, 48, 64)
    assert msg.header.frame_id == 'cam_optical' and msg.header.stamp.nanosec == 99
    np.testing.assert_array_equal(codec.image_view(msg)[:, :, 0], small)
    large = (np.arange(48 * 64, dtype=np.uint16) * 17).reshape(48, 64)
    msg = codec.labels_to_image(large, header)
    assert (msg.encoding, msg.step) == ('mono16', 128)
    np.testing.assert_array_equal(codec.image_view(msg)[:, :, 0], large)


def test_color_outputs_in_rgb8_and_bgr8(rgb):
    header = Header(frame_id='f')
    view = rgb[:, :40]  # non-contiguous input is packed correctly
    as_rgb = codec.rgb_to_image(view, 'rgb8', header)
    np.testing.assert_array_equal(codec.image_to_rgb(as_rgb)[0], view)
    as_bgr = codec.rgb_to_image(view, 'bgr8', header)
    assert as_bgr.encoding == 'bgr8' and as_bgr.step == 120
    np.testing.assert_array_equal(codec.image_view(as_bgr)[:, :, ::-1], view)
    np.testing.assert_array_equal(codec.image_to_rgb(as_bgr)[0], view)


def test_outputs_reject_arrays_that_do_not_fit():
    header = Header()
    with pytest.raises(ImageError):
        codec.rgb_to_image(np.zeros((4, 4), np.uint8), 'bgr8', header)
    with pytest.raises(ImageError):
        codec.array_to_image(np.zeros((4, 4, 3), np.float32), 'rgb8', header)
    with pytest.raises(ImageError):
        codec.array_to_image(np.zeros((4, 4), np.uint8), 'mono16', header)
    with pytest.raises(ImageError):
        codec.rgb_to_image(np.zeros((4, 4, 3), np.uint8), 'yuv422', header)


def test_overlay_encoding_follows_the_camera():
    assert codec.overlay_encoding('bgr8') == 'bgr8'
    assert codec.overlay_encoding('bgra8') == 'bgr8'
    for encoding in ('rgb8', 'rgba8', 'mono8', 'mono16', 'yuv422', 'bayer_rggb8'):
        assert codec.overlay_encoding(encoding) == 'rgb8'


def test_every_supported_encoding_decodes_to_rgb():
    for encoding in codec.SUPPORTED_ENCODINGS:
        channels, depth = codec._LAYOUTS[encoding]
        pixels = np.full((6, 8, channels), 128, np.uint16 if depth == 2 else np.uint8)
        out, source = codec.image_to_rgb(make_image(pixels, encoding, pad=2))
        assert out.shape == (6, 8, 3) and out.dtype == np.uint8, encoding
        assert source == encoding
