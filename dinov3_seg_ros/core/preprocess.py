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

"""uint8 RGB frame -> normalized (1, 3, h, w) tensor at the model input size, plus ResizeInfo.

CPU: cv2 resizes the uint8 image (integer-factor INTER_AREA, then INTER_LINEAR for the rest),
then a per-channel lookup table normalizes it in one pass: x -> (x / 255 - mean) / std, bit
for bit the float32 formula. CUDA: the uint8 frame goes through a pinned staging buffer with a
non-blocking copy, and the resize and normalization run on the device.
"""

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .config import InputSize
from .errors import ImageError

PATCH_SIZE = 16  # backbone.PATCH_SIZE, repeated so that preprocessing never imports torch


@dataclass(frozen=True)
class ResizeInfo:
    """Original frame size (height, width) and the model input size (in_height, in_width)."""

    height: int
    width: int
    in_height: int
    in_width: int
    patch: int = PATCH_SIZE

    @property
    def resized(self) -> bool:
        """True when the model input differs from the frame size."""
        return (self.height, self.width) != (self.in_height, self.in_width)

    @property
    def feature_size(self) -> Tuple[int, int]:
        """(h, w) of the backbone feature map: the input size divided by the patch."""
        return self.in_height // self.patch, self.in_width // self.patch


def round_to_patch(value: int, patch: int = PATCH_SIZE, divisor: int = 1) -> int:
    """Nearest multiple of patch to value / divisor, at least patch.

    Exact integer arithmetic; ties go to the smaller multiple (fewer tokens).
    """
    denominator = patch * divisor
    count, remainder = divmod(int(value), denominator)
    if 2 * remainder > denominator:
        count += 1
    return max(1, count) * patch


def model_input_size(height: int, width: int, input_size: Union[InputSize, str],
                     patch: int = PATCH_SIZE) -> Tuple[int, int]:
    """(in_height, in_width), both multiples of patch, for a height x width frame.

    'long': aspect kept, long side scaled to long_side (1920x1080 -> 640x352, 640x480 stays);
    'fixed': width x height as given (rounded to patch multiples); 'native': the frame size
    rounded to the nearest patch multiples (unchanged when already multiples).
    """
    mode = InputSize.parse(input_size)
    if mode.mode == 'fixed':
        return round_to_patch(mode.height, patch), round_to_patch(mode.width, patch)
    if mode.mode == 'native':
        return round_to_patch(height, patch), round_to_patch(width, patch)
    long_side, longest = round_to_patch(mode.long_side, patch), max(height, width)
    return (round_to_patch(height * long_side, patch, longest),
            round_to_patch(width * long_side, patch, longest))


def check_rgb(rgb: np.ndarray) -> np.ndarray:
    """Validate a (H, W, 3) uint8 array (any strides); raise ImageError otherwise."""
    if not isinstance(rgb, np.ndarray):
        raise ImageError(f'expected a numpy array, got {type(rgb).__name__}')
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageError(f'expected an (H, W, 3) RGB image, got shape {rgb.shape}')
    if rgb.dtype != np.uint8:
        raise ImageError(f'expected a uint8 image, got {rgb.dtype}')
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ImageError(f'empty image of shape {rgb.shape}')
    return rgb


def resize_rgb(rgb: np.ndarray, in_height: int, in_width: int) -> np.ndarray:
    """Resize a uint8 (H, W, 3) image to (in_height, in_width, 3), C-contiguous.

    Shrinking uses INTER_AREA by the largest integer factor (cv2's fast box-filter path),
    then INTER_LINEAR for the remaining < 2x; enlarging uses INTER_LINEAR.
    """
    height, width = rgb.shape[:2]
    image = np.ascontiguousarray(rgb)
    if (height, width) == (in_height, in_width):
        return image
    factor = min(width // in_width, height // in_height)
    if factor >= 2:
        image = cv2.resize(image, (width // factor, height // factor),
                           interpolation=cv2.INTER_AREA)
        if image.shape[:2] == (in_height, in_width):
            return image
    return cv2.resize(image, (in_width, in_height), interpolation=cv2.INTER_LINEAR)


def normalization_lut(mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """(3, 256) float32 table: lut[c, v] = (v / 255 - mean[c]) / std[c], in float32 math."""
    values = np.arange(256, dtype=np.float32)[None, :] / np.float32(255.0)
    mean32 = np.asarray(mean, np.float32).reshape(3, 1)
    std32 = np.asarray(std, np.float32).reshape(3, 1)
    return np.ascontiguousarray((values - mean32) / std32)


def normalize_rgb(rgb: np.ndarray, lut: np.ndarray, out: Optional[np.ndarray] = None
                  ) -> np.ndarray:
    """(h, w, 3) uint8 -> (1, 3, h, w) float32 via the per-channel table, one pass per channel."""
    height, width = rgb.shape[:2]
    if out is None:
        out = np.empty((1, 3, height, width), np.float32)
    for channel in range(3):
        np.take(lut[channel], rgb[:, :, channel], out=out[0, channel])
    return out


class Preprocessor:
    """Callable frame -> ((1, 3, h, w) float32 normalized tensor on device, ResizeInfo).

    mean and std come from the backbone's timm config or the head checkpoint, never from here.
    reuse_output=True writes every CPU frame into one cached array (a fresh 4 MB array costs
    ~5 ms of page faults at 640x480): each result is then valid only until the next call.
    """

    def __init__(self, input_size: Union[InputSize, str], mean: Sequence[float],
                 std: Sequence[float], device: Any = 'cpu',
                 patch: int = PATCH_SIZE, reuse_output: bool = False) -> None:
        self.input_size = InputSize.parse(input_size)
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ImageError(f'normalization needs 3 means and 3 positive stds, got '
                             f'{self.mean} / {self.std}')
        self.device = device  # a torch.device or a label; torch is imported only to use it
        self.on_cuda = str(getattr(device, 'type', device)).startswith('cuda')
        self.patch = patch
        self._lut = normalization_lut(self.mean, self.std)
        self._scale: Any = None
        self._bias: Any = None
        self._staging: Dict[Tuple[int, ...], Any] = {}
        self._reuse = reuse_output
        self._output: Optional[np.ndarray] = None
        self._copied: Any = None

    def resize_info(self, rgb: np.ndarray) -> ResizeInfo:
        """Validate the frame and compute its ResizeInfo."""
        height, width = check_rgb(rgb).shape[:2]
        in_h, in_w = model_input_size(height, width, self.input_size, self.patch)
        return ResizeInfo(height, width, in_h, in_w, self.patch)

    def to_numpy(self, rgb: np.ndarray) -> Tuple[np.ndarray, ResizeInfo]:
        """(H, W, 3) uint8 -> ((1, 3, h, w) float32 numpy, ResizeInfo), on the CPU."""
        info = self.resize_info(rgb)
        resized = resize_rgb(rgb, info.in_height, info.in_width)
        shape = (1, 3, info.in_height, info.in_width)
        out = None
        if self._reuse:
            if self._output is None or self._output.shape != shape:
                self._output = np.empty(shape, np.float32)
            out = self._output
        return normalize_rgb(resized, self._lut, out), info

    def __call__(self, rgb: np.ndarray) -> Tuple[Any, ResizeInfo]:
        """(H, W, 3) uint8 -> ((1, 3, h, w) float32 torch tensor on the device, ResizeInfo)."""
        import torch
        if not self.on_cuda:
            array, info = self.to_numpy(rgb)
            return torch.from_numpy(array), info
        info = self.resize_info(rgb)
        return self._on_cuda(rgb, info), info

    def _on_cuda(self, rgb: np.ndarray, info: ResizeInfo) -> Any:
        import torch
        import torch.nn.functional as F
        if self._scale is None:
            self.device = torch.device(self.device)
            std32 = torch.tensor(self.std, dtype=torch.float32)
            self._scale = (1.0 / (255.0 * std32)).view(1, 3, 1, 1).to(self.device)
            self._bias = (-torch.tensor(self.mean, dtype=torch.float32) / std32).view(
                1, 3, 1, 1).to(self.device)
        staging = self._staging.get(rgb.shape)
        if staging is None:
            self._staging.clear()
            staging = torch.empty(rgb.shape, dtype=torch.uint8).pin_memory()
            self._staging[rgb.shape] = staging
        if self._copied is not None:
            self._copied.synchronize()  # the previous upload must finish before we overwrite
        staging.numpy()[...] = rgb
        frame = staging.to(self.device, non_blocking=True)
        self._copied = torch.cuda.Event()
        self._copied.record()
        x = frame.permute(2, 0, 1).unsqueeze(0).float()
        if info.resized:
            shrink = info.in_height < info.height or info.in_width < info.width
            x = F.interpolate(x, size=(info.in_height, info.in_width), mode='bilinear',
                              align_corners=False, antialias=shrink)
        return torch.addcmul(self._bias, x, self._scale).contiguous()
