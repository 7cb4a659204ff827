"""GGUF headers are read without loading weights, and every kind of bad file is refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataelan_desktop.core.gguf.info import estimate_memory, read_gguf_info, validate_gguf
from dataelan_desktop.core.providers.errors import ModelFileError
from tests.support import tiny_gguf


def test_inspection_matches_what_was_written(tmp_path: Path):
    f32 = tiny_gguf.write_tiny_llama(tmp_path / "a.gguf", n_embd=64, n_layer=2, n_ctx=512)
    f16 = tiny_gguf.write_tiny_llama(
        tmp_path / "b.gguf", n_embd=32, n_layer=3, n_ctx=1024, f16=True, chat_template=None
    )
    a, b = validate_gguf(f32), validate_gguf(f16)
    assert (a.architecture, a.quantization, a.file_type) == ("llama", "F32", "ALL_F32")
    assert (a.context_length, a.embedding_length, a.block_count) == (512, 64, 2)
    assert a.has_chat_template and "<|im_start|>" in a.chat_template
    assert (b.quantization, b.file_type, b.context_length, b.block_count) == ("F16", "MOSTLY_F16", 1024, 3)
    assert not b.has_chat_template
    assert a.vocab_size == b.vocab_size > 256  # every byte token is there
    assert a.file_size == f32.stat().st_size and a.name == "Tiny Test Chat"
    # parameter count = the sum of the tensors written
    n_vocab, e, ff, kv = a.vocab_size, 64, 128, 64 // 4 * 2
    per_layer = 2 * e + e * e * 2 + kv * e * 2 + ff * e * 3
    assert a.parameter_count == 2 * n_vocab * e + e + 2 * per_layer
    assert estimate_memory(a, 512) > a.file_size
    assert estimate_memory(a, 4096) > estimate_memory(a, 512)  # the KV cache grows with context


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d, good: tiny_gguf.write_empty(d / "empty.gguf"), "is empty"),
        (lambda d, good: tiny_gguf.write_random_bytes(d / "random.gguf"), "is not a GGUF model file"),
        (lambda d, good: tiny_gguf.write_truncated(d / "half.gguf", good), "truncated"),
        (lambda d, good: tiny_gguf.write_text_as_gguf(d / "page.gguf"), "looks like text"),
        (lambda d, good: tiny_gguf.write_wrong_magic(d / "magic.gguf", good), "is not a GGUF model file"),
        (lambda d, good: tiny_gguf.write_unsupported_arch(d / "arch.gguf"), "architecture 'nonsense-arch'"),
        (lambda d, good: tiny_gguf.write_vocab_only(d / "vocab.gguf"), "only a vocabulary"),
        (lambda d, good: d / "missing.gguf", "does not exist"),
    ],
)
def test_bad_files_are_refused_with_what_is_wrong(tmp_path: Path, tiny_gguf, make, message):
    bad = make(tmp_path, tiny_gguf)
    with pytest.raises(ModelFileError, match=message):
        validate_gguf(bad)


def test_tensor_count_comes_from_the_header(tmp_path: Path):
    good = tiny_gguf.write_tiny_llama(tmp_path / "x.gguf", n_layer=3)
    # token_embd, output_norm, output + 9 tensors per layer
    assert read_gguf_info(good).metadata["tensor_count"] == 3 + 3 * 9
