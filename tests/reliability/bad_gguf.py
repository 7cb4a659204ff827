"""Hostile and damaged GGUF files, written byte by byte (the ``gguf`` writer refuses to write most of them)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

U8, U32, STR, ARR, U64 = 0, 4, 8, 9, 10


def text(value: bytes | str) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return struct.pack("<Q", len(raw)) + raw


def kv(key: bytes | str, kind: int, value: bytes) -> bytes:
    return text(key) + struct.pack("<I", kind) + value


def tensor_info(name: str, dims: list[int], kind: int = 0, offset: int = 0) -> bytes:
    return (
        text(name)
        + struct.pack("<I", len(dims))
        + b"".join(struct.pack("<Q", d) for d in dims)
        + struct.pack("<IQ", kind, offset)
    )


def gguf(*, version: int = 3, kvs: list[bytes] = (), tensors: list[bytes] = (), n_kv: int | None = None,
         n_tensors: int | None = None, pad_to: int = 0) -> bytes:  # fmt: skip
    body = b"GGUF" + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                                 len(kvs) if n_kv is None else n_kv)  # fmt: skip
    body += b"".join(kvs) + b"".join(tensors)
    return body + b"\0" * max(0, pad_to - len(body))


ARCH = kv("general.architecture", STR, text("llama"))


def hostile_files(good: bytes) -> dict[str, bytes]:
    """Name → bytes. ``good`` is a working tiny model, mutated for the damaged cases."""
    files: dict[str, bytes] = {
        "version 0": gguf(version=0, pad_to=64),
        "version 1": gguf(version=1, pad_to=64),
        "version 99": gguf(version=99, pad_to=64),
        "big-endian": b"GGUF" + struct.pack(">IQQ", 3, 0, 0),
        "2^40 uint8 items in 204 bytes": gguf(
            kvs=[kv("general.foo", ARR, struct.pack("<IQ", U8, 1 << 40))], pad_to=204
        ),
        "2^32 strings": gguf(
            kvs=[kv("tokenizer.ggml.tokens", ARR, struct.pack("<IQ", STR, 1 << 32))], pad_to=256
        ),
        "huge metadata count": gguf(n_kv=1 << 62, pad_to=128),
        "huge tensor count": gguf(n_tensors=1 << 62, pad_to=128),
        "huge key length": gguf(kvs=[struct.pack("<Q", 1 << 50) + b"x"], pad_to=128),
        "huge string value": gguf(kvs=[kv("general.name", STR, struct.pack("<Q", 1 << 45))], pad_to=128),
        "unknown value type": gguf(kvs=[kv("general.name", 77, b"\0" * 8)], pad_to=64),
        "unknown array item type": gguf(kvs=[kv("general.x", ARR, struct.pack("<IQ", 99, 2))], pad_to=64),
        "arrays nested 10 deep": gguf(
            kvs=[kv("general.x", ARR, struct.pack("<IQ", ARR, 1) * 9 + struct.pack("<IQ", U8, 1))], pad_to=256
        ),
        "duplicate key": gguf(kvs=[ARCH, ARCH], pad_to=64),
        "key not UTF-8": gguf(kvs=[kv(b"\xff\xfe", U32, b"\0" * 4)], pad_to=64),
        "tensor with 1000 dims": gguf(
            kvs=[ARCH], tensors=[struct.pack("<Q", 1) + b"t" + struct.pack("<I", 1000)], pad_to=256
        ),
        "tensor of 2^200 values": gguf(
            kvs=[ARCH], tensors=[tensor_info("t", [1 << 50, 1 << 50, 1 << 50, 1 << 50])], pad_to=256
        ),
        "tensor of unknown type": gguf(kvs=[ARCH], tensors=[tensor_info("t", [4], kind=4000)], pad_to=256),
        "tensor beyond the end": gguf(
            kvs=[ARCH], tensors=[tensor_info("t", [16], offset=1 << 40)], pad_to=256
        ),
        "duplicate tensor": gguf(
            kvs=[ARCH], tensors=[tensor_info("t", [4]), tensor_info("t", [4])], pad_to=512
        ),
        "alignment 0": gguf(kvs=[ARCH, kv("general.alignment", U32, struct.pack("<I", 0))], pad_to=128),
        "alignment 3": gguf(kvs=[ARCH, kv("general.alignment", U32, struct.pack("<I", 3))], pad_to=128),
        "alignment as text": gguf(kvs=[ARCH, kv("general.alignment", STR, text("32"))], pad_to=128),
        "ends inside a key": gguf(kvs=[ARCH])[:30],
        "magic only": b"GGUF",
        "magic and version": b"GGUF" + struct.pack("<I", 3),
        "architecture as a number": gguf(
            kvs=[kv("general.architecture", U32, struct.pack("<I", 7))],
            tensors=[tensor_info("t", [4])],
            pad_to=256,
        ),
        "no tensors, odd fields": gguf(
            kvs=[ARCH, kv("split.count", STR, text("many")), kv("llama.context_length", STR, text("4k"))],
            pad_to=128,
        ),
    }
    header_end = _header_end(good)
    for cut in (
        5,
        13,
        24,
        40,
        100,
        header_end // 2,
        header_end - 3,
        header_end + 10,
        len(good) // 2,
        len(good) - 1,
    ):
        files[f"cut at byte {cut}"] = good[:cut]
    for i, offset in enumerate((8, 16, 24)):  # counts overwritten with all ones
        files[f"count field {i} all ones"] = good[:offset] + b"\xff" * 8 + good[offset + 8 :]
    files["first key length all ones"] = good[:24] + b"\xff" * 8 + good[32:]
    return files


def length_fields(good: bytes) -> tuple[list[int], list[int], int]:
    """Offsets of every count and length (u64) in a well-formed header, those of the arrays' item counts
    alone, and where the header ends: the places a hostile file lies. Walked here independently of the
    code under test."""
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    found: list[int] = [8, 16]
    arrays: list[int] = []
    pos = 24

    def string() -> None:
        nonlocal pos
        found.append(pos)
        (length,) = struct.unpack_from("<Q", good, pos)
        pos += 8 + length

    def value(kind: int) -> None:
        nonlocal pos
        if kind in sizes:
            pos += sizes[kind]
        elif kind == STR:
            string()
        else:
            item, count = struct.unpack_from("<IQ", good, pos)
            found.append(pos + 4)
            arrays.append(pos + 4)
            pos += 12
            for _ in range(count):
                value(item)

    tensors, kvs = struct.unpack_from("<QQ", good, 8)
    for _ in range(kvs):
        string()
        (kind,) = struct.unpack_from("<I", good, pos)
        pos += 4
        value(kind)
    for _ in range(tensors):
        string()
        (dims,) = struct.unpack_from("<I", good, pos)
        found += [pos + 4 + 8 * i for i in range(dims)]
        pos += 4 + 8 * dims + 4
        found.append(pos)  # the data offset
        pos += 8
    return found, arrays, pos


def _header_end(good: bytes) -> int:
    return length_fields(good)[2]


def write_all(folder: Path, good: bytes) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for index, (name, data) in enumerate(hostile_files(good).items()):
        path = folder / f"bad-{index:02d}.gguf"
        path.write_bytes(data)
        out[name] = path
    return out


Writer = Callable[[Path], Path]
