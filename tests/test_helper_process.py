"""The helper-process plumbing, driven through a toy process that echoes, streams, fails, hangs and dies.

What the client's caller sees: each request's own answer when several are in flight, a death
named with its reason, a stop that reaches the process and waits for it, a process that stops
answering ended within a bounded time, and stopping that frees the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

import pytest

from dataelan_desktop.core.helper_process import (
    SEND_INTERVAL,
    ClientPipe,
    EventBatcher,
    NoAnswerError,
    ProcessClient,
    ProcessDied,
    Request,
    serve,
)
from dataelan_desktop.core.providers.errors import ProviderError, RateLimitedError
from dataelan_desktop.core.providers.types import Started, TextDelta, Usage
from tests.support.processes import gone, wait_gone

# -- the toy process (these run in the child) ------------------------------------------------------

_stopped: list[str] = []  # the streams the toy saw cancelled, by their prefix


async def _toy(request: Request):
    """Requests side by side on the loop, as the network process runs them."""
    args = request.payload
    if request.op == "echo":
        return args[0]
    if request.op == "count":  # prefix, how many, pause between two
        prefix, n, pause = args
        try:
            for i in range(n):
                request.emit(TextDelta(f"{prefix}{i} "))
                await asyncio.sleep(pause)
        except asyncio.CancelledError:
            await asyncio.sleep(0.3)  # letting go of what it held takes a while
            _stopped.append(prefix)
            raise
        return n
    if request.op == "stopped":
        return list(_stopped)
    if request.op == "hang":  # one event, then the loop is blocked: nothing is answered any more
        request.emit(TextDelta("stuck"))
        time.sleep(600)
    if request.op == "exit":
        os._exit(args[0])
    if request.op == "fail":
        raise RateLimitedError("Slow down.", provider="toy", retry_after=7.0)
    if request.op == "unpicklable":
        return lambda: None
    raise ValueError(f"no such toy request: {request.op}")


def toy_main(conn) -> None:
    serve(conn, _toy, where="the toy process")


def _toy_in_turn(request: Request):
    """Requests that block the loop, one at a time, as the model process runs llama.cpp."""
    if request.op == "count":
        prefix, n, pause = request.payload
        for i in range(n):
            if request.cancelled.is_set():
                _stopped.append(prefix)
                return i
            request.emit(TextDelta(f"{prefix}{i} "))
            time.sleep(pause)
        return n
    return list(_stopped)


def toy_in_turn_main(conn) -> None:
    serve(conn, _toy_in_turn, where="the toy process")


# -- the client's side ---------------------------------------------------------------------------


def _client(target, restart: bool = True) -> ProcessClient:
    return ProcessClient(
        target,
        name="dataelan-toy",
        what="The toy process",
        after_death="The next request starts it again.",
        restart=restart,
    )


@pytest.fixture
def toy():
    client = _client(toy_main)
    yield client
    client.stop(timeout=1)


async def _text(stream) -> str:
    return "".join([event.text async for event in stream])


def _counted(prefix: str, n: int) -> str:
    return "".join(f"{prefix}{i} " for i in range(n))


async def test_requests_in_flight_together_each_get_their_own_answer(toy):
    a, b, echoed, from_thread = await asyncio.gather(
        _text(toy.open_stream("count", "a", 60, 0.001)),
        _text(toy.open_stream("count", "b", 60, 0.001)),
        toy.acall("echo", {"x": [1, 2]}),
        asyncio.to_thread(toy.call, "echo", "from a thread"),
    )
    assert a == _counted("a", 60) and b == _counted("b", 60)
    assert echoed == {"x": [1, 2]} and from_thread == "from a thread"
    assert not toy.busy and toy.pid != os.getpid()


@pytest.mark.parametrize("interval", [SEND_INTERVAL, 0.010])  # the network process's, the model process's
def test_the_first_text_goes_at_once_then_one_batch_per_interval(interval):
    sent: list[tuple] = []

    class Conn:
        def send(self, message: tuple) -> None:
            sent.append(message)

    now = [100.0]
    batcher = EventBatcher(ClientPipe(Conn()), 7, interval=interval)
    batcher.clock = lambda: now[0]
    batcher.add(Started("m"))
    batcher.add(TextDelta("a"))
    assert sent == [("events", 7, [Started("m")]), ("events", 7, [TextDelta("a")])]  # no wait
    batcher.add(TextDelta("b"))
    now[0] += interval * 0.9
    batcher.add(TextDelta("c"))
    assert len(sent) == 2  # held: the interval has not passed
    now[0] += interval * 0.2  # (past the interval)
    batcher.add(TextDelta("d"))
    assert sent[2] == ("events", 7, [TextDelta("bcd")])  # one message, the run of text joined
    batcher.add(Usage(3, 4))
    batcher.flush()
    assert sent[3] == ("events", 7, [Usage(3, 4)])


async def test_a_death_fails_what_was_in_flight_with_its_reason_and_the_next_request_starts_anew(toy):
    stream = toy.open_stream("count", "a", 10_000, 0.01)
    await anext(stream)
    first = toy.pid
    with pytest.raises(ProcessDied) as died:
        await toy.acall("exit", 3)
    assert (
        str(died.value)
        == "The toy process stopped unexpectedly (exit code 3). The next request starts it again."
    )
    with pytest.raises(ProcessDied, match=r"\(exit code 3\)"):
        await _text(stream)  # (after the events that came before the death)
    assert await toy.acall("echo", "again") == "again" and toy.pid != first

    stream = toy.open_stream("count", "b", 10_000, 0.01)
    await anext(stream)
    os.kill(toy.pid, signal.SIGKILL)
    with pytest.raises(ProcessDied, match=r"stopped unexpectedly \(killed by SIGKILL\)"):
        await _text(stream)


async def test_a_stopped_stream_is_cancelled_in_the_process_and_waited_for(toy):
    stream = toy.open_stream("count", "a", 10_000, 0.01)
    await anext(stream)
    pid = toy.pid
    await stream.aclose()  # returns once the process has let go (it takes 0.3 s to)
    assert await toy.acall("stopped") == ["a"]
    assert toy.pid == pid  # the same process, still serving


async def test_failures_keep_their_type_and_fields_and_a_bugs_traceback_is_logged(toy, caplog):
    with pytest.raises(RateLimitedError) as raised:
        await toy.acall("fail")
    assert raised.value.retry_after == 7 and raised.value.provider == "toy"
    with caplog.at_level("ERROR"), pytest.raises(ProviderError) as bug:
        await toy.acall("nonsense")
    assert str(bug.value) == "Unexpected error in the toy process: ValueError: no such toy request: nonsense"
    assert any("Traceback" in r.getMessage() and "_toy" in r.getMessage() for r in caplog.records)
    with pytest.raises(ProviderError, match="Unexpected error in the toy process: .*pickle"):
        await toy.acall("unpicklable", timeout=30)  # an answer that cannot cross is a failure, not a wait


async def test_a_process_that_stops_answering_is_given_up_on_and_killed(toy):
    toy.release_timeout = 0.5
    stream = toy.open_stream("hang")
    assert await anext(stream) == TextDelta("stuck")
    hung = toy.pid
    with pytest.raises(NoAnswerError, match="The toy process did not answer within 0.3 s"):
        await toy.acall("echo", "anyone?", timeout=0.3)
    await stream.aclose()  # the cancel is not answered either: after release_timeout, a kill
    assert wait_gone([hung], 10) == []
    assert await toy.acall("echo", "after") == "after" and toy.pid != hung


async def test_stopping_frees_the_process_even_a_hung_one(toy):
    assert await toy.acall("echo", 1) == 1
    idle = toy.pid
    await toy.astop()
    assert gone(idle) and not toy.alive

    stream = toy.open_stream("hang")
    await anext(stream)
    hung = toy.pid
    await toy.astop(timeout=0.5)  # it does not quit when asked: killed
    assert gone(hung)
    with pytest.raises(ProcessDied, match=r"^The toy process was stopped\.$"):
        await anext(stream)


def test_a_stream_whose_loop_closed_is_cancelled_in_the_process(toy):
    abandoned = asyncio.new_event_loop()
    stream = toy.open_stream("count", "gone", 10_000, 0.01)
    abandoned.run_until_complete(anext(stream))
    abandoned.close()  # with the stream open: its next events have nowhere to go
    deadline = time.monotonic() + 10
    while toy.call("stopped") != ["gone"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert toy.call("stopped") == ["gone"]
    del stream


async def test_a_process_that_blocks_its_loop_answers_in_turn_and_sees_a_cancel_between_steps():
    client = _client(toy_in_turn_main, restart=False)
    client.release_timeout = 5.0
    client.start()
    try:
        first = client.open_stream("count", "a", 10_000, 0.005)
        await anext(first)
        pid = client.pid
        # a request waiting behind the first, stopped before it began: answered at once, no kill
        queued = asyncio.ensure_future(anext(client.open_stream("count", "q", 3, 0)))
        for _ in range(3):
            await asyncio.sleep(0)
        queued.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await queued
        assert client.alive and client.pid == pid
        after = asyncio.ensure_future(_text(client.open_stream("count", "b", 3, 0)))
        await first.aclose()  # the flag is seen between two steps of the blocking loop
        assert await after == "b0 b1 b2 "  # the next request, once the first let go
        assert await client.acall("stopped") == ["a"] and client.pid == pid
    finally:
        client.stop(timeout=1)
