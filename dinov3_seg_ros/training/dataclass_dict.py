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

"""A nested dict (from YAML) -> typed dataclasses, checking every value against its hint.

Supports dataclasses, bool, int, float (also from strings like '1e-4'), str, Optional,
Union, List and Dict; an error names the dotted key, e.g. 'stages.1.lr: expected a number'.
"""

from dataclasses import fields, is_dataclass
import math
import typing
from typing import Any, Dict, List, Union

from dinov3_seg_ros.core.errors import ConfigError


def dataclass_from_dict(cls: Any, data: Any, where: str = '') -> Any:
    """Build dataclass cls from a nested dict; unknown keys and wrong types name the key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f'{where.rstrip(".") or "config"}: expected a mapping, got {data!r}')
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    for key in data:
        if key not in names:
            raise ConfigError(f'{where}{key}: unknown key (known: {", ".join(sorted(names))})')
    kwargs = {key: _convert(hints[key], value, f'{where}{key}') for key, value in data.items()}
    return cls(**kwargs)


def _convert(hint: Any, value: Any, key: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if is_dataclass(hint):
        return dataclass_from_dict(hint, value, f'{key}.')
    if origin is Union:
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(option, value, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[-1] if errors else f'{key}: invalid value {value!r}')
    if origin in (list, List):
        if not isinstance(value, list):
            raise ConfigError(f'{key}: expected a list, got {value!r}')
        return [_convert(args[0], v, f'{key}.{i}') for i, v in enumerate(value)]
    if origin in (dict, Dict):
        if not isinstance(value, dict):
            raise ConfigError(f'{key}: expected a mapping, got {value!r}')
        return dict(value)
    return _scalar(hint, value, key)


def _scalar(hint: Any, value: Any, key: str) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f'{key}: expected true or false, got {value!r}')
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f'{key}: expected an integer, got {value!r}')
    if hint is float:
        number = None
        if isinstance(value, str):
            try:
                number = float(value)  # YAML 1.1 reads 1e-4 (no dot) as a string
            except ValueError:
                pass
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        if number is None:
            raise ConfigError(f'{key}: expected a number, got {value!r}')
        if not math.isfinite(number):  # nan would pass every range check
            raise ConfigError(f'{key}: expected a finite number, got {value!r}')
        return number
    if hint is str:
        if value is None:
            return ''
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f'{key}: expected a string, got {value!r}')
    raise ConfigError(f'{key}: unsupported value {value!r}')
