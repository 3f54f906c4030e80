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

"""The compiled-model cache on disk: where it lives, its key, and its entries.

An entry is an OpenVINO IR (model.xml + model.bin, metadata in rt_info) converted once
from the torch model of a ModelConfig that names no model file, so that later starts read
the IR and never import torch. Layout under the cache folder (cache_dir; '' = the default
$XDG_CACHE_HOME/dinov3_seg_ros, else ~/.cache/dinov3_seg_ros; 'none' = no cache):

    models/<key>/model.xml, model.bin, entry.json   one entry per key
    models/<key>.lock                               held while the entry is built
    openvino/                                       OpenVINO's compiled-blob CACHE_DIR

The key (key_inputs) covers everything that changes the model: the content digest of every
weights and classes file, the seed when any weights are random, backbone, head names,
input size, dtype, the package and the openvino versions. entry.json records the key
inputs and the size and sha256 of both files; an entry is published by renaming a finished
temporary folder, so a reader never sees a half-written entry. validate() rejects a
truncated, corrupt or foreign entry (the caller rebuilds it). Torch-free.
"""

import contextlib
import hashlib
import json
import os
import shutil
import time
from typing import Any, ContextManager, Dict, Iterator, List, Optional

from ... import __version__
from ..errors import CheckpointError

APP = 'dinov3_seg_ros'
MODELS, BLOBS = 'models', 'openvino'
XML, BIN, ENTRY = 'model.xml', 'model.bin', 'entry.json'
FORMAT = 2  # 2: ConvNeXt entries are traced in the (B, H*W, C) token form
OFF = ('none', 'off', 'false', 'no')
CHUNK = 1 << 20


def default_cache_dir() -> str:
    """$XDG_CACHE_HOME/dinov3_seg_ros, else ~/.cache/dinov3_seg_ros."""
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, APP)


def resolve_cache_dir(value: Optional[str]) -> Optional[str]:
    """Map a cache_dir setting to a folder: '' -> the default, 'none' -> None (no cache)."""
    text = str(value or '').strip()
    if text.lower() in OFF:
        return None
    return os.path.abspath(os.path.expanduser(text)) if text else default_cache_dir()


def blob_dir(cache_dir: Optional[str]) -> Optional[str]:
    """Return OpenVINO's compiled-blob CACHE_DIR under cache_dir (None when the cache is off)."""
    return os.path.join(cache_dir, BLOBS) if cache_dir else None


def file_digest(path: str) -> str:
    """Return the sha256 of a file's content (CheckpointError when it cannot be read)."""
    digest = hashlib.sha256()
    try:
        with open(path, 'rb') as handle:
            for chunk in iter(lambda: handle.read(CHUNK), b''):
                digest.update(chunk)
    except OSError as exc:
        raise CheckpointError(f'cannot read {path!r}: {exc.strerror or exc}') from None
    return digest.hexdigest()


def openvino_version() -> str:
    """Return the installed openvino's version string (imports openvino)."""
    import openvino
    return str(openvino.get_version())


def key_inputs(config: Any) -> Dict[str, Any]:
    """Return everything that changes the converted model of config (JSON-serializable)."""
    from .base import head_names_for
    heads = list(config.head_weights)
    random = not config.backbone_weights or not heads
    return {
        'format': FORMAT, 'package': __version__, 'openvino': openvino_version(),
        'backbone': str(config.backbone),
        'backbone_weights': file_digest(config.backbone_weights)
        if config.backbone_weights else None,
        'heads': [file_digest(path) for path in heads],
        'head_names': head_names_for(heads),
        'classes': file_digest(config.classes_file) if config.classes_file else None,
        'seed': int(config.seed) if random else None,
        'input_size': str(config.input_size), 'dtype': str(config.dtype)}


def cache_key(inputs: Dict[str, Any]) -> str:
    """Return a short hex digest of the key inputs."""
    text = json.dumps(inputs, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def entry_dir(cache_dir: str, key: str) -> str:
    """Return the folder of the entry with this key."""
    return os.path.join(cache_dir, MODELS, key)


def write_record(folder: str, key: str, inputs: Dict[str, Any], about: str = '') -> None:
    """Write entry.json (key, inputs, size and sha256 of model.xml/.bin) into a built folder."""
    files = {name: {'size': os.path.getsize(os.path.join(folder, name)),
                    'sha256': file_digest(os.path.join(folder, name))} for name in (XML, BIN)}
    record = {'key': key, 'inputs': inputs, 'files': files, 'about': about,
              'created': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
    path = os.path.join(folder, ENTRY)
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(record, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())


def read_record(folder: str) -> Dict[str, Any]:
    """Read entry.json of an entry folder ({} when missing or unreadable)."""
    try:
        with open(os.path.join(folder, ENTRY), encoding='utf-8') as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def validate(folder: str, key: str, version: str) -> str:
    """Return '' when the entry in folder is complete and intact, else why it is not."""
    record = read_record(folder)
    if not record:
        return 'entry.json is missing or corrupt'
    if record.get('key') != key:
        return 'it belongs to another key'
    found = (record.get('inputs') or {}).get('openvino')
    if found != version:
        return f'it was built by openvino {found}, this is {version}'
    for name in (XML, BIN):
        expected = (record.get('files') or {}).get(name) or {}
        path = os.path.join(folder, name)
        try:
            size = os.path.getsize(path)
        except OSError:
            return f'{name} is missing'
        if size != expected.get('size'):
            return f'{name} has {size} bytes, {expected.get("size")} expected (truncated?)'
        try:
            digest = file_digest(path)
        except CheckpointError:
            return f'{name} cannot be read'
        if digest != expected.get('sha256'):
            return f'{name} is corrupt (sha256 mismatch)'
    return ''


def publish(built: str, final: str) -> bool:
    """Rename the finished folder built to final; False when final already exists.

    The rename is atomic: readers see either no entry or a complete one. An existing
    final (another process won the race) is left alone and built is removed.
    """
    try:
        os.rename(built, final)
        return True
    except OSError:
        if not os.path.isdir(final):
            raise
        shutil.rmtree(built, ignore_errors=True)
        return False


def discard(folder: str) -> None:
    """Move a bad entry out of the way (renamed first, so no reader sees it half-deleted)."""
    trash = f'{folder}.bad-{os.getpid()}-{time.monotonic_ns()}'
    try:
        os.rename(folder, trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


@contextlib.contextmanager
def file_lock(path: str, optional: bool = False) -> Iterator[bool]:
    """Hold an exclusive flock on path (created if missing); yield whether it is held.

    optional: a path that cannot be opened gives no lock (False) instead of the OSError.
    """
    import fcntl
    try:
        handle = open(path, 'a+b')
    except OSError:
        if not optional:
            raise
        yield False
        return
    with handle:  # closing the file releases the lock
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield True


def build_lock(cache_dir: str, key: str) -> ContextManager[bool]:
    """Hold models/<key>.lock so concurrent starts build one entry, once."""
    return file_lock(os.path.join(cache_dir, MODELS, f'{key}.lock'))


def blob_lock(folder: str) -> ContextManager[bool]:
    """Hold <folder>/compile.lock around a compile_model that may read or write a blob there.

    OpenVINO writes a compiled blob in place and maps it to read it: two starts compiling the
    same model at once would both write it, and a third could map a file being truncated
    (SIGBUS). No folder, or one where the lock cannot be created: no lock.
    """
    if not folder:
        return contextlib.nullcontext(False)
    return file_lock(os.path.join(folder, 'compile.lock'), optional=True)


def folder_bytes(folder: str) -> int:
    """Return the total size of the files under folder."""
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, name))
    return total


def list_entries(cache_dir: str) -> List[Dict[str, Any]]:
    """List one dict per entry folder: key, path, bytes, created, about, valid (a reason or '')."""
    models = os.path.join(cache_dir, MODELS)
    version = ''
    entries = []
    for name in sorted(os.listdir(models)) if os.path.isdir(models) else []:
        folder = os.path.join(models, name)
        if not os.path.isdir(folder):
            continue
        record = read_record(folder)
        if not version:
            version = openvino_version()
        problem = validate(folder, name, version) if record else 'incomplete or corrupt'
        entries.append({'key': name, 'path': folder, 'bytes': folder_bytes(folder),
                        'created': record.get('created', ''), 'about': record.get('about', ''),
                        'problem': problem})
    return entries


def clear(cache_dir: str) -> int:
    """Remove every entry, lock and the compiled-blob cache; return the bytes freed."""
    freed = 0
    for name in (MODELS, BLOBS):
        folder = os.path.join(cache_dir, name)
        if os.path.isdir(folder):
            freed += folder_bytes(folder)
            shutil.rmtree(folder)
    return freed
