"""`python -m bench [NAME ...]` (make bench): every benchmark, or the named ones; one table, bench/results.json."""

from __future__ import annotations

import sys
import traceback

from . import (
    agents,
    bundle,
    fanout,
    history,
    local_overhead,
    mcp_call,
    memory,
    open_conversation,
    startup,
    stream_window,
    streaming,
    sync,
    workflows,
)
from .harness import record_history, report

BENCHMARKS = {
    "streaming": streaming,  # SDK → provider → chat service → SQLite, vs the plain SDK loop
    "stream_window": stream_window,  # … → the window painting offscreen; longest loop stall
    "local_overhead": local_overhead,  # the model process vs plain llama-cpp-python
    "startup": startup,  # to the window shown and idle, vs an empty PySide6 window
    "memory": memory,  # all the app's processes together: idle, after a reply from each cloud SDK
    "history": history,  # full-text search over 1,000,000 messages
    "open_conversation": open_conversation,  # a 2,000-message conversation to first paint
    "fanout": fanout,  # four models at once in the tester vs the slowest alone
    "sync": sync,  # sync server: first sync of 100,000 messages, change latency, 100 devices on PostgreSQL
    "bundle": bundle,  # the built bundle (dist/dataelan) vs the source install: size, start-up, memory
    "workflows": workflows,  # engine work per step: a 100-step chain and a 100-item map vs the provider alone
    "agents": agents,  # the agent loop's overhead per tool round trip (instant provider and tool)
    "mcp": mcp_call,  # an MCP tool call over stdio through the hub vs the SDK's own client
}


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    figures = []
    for name in names or list(BENCHMARKS):
        print(f"running {name}…", flush=True)
        try:
            figures += BENCHMARKS[name].run()
        except Exception:  # one broken benchmark must not hide the others
            traceback.print_exc()
    report(figures)
    if not names:  # a full run joins the history, with the machine's plain-SDK speed beside it
        record_history(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
