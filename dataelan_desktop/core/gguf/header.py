"""A bounds check of a GGUF header, run before the ``gguf`` package reads it.

The ``gguf`` reader trusts every count it finds: a 204-byte file whose array claims 2^40
items keeps it looping for minutes and gigabytes. Here each count and length is checked
against the bytes the file really has, before anything is allocated, so a hostile or
damaged header is refused in milliseconds with a line that names what is wrong.

Format (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md): magic, version (u32),
tensor count (u64), key/value count (u64), the key/values (string key, u32 type, value),
then the tensor infos (string name, u32 n_dims, u64 dims[n_dims], u32 type, u64 offset).
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

from ..providers.errors import ModelFileError

SUPPORTED_VERSIONS = (2, 3)
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_NESTING = 3  # arrays of arrays of ...; real files use one level
#: no real model has a metadata array this long (the largest vocabularies hold ~262k tokens); the
#: ``gguf`` reader walks arrays item by item in Python, so this also bounds its time
MAX_ARRAY_ITEMS = 1 << 21
MAX_KEY_BYTES = 1 << 16

STRING, ARRAY = 8, 9
#: GGUF value type → fixed size in bytes (strings and arrays vary)
SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
MIN_VALUE_BYTES = {**SCALAR_SIZES, STRING: 8, ARRAY: 12}
MIN_KV_BYTES = 8 + 4 + 1
MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8


@dataclass(frozen=True)
class HeaderFacts:
    version: int
    tensor_count: int
    kv_count: int
    header_end: int  # where the tensor infos end (before alignment padding)


class _Damaged(Exception):
    """Internal: what is wrong, said as a phrase; turned into ModelFileError with the file's name."""


class _Cursor:
    def __init__(self, data: mmap.mmap | bytes, size: int):
        self.data, self.size, self.pos = data, size, 0

    def remaining(self) -> int:
        return self.size - self.pos

    def take(self, fmt: str, what: str) -> int:
        width = struct.calcsize(fmt)
        if width > self.remaining():
            raise _Damaged(f"it ends inside {what} at byte {self.pos:,}")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += width
        return value

    def skip(self, length: int, what: str) -> None:
        if length > self.remaining():
            raise _Damaged(
                f"{what} claims {length:,} bytes but only {self.remaining():,} are left in the file"
            )
        self.pos += length

    def string(self, what: str, *, limit: int | None = None) -> bytes:
        length = self.take("<Q", f"the length of {what}")
        if limit is not None and length > limit:
            raise _Damaged(f"{what} claims to be {length:,} bytes long")
        start = self.pos
        self.skip(length, what)
        return bytes(self.data[start : self.pos])


def check_header(path: Path, size: int) -> HeaderFacts:
    """Walk the header within the file's bounds; raise :class:`ModelFileError` naming the first problem."""
    with open(path, "rb") as fh:
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        try:
            return _walk(_Cursor(data, size), path.name)
        except _Damaged as problem:
            raise ModelFileError(
                f"{path.name} is truncated or damaged: {problem}. Copy or download it again."
            ) from None
        finally:
            if isinstance(data, mmap.mmap):
                data.close()


def _walk(cur: _Cursor, name: str) -> HeaderFacts:
    cur.take("<I", "the magic number")
    version = cur.take("<I", "the version")
    if version not in SUPPORTED_VERSIONS:
        swapped = struct.unpack("<I", struct.pack(">I", version))[0]
        if swapped in SUPPORTED_VERSIONS:
            raise ModelFileError(
                f"{name} is a big-endian GGUF (version {swapped}); this machine needs the little-endian file."
            )
        raise ModelFileError(
            f"{name} is GGUF version {version}, which this app cannot read (it reads versions "
            f"{' and '.join(map(str, SUPPORTED_VERSIONS))}); get a file converted by a recent llama.cpp."
        )
    tensor_count = cur.take("<Q", "the tensor count")
    kv_count = cur.take("<Q", "the metadata count")
    if kv_count * MIN_KV_BYTES + tensor_count * MIN_TENSOR_INFO_BYTES > cur.remaining():
        raise _Damaged(
            f"its header lists {kv_count:,} metadata entries and {tensor_count:,} tensors, more than its "
            f"{cur.size:,} bytes can hold"
        )
    keys: set[bytes] = set()
    alignment = 32  # GGUF_DEFAULT_ALIGNMENT
    for index in range(kv_count):
        key = cur.string(f"metadata key {index + 1}", limit=MAX_KEY_BYTES)
        label = _label(key)
        if key in keys:
            raise _Damaged(f"the metadata key {label} appears twice")
        keys.add(key)
        kind = cur.take("<I", f"the type of {label}")
        if key == b"general.alignment":
            alignment = _alignment(cur, kind)
        else:
            _value(cur, kind, label, depth=0)
    names: set[bytes] = set()
    extents: list[tuple[int, int, int]] = []  # (type, values, offset)
    for index in range(tensor_count):
        tensor = cur.string(f"the name of tensor {index + 1}", limit=MAX_KEY_BYTES)
        label = _label(tensor)
        if tensor in names:
            raise _Damaged(f"the tensor {label} appears twice")
        names.add(tensor)
        n_dims = cur.take("<I", f"the dimensions of tensor {label}")
        if n_dims > MAX_DIMS:
            raise _Damaged(f"tensor {label} claims {n_dims:,} dimensions (at most {MAX_DIMS})")
        elements = 1
        for _ in range(n_dims):
            dim = cur.take("<Q", f"a dimension of tensor {label}")
            elements *= dim
        if elements > cur.size * 64:  # even 1-bit weights need a byte per 8; this only stops absurd products
            raise _Damaged(
                f"tensor {label} claims {elements:,} values, more than a {cur.size:,}-byte file holds"
            )
        kind = cur.take("<I", f"the type of tensor {label}")
        if kind not in tensor_types():
            raise _Damaged(f"tensor {label} has an unknown type ({kind})")
        extents.append((kind, elements, cur.take("<Q", f"the offset of tensor {label}")))
    _check_extents(cur.size, cur.pos, alignment, extents, name)
    return HeaderFacts(version, tensor_count, kv_count, cur.pos)


def _check_extents(
    size: int, header_end: int, alignment: int, extents: list[tuple[int, int, int]], name: str
) -> None:
    """Every tensor's data lies inside this file (each part of a split model holds its own tensors)."""
    import gguf

    data_start = -(-header_end // alignment) * alignment
    needed = data_start
    for kind, elements, offset in extents:
        block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(kind)]
        needed = max(needed, data_start + offset + -(-elements // block) * type_size)
    if needed > size:
        raise ModelFileError(
            f"{name} is truncated: its header describes {len(extents)} tensors needing {needed:,} bytes, "
            f"but the file has {size:,}. Copy or download it again."
        )


def _alignment(cur: _Cursor, kind: int) -> int:
    if kind != 4:
        raise _Damaged("general.alignment is not a 32-bit unsigned number")
    value = cur.take("<I", "general.alignment")
    if value == 0 or value & (value - 1):
        raise _Damaged(f"general.alignment is {value:,}, not a power of two")
    return value


def tensor_types() -> set[int]:
    """Tensor types the ``gguf`` package knows the block size of."""
    import gguf

    return {int(t) for t in gguf.GGML_QUANT_SIZES}


def _value(cur: _Cursor, kind: int, label: str, depth: int) -> None:
    if kind in SCALAR_SIZES:
        cur.skip(SCALAR_SIZES[kind], f"the value of {label}")
    elif kind == STRING:
        cur.string(f"the text of {label}")
    elif kind == ARRAY:
        if depth >= MAX_NESTING:
            raise _Damaged(f"{label} nests arrays more than {MAX_NESTING} deep")
        item_kind = cur.take("<I", f"the item type of {label}")
        count = cur.take("<Q", f"the length of {label}")
        if item_kind not in MIN_VALUE_BYTES:
            raise _Damaged(f"{label} holds items of an unknown type ({item_kind})")
        if count * MIN_VALUE_BYTES[item_kind] > cur.remaining():
            raise _Damaged(
                f"{label} claims {count:,} items, more than the {cur.remaining():,} bytes left in the file hold"
            )
        if count > MAX_ARRAY_ITEMS:
            raise _Damaged(f"{label} claims {count:,} items (this app reads at most {MAX_ARRAY_ITEMS:,})")
        if item_kind in SCALAR_SIZES:
            cur.skip(count * SCALAR_SIZES[item_kind], f"the items of {label}")
        else:
            for _ in range(count):
                _value(cur, item_kind, label, depth + 1)
    else:
        raise _Damaged(f"{label} has an unknown value type ({kind})")


def _label(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Damaged("a name in its header is not UTF-8 text") from None
    return repr(text[:80])
