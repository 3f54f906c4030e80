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

"""Joint image + label augmentations (torchvision.transforms.v2) built from a config dict.

Example config (every key optional; a number alone is a probability for blur and noise):
    {'hflip': 0.5, 'random_resized_crop': {'scale': [0.5, 1.0], 'ratio': [0.75, 1.33]},
     'scale': [0.75, 1.25], 'rotate': 10,
     'color_jitter': {'brightness': 0.3, 'contrast': 0.3, 'saturation': 0.3, 'hue': 0.05,
                      'p': 0.8},
     'blur': {'p': 0.2, 'sigma': [0.1, 2.0], 'kernel_size': 5}, 'noise': {'p': 0.1, 'std': 8}}
Labels are tv_tensors.Mask: geometric ops use nearest neighbour and fill with ignore_index;
color, blur and noise touch the image only.
"""

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from dinov3_seg_ros.core.errors import ConfigError
from dinov3_seg_ros.core.preprocess import resize_rgb

KEYS = ('hflip', 'random_resized_crop', 'scale', 'rotate', 'color_jitter', 'blur', 'noise')
_SUBKEYS = {
    'random_resized_crop': {'scale': [0.5, 1.0], 'ratio': [3 / 4, 4 / 3]},
    'color_jitter': {'brightness': 0.0, 'contrast': 0.0, 'saturation': 0.0, 'hue': 0.0,
                     'p': 1.0},
    'blur': {'p': 0.0, 'sigma': [0.1, 2.0], 'kernel_size': 5},
    'noise': {'p': 0.0, 'std': 8.0},
}


class ImageNoise(v2.Transform):
    """Add N(0, std) noise (std in 0..255 units) to uint8 images with probability p."""

    _transformed_types = (tv_tensors.Image,)

    def __init__(self, p: float, std: float) -> None:
        super().__init__()
        self.p, self.std = p, std

    def make_params(self, flat_inputs: List[Any]) -> Dict[str, Any]:
        """Draw whether to apply the noise to this sample."""
        return {'apply': bool(torch.rand(()) < self.p)}

    def transform(self, inpt: torch.Tensor, params: Dict[str, Any]) -> torch.Tensor:
        """(3, H, W) uint8 image -> the same with clipped gaussian noise (or unchanged)."""
        if not params['apply']:
            return inpt
        noisy = inpt.float() + torch.randn(inpt.shape) * self.std
        return tv_tensors.wrap(noisy.round_().clamp_(0, 255).to(inpt.dtype), like=inpt)


class JointAugmentation:
    """Callable (image (3, H, W) uint8, label (H, W) uint8) -> augmented (image, label)."""

    def __init__(self, transform: v2.Transform) -> None:
        self.transform = transform

    def __call__(self, image: torch.Tensor, label: torch.Tensor,
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Augment one sample; the outputs are plain tensors of the input dtypes."""
        out_image, out_label = self.transform(tv_tensors.Image(image), tv_tensors.Mask(label))
        return out_image.as_subclass(torch.Tensor), out_label.as_subclass(torch.Tensor)

    def __repr__(self) -> str:
        return f'JointAugmentation({self.transform!r})'


def _number(key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f'{key}: expected a number in [{low}, {high}], got {value!r}')
    return float(value)


def _range(key: str, value: Any, low: float, high: float) -> Tuple[float, float]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ConfigError(f'{key}: expected [low, high], got {value!r}')
    pair = (_number(key, value[0], low, high), _number(key, value[1], low, high))
    if pair[0] > pair[1]:
        raise ConfigError(f'{key}: low {pair[0]} is above high {pair[1]}')
    return pair


def _section(name: str, value: Any, prefix: str) -> Dict[str, Any]:
    """Sub-options of one key merged over the defaults; a bare number is 'p'; unknown keys fail."""
    defaults = dict(_SUBKEYS[name])
    if value is True:
        return defaults
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 'p' in defaults:
        value = {'p': value}
    if not isinstance(value, Mapping):
        raise ConfigError(f'{prefix}{name}: expected a mapping of {", ".join(defaults)}, '
                          f'got {value!r}')
    for key in value:
        if key not in defaults:
            raise ConfigError(f'{prefix}{name}.{key}: unknown key (known: '
                              f'{", ".join(defaults)})')
    defaults.update(value)
    return defaults


def build_transforms(cfg: Optional[Mapping[str, Any]], size: Optional[Tuple[int, int]] = None,
                     ignore_index: int = 255, prefix: str = 'augment.',
                     ) -> Optional[JointAugmentation]:
    """Build the augmentation pipeline; None when cfg asks for nothing.

    size (H, W) is the output size of random_resized_crop (the other ops keep the size).
    Unknown keys raise ConfigError naming the key (with prefix, e.g. 'augment.flip').
    """
    cfg = dict(cfg or {})
    for key in cfg:
        if key not in KEYS:
            raise ConfigError(f'{prefix}{key}: unknown augmentation (known: {", ".join(KEYS)})')
    ops: List[v2.Transform] = []
    if cfg.get('random_resized_crop'):
        opts = _section('random_resized_crop', cfg['random_resized_crop'], prefix)
        if size is None:
            raise ConfigError(f'{prefix}random_resized_crop: needs a fixed image size (WxH)')
        ops.append(v2.RandomResizedCrop(
            tuple(size), scale=_range(f'{prefix}random_resized_crop.scale', opts['scale'],
                                      0.01, 1.0),
            ratio=_range(f'{prefix}random_resized_crop.ratio', opts['ratio'], 0.1, 10.0),
            antialias=True))
    scale = _range(f'{prefix}scale', cfg['scale'], 0.1, 10.0) if cfg.get('scale') else None
    degrees = _number(f'{prefix}rotate', cfg.get('rotate') or 0, 0, 180)
    if scale or degrees:
        ops.append(v2.RandomAffine(degrees=degrees, scale=scale,
                                   interpolation=v2.InterpolationMode.BILINEAR,
                                   fill={tv_tensors.Image: 0, tv_tensors.Mask: ignore_index}))
    if cfg.get('hflip'):
        ops.append(v2.RandomHorizontalFlip(_number(f'{prefix}hflip', cfg['hflip'], 0, 1)))
    ops.extend(_photometric(cfg, prefix))
    return JointAugmentation(v2.Compose(ops)) if ops else None


def _photometric(cfg: Mapping[str, Any], prefix: str) -> List[v2.Transform]:
    """Color jitter, blur and noise: image-only ops (masks pass through untouched)."""
    ops: List[v2.Transform] = []
    if cfg.get('color_jitter'):
        opts = _section('color_jitter', cfg['color_jitter'], prefix)
        key = f'{prefix}color_jitter.'
        jitter = v2.ColorJitter(
            brightness=_number(key + 'brightness', opts['brightness'], 0, 1),
            contrast=_number(key + 'contrast', opts['contrast'], 0, 1),
            saturation=_number(key + 'saturation', opts['saturation'], 0, 1),
            hue=_number(key + 'hue', opts['hue'], 0, 0.5))
        ops.append(v2.RandomApply([jitter], p=_number(key + 'p', opts['p'], 0, 1)))
    if cfg.get('blur'):
        opts = _section('blur', cfg['blur'], prefix)
        kernel = opts['kernel_size']
        if isinstance(kernel, bool) or not isinstance(kernel, int) or kernel < 3 or not kernel % 2:
            raise ConfigError(f'{prefix}blur.kernel_size: expected an odd int >= 3, '
                              f'got {kernel!r}')
        sigma = _range(f'{prefix}blur.sigma', opts['sigma'], 0.01, 50)
        blur = v2.GaussianBlur(kernel, sigma=sigma)
        ops.append(v2.RandomApply([blur], p=_number(f'{prefix}blur.p', opts['p'], 0, 1)))
    if cfg.get('noise'):
        opts = _section('noise', cfg['noise'], prefix)
        ops.append(ImageNoise(_number(f'{prefix}noise.p', opts['p'], 0, 1),
                              _number(f'{prefix}noise.std', opts['std'], 0, 255)))
    return ops


def aspect_crop(rgb: np.ndarray, label: np.ndarray, size: Tuple[int, int],
                random_offset: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Resize (H0, W0, 3) rgb and (H0, W0) label keeping the aspect to cover size, then crop.

    The scale is max(H / H0, W / W0) (the image just covers (H, W)); the crop is random
    (torch RNG, so seeded per sample) when random_offset, else centred. Images use the
    inference resize, labels nearest neighbour; nothing is squashed.
    """
    height, width = size
    h0, w0 = label.shape
    scale = max(height / h0, width / w0)
    rh, rw = max(height, round(h0 * scale)), max(width, round(w0 * scale))
    if (rh, rw) != (h0, w0):
        rgb = resize_rgb(rgb, rh, rw)
        label = cv2.resize(label, (rw, rh), interpolation=cv2.INTER_NEAREST)
    if random_offset:
        y = int(torch.randint(0, rh - height + 1, ()))
        x = int(torch.randint(0, rw - width + 1, ()))
    else:
        y, x = (rh - height) // 2, (rw - width) // 2
    return (np.ascontiguousarray(rgb[y:y + height, x:x + width]),
            np.ascontiguousarray(label[y:y + height, x:x + width]))
