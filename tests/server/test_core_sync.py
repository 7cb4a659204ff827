"""The shared, pure part of sync: clock order, merge rules, sealing, operation checks."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataelan_desktop.core.sync.clock import HybridClock, Stamp
from dataelan_desktop.core.sync.merge import Replica
from dataelan_desktop.core.sync.protocol import Change, Operation, ProtocolError, validate
from dataelan_desktop.core.sync.seal import Sealer, SealError, SealParams

CHEAP = {"opslimit": 1, "memlimit": 8192 * 1024}


def test_a_change_made_after_seeing_another_wins_even_with_a_slow_wall_clock():
    fast = HybridClock(str(uuid.uuid4()), wall=lambda: 10_000)
    slow = HybridClock(str(uuid.uuid4()), wall=lambda: 5_000)  # five seconds behind
    seen = fast.tick()
    slow.observe(seen)
    after = slow.tick()
    assert after > seen
    assert str(after) > str(seen)  # the string form orders the same way (what the server compares)


@given(st.lists(st.tuples(st.integers(0, 10**13), st.integers(0, 999_999)), min_size=2, max_size=20))
def test_stamp_strings_order_exactly_like_stamps(pairs):
    device = uuid.uuid4().hex
    stamps = [Stamp(w, c, device) for w, c in pairs]
    assert sorted(stamps) == sorted(stamps, key=str)
    assert all(Stamp.parse(str(s)) == s for s in stamps)


def test_a_clock_never_repeats_a_stamp_within_one_millisecond():
    clock = HybridClock(str(uuid.uuid4()), wall=lambda: 42)
    stamps = [clock.tick() for _ in range(1000)]
    assert len(set(stamps)) == 1000 and stamps == sorted(stamps)


def _change(seq, kind, field, value, hlc, row="00000000-0000-0000-0000-000000000001", table="conversations"):
    return Change(seq, table, row, kind, field, value, hlc)


@settings(max_examples=60, deadline=None)
@given(st.permutations(range(6)), st.integers(1, 3))
def test_merge_gives_one_result_whatever_the_order_and_repeats(order, repeats):
    dev_a, dev_b = uuid.uuid4().hex, uuid.uuid4().hex
    changes = [
        _change(1, "insert", None, {"created_at": "t0"}, f"{1:015d}-000000-{dev_a}"),
        _change(2, "insert", None, {"created_at": "other"}, f"{2:015d}-000000-{dev_b}"),  # later insert loses
        _change(3, "set", "title", "A", f"{5:015d}-000000-{dev_a}"),
        _change(
            4, "set", "title", "B", f"{5:015d}-000000-{dev_b}"
        ),  # same wall and counter: device breaks the tie
        _change(5, "set", "pinned", True, f"{3:015d}-000001-{dev_a}"),
        _change(6, "set", "pinned", False, f"{3:015d}-000000-{dev_b}"),
    ]
    replica = Replica()
    for _ in range(repeats):
        replica.apply_all(changes[i] for i in order)
    row = replica.row("conversations", changes[0].row_id)
    assert row["title"] == ("A" if dev_a > dev_b else "B")
    assert row["pinned"] is True
    # union of immutable rows: whichever insert came first is kept; both sides keep the same one
    assert row["created_at"] in ("t0", "other")


def test_sealed_values_open_only_with_the_passphrase_and_in_their_own_place():
    sealer, params = Sealer.create("river stone lamp", **CHEAP)
    params = SealParams.from_json(params.to_json())  # as stored on the server and read back
    row = str(uuid.uuid4())
    op = Operation(1, "messages", row, "insert", None, {"content": "the secret plan", "role": "user"}, "x")
    sealed = sealer.seal(op)
    assert "secret" not in str(sealed.value) and sealed.value["role"] == "user"
    again = Sealer.open("river stone lamp", params)
    assert (
        again.unseal(
            Change(1, **{k: getattr(sealed, k) for k in ("table", "row_id", "kind", "field", "value", "hlc")})
        ).value["content"]
        == "the secret plan"
    )
    with pytest.raises(SealError, match="cannot be read with this passphrase"):
        Sealer.open("wrong passphrase", params)
    # a sealed value moved to another row does not open (the row's identity is bound in)
    moved = sealed.value["content"]
    with pytest.raises(SealError, match="cannot be read"):
        again.unseal_value("messages", str(uuid.uuid4()), "content", moved)


@pytest.mark.parametrize(
    "op, words",
    [
        (Operation(1, "api_keys", str(uuid.uuid4()), "set", "deleted_at", 1, ""), "not a synced table"),
        (Operation(1, "messages", "not-a-uuid", "insert", None, {}, ""), "not a UUID"),
        (Operation(1, "messages", str(uuid.uuid4()), "set", "content", "x", ""), "not a clock stamp"),
    ],
)
def test_operations_outside_the_declared_schema_are_refused(op, words):
    with pytest.raises(ProtocolError, match=words):
        validate(op)


def test_messages_cannot_be_edited_only_deleted():
    device = str(uuid.uuid4())
    stamp = str(HybridClock(device).tick())
    with pytest.raises(ProtocolError, match="not a field that can be changed"):
        validate(Operation(1, "messages", str(uuid.uuid4()), "set", "content", "edited", stamp), device)
    validate(Operation(1, "messages", str(uuid.uuid4()), "set", "deleted_at", "2024", stamp), device)
