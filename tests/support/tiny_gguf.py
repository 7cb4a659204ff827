"""Tiny GGUF models written with the `gguf` package, for tests that need real llama.cpp.

``write_tiny_llama`` makes a llama-architecture model with random weights and a real
SentencePiece-style ("llama") vocabulary: the 256 byte tokens ``<0x00>``…``<0xFF>``
let it encode any text, and a ChatML template in ``tokenizer.chat_template`` makes
llama-cpp-python format chats the way a real instruct model would. It loads and
generates (gibberish) in well under a second.

Bad files for error-path tests: ``write_empty``, ``write_random_bytes``,
``write_truncated``, ``write_text_as_gguf``, ``write_wrong_magic``,
``write_unsupported_arch``, ``write_vocab_only``.
"""

from __future__ import annotations

import os
from pathlib import Path

import gguf
import numpy as np

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
DEFAULT_TEMPLATE = CHATML

WORDS = (
    "the of and to in is you that it he was for on are as with his they at be this have from or one had by "
    "word but not what all were we when your can said there use an each which she do how their if will up "
    "other about out many then them these so some her would make like him into time has look two more write "
    "go see number no way could people my than first water been call who oil its now find long down day did "
    "get come made may part hello world model chat answer question local"
).split()


def _vocab() -> tuple[list[bytes], list[float], list[int]]:
    T = gguf.TokenType
    tokens: list[bytes] = [b"<unk>", b"<s>", b"</s>", b"<|im_start|>", b"<|im_end|>"]
    types = [T.UNKNOWN, T.CONTROL, T.CONTROL, T.CONTROL, T.CONTROL]
    scores = [0.0] * len(tokens)
    for byte in range(256):
        tokens.append(f"<0x{byte:02X}>".encode())
        types.append(T.BYTE)
        scores.append(0.0)
    pieces = (
        ["\u2581"]
        + [chr(c) for c in range(ord("a"), ord("z") + 1)]
        + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    )
    pieces += [str(d) for d in range(10)] + ["\u2581" + w for w in WORDS]
    for rank, piece in enumerate(dict.fromkeys(pieces)):
        tokens.append(piece.encode())
        types.append(T.NORMAL)
        scores.append(-float(rank))
    return tokens, scores, [int(t) for t in types]


def _add_tokenizer(writer: gguf.GGUFWriter, chat_template: str | None) -> int:
    tokens, scores, types = _vocab()
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(4)  # <|im_end|>, as ChatML models do
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    return len(tokens)


def write_tiny_llama(
    path: Path | str,
    *,
    n_embd: int = 64,
    n_layer: int = 2,
    n_head: int = 4,
    n_head_kv: int = 2,
    n_ff: int = 128,
    n_ctx: int = 512,
    chat_template: str | None = DEFAULT_TEMPLATE,
    arch: str = "llama",
    f16: bool = False,
    seed: int = 0,
    name: str = "Tiny Test Chat",
) -> Path:
    """Write a working llama-architecture GGUF and return its path (idempotent for the same args)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    dtype = np.float16 if f16 else np.float32
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(name)
    writer.add_context_length(n_ctx)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_rope_dimension_count(n_embd // n_head)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if f16 else gguf.LlamaFileType.ALL_F32)
    n_vocab = _add_tokenizer(writer, chat_template)

    n_embd_kv = n_embd // n_head * n_head_kv

    def weight(rows: int, cols: int) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) * 0.2).astype(dtype)

    def norm(size: int) -> np.ndarray:
        return np.ones(size, dtype=np.float32)  # norms stay f32, as converters write them

    writer.add_tensor("token_embd.weight", weight(n_vocab, n_embd))
    for i in range(n_layer):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", norm(n_embd))
        writer.add_tensor(f"blk.{i}.attn_q.weight", weight(n_embd, n_embd))
        writer.add_tensor(f"blk.{i}.attn_k.weight", weight(n_embd_kv, n_embd))
        writer.add_tensor(f"blk.{i}.attn_v.weight", weight(n_embd_kv, n_embd))
        writer.add_tensor(f"blk.{i}.attn_output.weight", weight(n_embd, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", norm(n_embd))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(n_ff, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(n_embd, n_ff))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(n_ff, n_embd))
    writer.add_tensor("output_norm.weight", norm(n_embd))
    writer.add_tensor("output.weight", weight(n_vocab, n_embd))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# --- bad files ---------------------------------------------------------------------


def write_empty(path: Path | str) -> Path:
    path = Path(path)
    path.write_bytes(b"")
    return path


def write_random_bytes(path: Path | str, size: int = 64 * 1024, seed: int = 1) -> Path:
    path = Path(path)
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def write_truncated(path: Path | str, source: Path | str) -> Path:
    """A valid model cut in half, as an interrupted copy leaves it."""
    data = Path(source).read_bytes()
    path = Path(path)
    path.write_bytes(data[: len(data) // 2])
    return path


def write_text_as_gguf(path: Path | str) -> Path:
    path = Path(path)
    path.write_text("<!DOCTYPE html><html><body>404 Not Found</body></html>\n")
    return path


def write_wrong_magic(path: Path | str, source: Path | str) -> Path:
    data = bytearray(Path(source).read_bytes())
    data[:4] = b"GGML"
    path = Path(path)
    path.write_bytes(bytes(data))
    return path


def write_unsupported_arch(path: Path | str) -> Path:
    """A well-formed GGUF whose architecture llama.cpp does not know."""
    return write_tiny_llama(path, arch="nonsense-arch", n_layer=1)


def write_vocab_only(path: Path | str) -> Path:
    """Tokenizer metadata and no tensors, like llama.cpp's ``vocab-only`` files."""
    path = Path(path)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(512)
    writer.add_embedding_length(64)
    writer.add_block_count(2)
    writer.add_feed_forward_length(128)
    writer.add_head_count(4)
    _add_tokenizer(writer, DEFAULT_TEMPLATE)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


if __name__ == "__main__":  # handy by hand: python -m tests.support.tiny_gguf OUT.gguf
    import sys

    out = write_tiny_llama(sys.argv[1] if len(sys.argv) > 1 else "tiny.gguf")
    print(out, os.path.getsize(out), "bytes")
