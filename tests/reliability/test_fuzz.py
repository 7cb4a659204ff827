"""Fuzzing the two readers of untrusted files: any input gives a valid result or the module's own one-line
error, never another exception, and stays within a small memory budget (bounded examples, no deadline:
the suite stays well under a minute)."""

from __future__ import annotations

import copy
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataelan_desktop.core.gguf.info import validate_gguf
from dataelan_desktop.core.providers.errors import ModelFileError
from dataelan_desktop.core.transfer import ImportFormatError, read_import
from tests.reliability.bad_gguf import length_fields
from tests.reliability.tally import TALLY
from tests.reliability.test_bad_imports import CHATGPT, DATAELAN

MEMORY_BUDGET = 64 * 1024 * 1024
FUZZ = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["\ud83d", "user", "assistant", "text", "a1", "q1", "root", "1"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


def _replace(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


def _within_budget(call) -> tuple[str, Any]:
    tracemalloc.start()
    try:
        outcome = call()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MEMORY_BUDGET, f"peak {peak / 1e6:.0f} MB"
    return outcome


def _import_outcome(path: Path) -> str:
    try:
        parsed = read_import(path)
    except ImportFormatError as error:
        assert "\n" not in str(error), str(error)
        return "refused"
    for conversation in parsed.conversations:  # what is accepted is what the database can store
        for message in conversation.messages:
            message.content.encode("utf-8")
            assert message.role in ("user", "assistant", "system", "tool")
    return "accepted"


BASES = {"dataelan": DATAELAN, "chatgpt": CHATGPT}
PATHS = {name: _paths(doc) for name, doc in BASES.items()}


@pytest.mark.timeout(120)
@FUZZ
@given(base=st.sampled_from(sorted(BASES)), where=st.integers(min_value=0), value=json_values)
def test_fuzzed_exports_are_read_or_refused_in_one_line(tmp_path_factory, base, where, value):
    path = tmp_path_factory.mktemp("fuzz") / "export.json"
    paths = PATHS[base]
    path.write_text(json.dumps(_replace(BASES[base], paths[where % len(paths)], value)))
    outcome = _within_budget(lambda: _import_outcome(path))
    assert outcome in ("accepted", "refused")  # never a traceback, a hang or a second line
    TALLY["bad_inputs"] += outcome == "refused"


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=60)
@given(data=st.binary(max_size=4096))
def test_fuzzed_bytes_are_refused_in_one_line(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "export.json"
    path.write_bytes(data)
    outcome = _within_budget(lambda: _import_outcome(path))
    assert outcome in ("accepted", "refused")  # never a traceback, a hang or a second line
    TALLY["bad_inputs"] += outcome == "refused"


def _model_outcome(path: Path) -> str:
    try:
        validate_gguf(path)
    except ModelFileError as error:
        assert "\n" not in str(error), str(error)
        return "refused"
    return "accepted"


@pytest.fixture(scope="module")
def length_offsets(tiny_gguf) -> tuple[list[int], list[int]]:
    every, arrays, _ = length_fields(tiny_gguf.read_bytes())
    return every, arrays


@pytest.mark.timeout(120)
@FUZZ
@given(
    lies=st.lists(  # a count or length that lies: an array's item count half the time, any other otherwise
        st.tuples(st.booleans(), st.integers(min_value=0), st.integers(min_value=0, max_value=2**64 - 1)),
        max_size=3,
    ),
    edits=st.lists(  # bytes overwritten in the fixed header (magic, version, counts) or the metadata after it
        st.tuples(
            st.integers(min_value=0, max_value=40) | st.integers(min_value=0, max_value=4095),
            st.binary(min_size=1, max_size=8),
        ),
        max_size=6,
    ),
    cut=st.none() | st.integers(min_value=0),
)
def test_fuzzed_gguf_headers_are_read_or_refused_in_one_line(
    tmp_path_factory, tiny_gguf, length_offsets, lies, edits, cut
):
    data = bytearray(tiny_gguf.read_bytes())
    for array_count, which, number in lies:  # a count or length that lies (2^40 items in a small file...)
        offsets = length_offsets[1] if array_count else length_offsets[0]
        offset = offsets[which % len(offsets)]
        data[offset : offset + 8] = number.to_bytes(8, "little")
    for offset, patch in edits:  # the header and the start of the metadata: counts, lengths, types
        data[offset : offset + len(patch)] = patch
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    path = tmp_path_factory.mktemp("fuzz") / "model.gguf"
    path.write_bytes(bytes(data))
    outcome = _within_budget(lambda: _model_outcome(path))
    assert outcome in ("accepted", "refused")  # never a traceback, a hang or a second line
    TALLY["bad_inputs"] += outcome == "refused"
