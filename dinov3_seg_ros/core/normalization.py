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

"""Input normalization of the DINOv3 pretraining data: LVD-1689M (web) or SAT-493M (satellite).

The LVD models (every ConvNeXt and ViT) take the ImageNet mean/std; the SAT-493M ViT-L and
ViT-7B take their own. 'auto' reads it from the weights file: Meta's name
(`..._pretrain_sat493m-...`) or, for vitl16, its training-only `local_cls_norm.*` weights
(absent from the LVD vitl16). Renamed or timm files need the explicit 'lvd' or 'sat'.
"""

import os
from typing import Any, Mapping, Optional, Sequence, Tuple

from .errors import CheckpointError

NORMALIZATIONS = ('auto', 'lvd', 'sat')
DATA_NAMES = {'lvd': 'LVD-1689M', 'sat': 'SAT-493M'}
MEAN_STD = {
    'lvd': ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    'sat': ((0.430, 0.411, 0.296), (0.213, 0.156, 0.143)),
}


def file_data(path: str, state: Mapping[str, Any], variant: str) -> str:
    """'sat' or 'lvd' as the weights file says (its Meta name, then its keys); '' if silent."""
    name = os.path.basename(path).lower()
    if 'sat493m' in name:
        return 'sat'
    if 'lvd1689m' in name:
        return 'lvd'
    # Meta's LVD ViT-7B may carry local_cls_norm too (timm's filter says it is 7B training
    # only): the keys decide for vitl16 alone, whose LVD file has none.
    if variant == 'vitl16' and any(k.startswith('local_cls_norm.') for k in state):
        return 'sat'
    return ''


def choose_data(requested: str, path: str = '', state: Optional[Mapping[str, Any]] = None,
                variant: str = '') -> Tuple[str, bool]:
    """Return (data, decided): the parameter's choice, else the file's, else 'lvd' (undecided).

    decided is False only for 'auto' with nothing in the file that says which data it saw
    (random weights, a timm file): a head's recorded mean/std may then choose instead.
    """
    if requested not in NORMALIZATIONS:
        raise CheckpointError(f'normalization: {requested!r} is not one of '
                              f'{", ".join(NORMALIZATIONS)}')
    if requested != 'auto':
        data = requested
        found = file_data(path, state or {}, variant) if path else ''
        if found and found != data:
            raise CheckpointError(
                f'normalization: {DATA_NAMES[data]} ({data}) asked for, but {path!r} is a '
                f'{DATA_NAMES[found]} checkpoint: set normalization to {found} or auto')
        return data, True
    found = file_data(path, state or {}, variant) if path else ''
    return (found or 'lvd'), bool(found)


def data_of(mean: Optional[Sequence[float]], std: Optional[Sequence[float]]) -> str:
    """'lvd' or 'sat' when mean/std are one of those, else '' (a custom normalization)."""
    if mean is None or std is None:
        return ''
    for data, (own_mean, own_std) in MEAN_STD.items():
        pairs = zip(list(mean) + list(std), own_mean + own_std)
        if all(abs(float(a) - b) <= 1e-4 for a, b in pairs):
            return data
    return ''


def check_head_data(path: str, mean: Optional[Sequence[float]],
                    std: Optional[Sequence[float]], data: str) -> None:
    """Refuse a head trained on SAT-493M features for a backbone giving LVD ones, or reverse."""
    trained = data_of(mean, std)
    if trained and data and trained != data:
        raise CheckpointError(
            f'head {path!r} was trained on {DATA_NAMES[trained]} features (mean '
            f'{list(MEAN_STD[trained][0])}), but the backbone gives {DATA_NAMES[data]} features:'
            f' use {DATA_NAMES[trained]} backbone weights (or set normalization: {trained} for a '
            'renamed file)')
