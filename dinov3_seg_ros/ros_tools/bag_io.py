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

"""The bag container of dinov3-seg-bag: open the input, stage the output, copy connections.

Reading goes through rosbags' AnyReader (a rosbag2 folder with sqlite3 or mcap storage, a
bare .mcap or .db3 file, a ROS 1 .bag); every failure of the input (not a bag, truncated,
corrupt, a type without a definition) becomes one BagError line. The output is a rosbag2
folder written by rosbags' Writer under OUT.partial/ and renamed to OUT only once closed:
an interrupted run leaves at most OUT.partial (removed when it can), never a broken OUT.
"""

import contextlib
import functools
import io
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Sequence, Tuple

from rosbags.highlevel import AnyReader
from rosbags.interfaces import MessageDefinitionFormat
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import get_typestore, Stores

from ..core.errors import Dinov3SegError, one_line

STORAGES = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
BAG_FILES = ('.mcap', '.db3', '.bag')
Converter = Callable[[Any], Any]  # input bytes -> CDR bytes (or a memoryview of them)


class BagError(Dinov3SegError):
    """An input bag cannot be read, or the output bag cannot be written where asked."""


@functools.lru_cache(maxsize=1)
def typestore() -> Any:
    """Message definitions for bags that carry none, and for the outputs (ROS 2 Kilted)."""
    return get_typestore(Stores.ROS2_KILTED)


def open_reader(path: str) -> AnyReader:
    """Open a bag for reading (BagError with the reason when it is not a readable bag)."""
    bag = Path(path)
    if not bag.exists():
        raise BagError(f'no such bag: {path!r}')
    if bag.is_file() and bag.suffix not in BAG_FILES:
        raise BagError(f'{path!r} is not a bag: expected a rosbag2 folder, or a '
                       f'{", ".join(BAG_FILES)} file')
    if bag.is_dir() and not (bag / 'metadata.yaml').is_file():
        raise BagError(f'{path!r} is not a rosbag2 folder: it has no metadata.yaml')
    try:
        reader = AnyReader([bag], default_typestore=typestore())
        reader.open()
    except Exception as exc:  # noqa: BLE001 - any failure of the reader is a bad input
        raise BagError(f'cannot read bag {path!r}: {one_line(exc) or type(exc).__name__}'
                       ) from None
    for conn in reader.connections:
        fmt = getattr(conn.ext, 'serialization_format', 'cdr')
        if fmt != 'cdr':
            reader.close()
            raise BagError(f'{conn.topic}: serialization format {fmt!r} is not supported '
                           '(only cdr)')
    return reader


def read_messages(reader: AnyReader, path: str) -> Iterator[Tuple[Any, int, bytes]]:
    """Yield (connection, log time ns, raw bytes) in bag order; BagError when it breaks."""
    messages = reader.messages()
    while True:
        try:
            item = next(messages)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - the reader failing mid-way: a bad input
            reason = one_line(exc) or type(exc).__name__
            raise BagError(f'cannot read bag {path!r} (truncated or corrupt?): {reason}'
                           ) from None
        yield item


def cdr_converter(reader: AnyReader, msgtype: str) -> Converter:
    """Bytes of a message as the input stores them -> CDR bytes (ROS 1 messages converted)."""
    if reader.is2:
        return _same
    from rosbags.convert.converter import generate_message_converter
    with contextlib.redirect_stdout(io.StringIO()):  # it prints what it migrates
        convert = generate_message_converter(reader.typestore, typestore(), msgtype, msgtype,
                                             {}, src_is2=False, dst_is2=True)
    return lambda raw: bytes(convert(raw))


def copy_connections(reader: AnyReader, writer: Writer, connections: Sequence[Any]
                     ) -> Dict[int, Tuple[Any, Converter]]:
    """Add output connections for input connections: input id -> (output conn, converter).

    rosbag2 inputs keep their message definitions, QoS and bytes; ROS 1 inputs are converted
    to ROS 2 messages with ROS 2 definitions (rosbags' converter; types ROS 2 lacks keep the
    bag's definition). BagError for a type without a definition.
    """
    if not reader.is2:
        from rosbags.convert.converter import create_connections_converters
        with contextlib.redirect_stdout(io.StringIO()):  # it prints what it migrates
            connmap, convmap = create_connections_converters(
                list(connections), get_typestore(Stores.ROS2_KILTED), reader, writer)
        return {c.id: (connmap[(c.id, c.owner)], convmap[c.msgtype]) for c in connections}
    added: Dict[Any, Any] = {}
    copied: Dict[int, Tuple[Any, Converter]] = {}
    for conn in connections:
        key = (conn.topic, conn.msgtype, repr(conn.ext))
        if key not in added:
            added[key] = _add_like(reader, writer, conn)
        copied[conn.id] = (added[key], _same)
    return copied


def _same(raw: Any) -> Any:
    return raw


def _add_like(reader: AnyReader, writer: Writer, conn: Any) -> Any:
    """Add an output connection like conn: its definition, hash and QoS."""
    ext = conn.ext
    if conn.msgdef.format != MessageDefinitionFormat.NONE and conn.digest:
        return writer.add_connection(conn.topic, conn.msgtype, msgdef=conn.msgdef.data,
                                     rihs01=conn.digest,
                                     serialization_format=ext.serialization_format,
                                     offered_qos_profiles=ext.offered_qos_profiles)
    if conn.msgtype not in reader.typestore.fielddefs:
        raise BagError(f'{conn.topic}: unknown message type {conn.msgtype!r} (the bag has no '
                       'definition of it)')
    return writer.add_connection(conn.topic, conn.msgtype, typestore=reader.typestore,
                                 serialization_format=ext.serialization_format,
                                 offered_qos_profiles=ext.offered_qos_profiles)


def check_output(out: str, overwrite: bool, source: str) -> str:
    """Absolute path of OUT; BagError if it (or OUT.partial) exists without overwrite."""
    path = os.path.abspath(out.rstrip('/') or out)
    if path == os.path.abspath(source.rstrip('/')):
        raise BagError(f'the output {out!r} is the input bag')
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        raise BagError(f'the folder of the output does not exist: {parent!r}')
    for existing in (path, path + '.partial'):
        if os.path.lexists(existing) and not overwrite:
            raise BagError(f'{existing!r} exists: pass --overwrite to replace it')
    return path


class StagedBag:
    """The output bag OUT, written as OUT.partial/<name> and renamed to OUT by commit()."""

    def __init__(self, out: str, storage: str, overwrite: bool, source: str) -> None:
        self.out = check_output(out, overwrite, source)
        self.partial = self.out + '.partial'
        _remove(self.partial)
        os.makedirs(self.partial)
        self.writer = Writer(os.path.join(self.partial, os.path.basename(self.out)),
                             version=Writer.VERSION_LATEST, storage_plugin=STORAGES[storage])
        self.writer.open()

    def commit(self) -> None:
        """Close the bag, replace OUT with it and remove OUT.partial."""
        self.writer.close()
        _remove(self.out)
        os.replace(os.path.join(self.partial, os.path.basename(self.out)), self.out)
        os.rmdir(self.partial)

    def discard(self) -> None:
        """Abort the writer and remove OUT.partial (after an error or Ctrl-C)."""
        with contextlib.suppress(Exception):
            self.writer.abort()
        _remove(self.partial)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)
