"""Workflow engine overhead: a 100-step chain and a 100-item map on an instant fake provider, against
calling the same provider directly (and folding its stream) as many times. Target: at most 2 ms of
engine work per step (recording every attempt in SQLite included), taken as the slope between a
10-step and a 100-step run so that a run's own start and end (checks, the run's record) are
reported apart instead of spread over its steps."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from .harness import Figure, median_of

STEPS = 100
SHORT = 10
TARGET_MS = 2.0


def _chain(steps: int = STEPS) -> str:
    lines = ["name: Bench chain", "model: instant:m", "steps:"]
    for i in range(steps):
        prompt = "go" if i == 0 else "{{s" + str(i - 1) + "}}"
        lines.append(f'  - {{id: s{i}, kind: llm, prompt: "{prompt}"}}')
    lines.append(f'  - {{id: out, kind: output, value: "{{{{s{steps - 1}}}}}"}}')
    return "\n".join(lines) + "\n"


def _map(steps: int = STEPS) -> str:
    items = ", ".join(f'"i{i}"' for i in range(steps))
    return (
        "name: Bench map\nmodel: instant:m\nsteps:\n"
        f"  - id: each\n    kind: map\n    over: '[{items}]'\n    max_parallel: 8\n"
        '    steps:\n      - {id: one, kind: llm, prompt: "{{item}}"}\n'
        '  - {id: out, kind: output, value: "{{each.json[0]}}"}\n'
    )


def run() -> list[Figure]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ["DATAELAN_HOME"] = tempfile.mkdtemp(prefix="dataelan-bench-")
    from dataelan_desktop.core.db import open_database
    from dataelan_desktop.core.providers.base import Provider
    from dataelan_desktop.core.providers.reply import Reply, fold
    from dataelan_desktop.core.providers.types import (
        ChatMessage,
        ChatRequest,
        Finished,
        Started,
        StopReason,
        TextDelta,
        Usage,
    )
    from dataelan_desktop.core.workflows.engine import WorkflowEngine
    from dataelan_desktop.core.workflows.store import WorkflowStore

    class Instant(Provider):
        """Answers at once: what is left is the cost of the code around the provider."""

        name = "instant"

        async def stream(self, request):
            yield Started(request.model)
            yield TextDelta("ok")
            yield Usage(input_tokens=1, output_tokens=1)
            yield Finished(StopReason.END)

        async def list_models(self):
            return []

    provider = Instant()
    db = open_database()
    store = WorkflowStore(db)
    engine = WorkflowEngine(store, provider_for=lambda _name: provider)
    loop = asyncio.new_event_loop()
    chain, mapped = _chain(), _map()
    short_chain, short_map = _chain(SHORT), _map(SHORT)

    def direct() -> float:
        async def go() -> float:
            began = time.perf_counter()
            for _ in range(STEPS):
                request = ChatRequest(model="m", messages=(ChatMessage("user", "go"),))
                await fold(Reply("instant:m"), provider.stream(request))
            return time.perf_counter() - began

        return loop.run_until_complete(go())

    def through_engine(definition: str) -> float:
        async def go() -> float:
            began = time.perf_counter()
            result = await engine.start(definition, {})
            assert result.status == "complete", result.error
            return time.perf_counter() - began

        return loop.run_until_complete(go())

    try:
        direct(), through_engine(chain), through_engine(mapped)  # warm up
        base = median_of(5, direct)
        chain_s = median_of(5, lambda: through_engine(chain))
        map_s = median_of(5, lambda: through_engine(mapped))
        # per step: the slope between 10 and 100 steps (a run's own start and end are not per step)
        short_chain_s = median_of(5, lambda: through_engine(short_chain))
        short_map_s = median_of(5, lambda: through_engine(short_map))
    finally:
        loop.close()
        db.close()
    direct_step = base / STEPS
    chain_ms = ((chain_s - short_chain_s) / (STEPS - SHORT) - direct_step) * 1000
    map_ms = ((map_s - short_map_s) / (STEPS - SHORT) - direct_step) * 1000
    run_ms = (short_chain_s - SHORT * (chain_s - short_chain_s) / (STEPS - SHORT)) * 1000
    print(f"  workflows: {chain_s / base:.1f}x direct for the chain, {map_s / base:.1f}x for the map; "
          f"{chain_ms:.2f} / {map_ms:.2f} ms of engine work per step (target <= {TARGET_MS} ms), "
          f"{run_ms:.0f} ms per run (checks, run record, last writes)")  # fmt: skip
    return [
        Figure(f"workflows: provider called directly x{STEPS}", base * 1000, "ms", None, "baseline", True),
        Figure(
            f"workflows: {STEPS}-step chain",
            chain_s * 1000,
            "ms",
            base * 1000,
            f"<= {TARGET_MS} ms/step over direct",
            chain_ms <= TARGET_MS,
        ),  # fmt: skip
        Figure(
            f"workflows: {STEPS}-item map",
            map_s * 1000,
            "ms",
            base * 1000,
            f"<= {TARGET_MS} ms/step over direct",
            map_ms <= TARGET_MS,
        ),  # fmt: skip
        Figure(
            "workflows: engine work per step (chain)",
            chain_ms,
            "ms",
            None,
            f"<= {TARGET_MS} ms",
            chain_ms <= TARGET_MS,
        ),
        Figure(
            "workflows: engine work per step (map)",
            map_ms,
            "ms",
            None,
            f"<= {TARGET_MS} ms",
            map_ms <= TARGET_MS,
        ),
        Figure("workflows: a run's own cost (checks, records)", run_ms, "ms", None, "reported", True),
    ]
