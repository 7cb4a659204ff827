"""What a GGUF file is, read from its header alone (the ``gguf`` package; weights never load).

``validate_gguf`` is the gate before anything is loaded: each kind of bad file
(empty, not GGUF, truncated, unknown architecture, vocabulary only) is refused with a
message that says what is wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..providers.errors import ModelFileError
from .header import check_header

MAGIC = b"GGUF"


@dataclass(frozen=True)
class GGUFInfo:
    path: Path
    file_size: int
    architecture: str
    name: str | None
    parameter_count: int
    quantization: str  # the dominant tensor type, e.g. Q4_K, F16
    file_type: str | None  # general.file_type as llama.cpp names it, e.g. MOSTLY_Q4_K_M
    context_length: int | None
    embedding_length: int | None
    block_count: int | None
    head_count: int | None
    head_count_kv: int | None
    vocab_size: int
    chat_template: str | None
    split_count: int = 1
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def has_chat_template(self) -> bool:
        return bool(self.chat_template)

    @property
    def parameters_label(self) -> str:
        n = self.parameter_count
        for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
            if n >= size:
                return f"{n / size:.1f}{unit}"
        return str(n)


def _describe_start(head: bytes) -> str:
    text = head[:16]
    if text.strip().startswith((b"<", b"{", b"#")) or all(
        32 <= b < 127 or b in (9, 10, 13) for b in text if text
    ):
        return f"it looks like text ({text.decode('ascii', 'replace').strip()[:16]!r}…)"
    return f"it starts with bytes {text[:4].hex(' ')}"


def known_architectures() -> set[str]:
    """The architectures llama.cpp knows, as the gguf package that ships with it lists them."""
    import gguf

    return set(gguf.MODEL_ARCH_NAMES.values())


def _field(reader, key: str, kind: type | tuple[type, ...] = (str, int, float, bool, list)) -> Any:
    """A metadata value of the expected kind, or None (a damaged or odd file may store anything anywhere)."""
    f = reader.fields.get(key)
    if f is None:
        return None
    try:
        value = f.contents()
    except Exception:
        return None
    if kind is int and isinstance(value, bool):
        return None
    return value if isinstance(value, kind) else None


def read_gguf_info(path: Path | str) -> GGUFInfo:
    """Inspect a GGUF file (raises :class:`ModelFileError` for anything unusable)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelFileError(f"{path} does not exist.")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a GGUF file.")
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(f"{path.name} is empty (0 bytes): the copy or download did not finish.")
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head[:4] != MAGIC:
        raise ModelFileError(f"{path.name} is not a GGUF model file ({_describe_start(head)}).")

    import gguf

    check_header(path, size)  # every count and length against the file's size, before the reader trusts them
    try:
        reader = gguf.GGUFReader(str(path), "r")
    except Exception as exc:  # the reader fails in many ways on damaged headers
        detail = (str(exc) or type(exc).__name__).splitlines()[0][:200]
        if isinstance(exc, IndexError | EOFError):
            raise ModelFileError(
                f"{path.name} is truncated or damaged: the file ({size:,} bytes) ends before the data its "
                "header describes. Copy or download it again."
            ) from exc
        raise ModelFileError(f"{path.name} has a damaged GGUF header ({detail}).") from exc

    arch = _field(reader, "general.architecture", str) or "unknown"
    tensors = list(reader.tensors)
    split_count = _field(reader, "split.count", int) or 1
    needed = max((t.data_offset + int(t.n_bytes) for t in tensors), default=0)
    if needed > size and split_count == 1:
        raise ModelFileError(
            f"{path.name} is truncated: its header describes {len(tensors)} tensors needing {needed:,} bytes, "
            f"but the file has {size:,}."
        )
    template = _field(reader, "tokenizer.chat_template", str)
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    vocab_size = len(tokens.data) if tokens is not None else 0

    counts: dict[str, int] = {}
    for t in tensors:
        type_name = getattr(t.tensor_type, "name", str(t.tensor_type))
        counts[type_name] = counts.get(type_name, 0) + int(t.n_elements)
    # the quantisation that holds most of the weights (norms are F32 in any file)
    quant = max(counts, key=counts.get) if counts else "none"
    file_type_value = _field(reader, "general.file_type", int)
    try:
        file_type = gguf.LlamaFileType(file_type_value).name if file_type_value is not None else None
    except ValueError:
        file_type = str(file_type_value)

    def arch_field(name: str) -> int | None:
        value = _field(reader, f"{arch}.{name}", int)
        return value if value is None or value >= 0 else None

    return GGUFInfo(
        path=path,
        file_size=size,
        architecture=arch,
        name=_field(reader, "general.name", str),
        parameter_count=sum(int(t.n_elements) for t in tensors),
        quantization=quant,
        file_type=file_type,
        context_length=arch_field("context_length"),
        embedding_length=arch_field("embedding_length"),
        block_count=arch_field("block_count"),
        head_count=arch_field("attention.head_count"),
        head_count_kv=arch_field("attention.head_count_kv") or arch_field("attention.head_count"),
        vocab_size=vocab_size,
        chat_template=template,
        split_count=int(split_count),
        metadata={"tensor_count": len(tensors), "gguf_version": _field(reader, "GGUF.version", int)},
    )


def validate_gguf(path: Path | str) -> GGUFInfo:
    """Inspect and refuse what llama.cpp could not use, before any load is attempted."""
    info = read_gguf_info(path)
    if info.metadata.get("tensor_count", 0) == 0:
        raise ModelFileError(
            f"{info.path.name} holds only a vocabulary (no weights): it is a tokenizer file, not a model."
        )
    if info.architecture not in known_architectures():
        raise ModelFileError(
            f"{info.path.name} uses the architecture '{info.architecture}', which this build of llama.cpp does not support."
        )
    return info


def estimate_memory(info: GGUFInfo, n_ctx: int | None = None) -> int:
    """Bytes needed to run the model: weights + an f16 KV cache for ``n_ctx`` + compute buffers."""
    n_ctx = n_ctx or info.context_length or 4096
    weights = info.file_size * max(1, info.split_count) if info.split_count > 1 else info.file_size
    n_layer = info.block_count or 0
    n_embd = info.embedding_length or 0
    heads = info.head_count or 1
    kv_heads = info.head_count_kv or heads
    n_embd_kv = n_embd * kv_heads // heads
    kv_cache = 2 * n_layer * n_ctx * n_embd_kv * 2  # K and V, f16
    compute = 64 * 1024 * 1024 + n_ctx * n_embd * 16  # scratch buffers; a rough but safe margin
    return int(weights + kv_cache + compute)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def split_parts(first: Path) -> list[Path]:
    """All parts of a split model (``name-00001-of-00003.gguf``), or just ``first``."""
    import re

    m = re.match(r"^(.*)-(\d{5})-of-(\d{5})\.gguf$", first.name)
    if not m:
        return [first]
    stem, total = m.group(1), int(m.group(3))
    return [first.with_name(f"{stem}-{i:05d}-of-{total:05d}.gguf") for i in range(1, total + 1)]


def total_size(parts: list[Path]) -> int:
    return sum(os.path.getsize(p) for p in parts if p.exists())
