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
"""The OpenVINO IR of a ModelConfig without a model file: from the cache, else built once.

model_file(config, folder) returns the path of an IR .xml for config: a valid cache entry
(model_cache), else one converted from the torch model in a child process (python -m this
module) and published in the cache; with the cache off ('none') or unwritable, the child
writes the IR into folder (a temporary folder of the caller) for this start only. The
parent never imports torch: the child does the conversion, so torch, timm and the
in-memory conversion's memory (~47 MiB kept per openvino.convert_model) leave with it, and
its warnings stay in its captured stderr. A bad entry (truncated, corrupt, another
openvino) gives one warning and is rebuilt; a bad weights file raises the child's
CheckpointError in the parent.
"""

import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Dict, Optional

from ..errors import CheckpointError, ConfigError, Dinov3SegError, one_line
from . import model_cache as cache

LOGGER = logging.getLogger(__name__)
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
ERRORS = {'CheckpointError': CheckpointError, 'ConfigError': ConfigError}


def config_fields(config: Any) -> Dict[str, Any]:
    """Return a ModelConfig as JSON-serializable fields (input_size as its text)."""
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    fields['input_size'] = str(fields['input_size'])
    fields['head_weights'] = list(fields['head_weights'])
    return fields


def describe(config: Any) -> str:
    """Describe the model of config in a few words, for logs and `dinov3-seg-cache list`."""
    weights = os.path.basename(config.backbone_weights) if config.backbone_weights else None
    heads = ', '.join(os.path.basename(p) for p in config.head_weights) or 'random head'
    random = '' if weights and config.head_weights else f', seed {config.seed}'
    return (f'{config.backbone} ({weights or "random weights"}), {heads}{random}, '
            f'input {config.input_size}')


def build_ir(config: Any, xml_path: str) -> str:
    """Convert config's torch model to an IR at xml_path in a child process; return xml_path.

    Raises the child's CheckpointError/ConfigError (bad weights, bad heads) in one line.
    """
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get('PYTHONPATH')) if p)
    env.setdefault('PYTHONWARNINGS', 'ignore')
    done = subprocess.run([sys.executable, '-m', __name__, xml_path],
                          input=json.dumps(config_fields(config)), capture_output=True,
                          text=True, env=env, check=False)
    if done.returncode == 0 and os.path.isfile(xml_path):
        return xml_path
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else f'exit code {done.returncode}'
    kind, sep, message = last.partition(': ')
    if sep and kind in ERRORS:
        raise ERRORS[kind](message)
    raise CheckpointError(f'converting the {config.backbone} model to OpenVINO failed: '
                          f'{one_line(last, 300)}')


def _valid_entry(folder: str, key: str, version: str) -> Optional[str]:
    """Return the entry's .xml when it is valid; a bad entry is discarded with one warning."""
    if not os.path.isdir(folder):
        return None
    problem = cache.validate(folder, key, version)
    if not problem:
        return os.path.join(folder, cache.XML)
    LOGGER.warning('model cache: entry %s is unusable (%s): rebuilding it', folder, problem)
    cache.discard(folder)
    return None


def _build_entry(config: Any, cache_dir: str, key: str, inputs: Dict[str, Any]) -> str:
    """Build and publish the entry for key (caller holds the lock); return its .xml."""
    final = cache.entry_dir(cache_dir, key)
    built = tempfile.mkdtemp(prefix=f'.{key}-', dir=os.path.dirname(final))
    try:
        LOGGER.info('model cache: building the OpenVINO model of %s in %s (once; later '
                    'starts read it)', describe(config), final)
        build_ir(config, os.path.join(built, cache.XML))
        cache.write_record(built, key, inputs, describe(config))
        cache.publish(built, final)
    finally:
        shutil.rmtree(built, ignore_errors=True)
    found = _valid_entry(final, key, inputs['openvino'])
    if found is None:
        raise OSError(f'the entry {final} vanished after it was written')
    return found


def model_file(config: Any, folder: str) -> str:
    """Return the path of an OpenVINO IR .xml of config (which names no model file).

    folder receives the IR when the cache is off or unusable; it must outlive the
    compile_model call.
    """
    cache_dir = cache.resolve_cache_dir(getattr(config, 'cache_dir', ''))
    if cache_dir is None:
        LOGGER.info('model cache off: converting the %s model for this start', config.backbone)
        return build_ir(config, os.path.join(folder, cache.XML))
    try:
        inputs = cache.key_inputs(config)
    except CheckpointError:  # a missing file: the child reports it as the loaders word it
        return build_ir(config, os.path.join(folder, cache.XML))
    key = cache.cache_key(inputs)
    found = _valid_entry(cache.entry_dir(cache_dir, key), key, inputs['openvino'])
    if found is not None:
        LOGGER.info('model cache: reading %s', found)
        return found
    try:
        os.makedirs(os.path.join(cache_dir, cache.MODELS), exist_ok=True)
        with cache.build_lock(cache_dir, key):  # a concurrent start waits, then reads
            found = _valid_entry(cache.entry_dir(cache_dir, key), key, inputs['openvino'])
            return found or _build_entry(config, cache_dir, key, inputs)
    except OSError as exc:
        LOGGER.warning('model cache %s is not usable (%s): converting for this start only',
                       cache_dir, one_line(exc, 200))
    return build_ir(config, os.path.join(folder, cache.XML))


def _child_main(xml_path: str) -> int:
    """Child process: read the config fields (JSON) on stdin, write the IR to xml_path."""
    from ..config import ModelConfig
    fields = json.loads(sys.stdin.read())
    names = {f.name for f in dataclasses.fields(ModelConfig)}
    try:
        config = ModelConfig(**{k: v for k, v in fields.items() if k in names})
        import torch  # noqa: F401 - loaded first, so quiet_conversion filters its warnings
        from ..export.quiet import quiet_conversion
        with quiet_conversion():
            import openvino
            from ..export.metadata import set_ir_metadata
            from ..export.ir import convert_from_torch
            with tempfile.TemporaryDirectory(prefix='dinov3-ir-') as work:
                model, metadata = convert_from_torch(config, openvino, work)
                set_ir_metadata(model, metadata)
                openvino.save_model(model, xml_path, compress_to_fp16=False)
    except Dinov3SegError as exc:
        print(f'{type(exc).__name__}: {one_line(exc)}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    raise SystemExit(_child_main(sys.argv[1]))
