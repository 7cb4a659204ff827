"""Run one prompt on several models at once; every column streams and finishes on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from functools import partial

from ..connections.registry import ProviderRegistry, parse_model_ref
from ..providers.reply import Reply, fold
from ..providers.retry import RetryPolicy, build_then_stream
from ..providers.types import ChatMessage, ChatRequest, GenerationParams

#: a column of a comparison is a reply like any other (the tester's windows still use this name)
ColumnResult = Reply


def fastest(columns: Sequence[Reply]) -> int | None:
    """Index of the completed column that finished soonest."""
    done = [
        (c.duration_ms, i)
        for i, c in enumerate(columns)
        if c.status == "complete" and c.duration_ms is not None
    ]
    return min(done)[1] if done else None


def cheapest(columns: Sequence[Reply]) -> int | None:
    """Index of the completed column with the lowest estimated cost."""
    priced = [(c.cost, i) for i, c in enumerate(columns) if c.status == "complete" and c.cost is not None]
    return min(priced)[1] if priced else None


def blind_line(reply: Reply) -> str:
    """What a blind column may show before the vote: whether it is done and how long it took.
    Names, cost (a local model's $0 gives it away), token counts, stop reasons, errors (they name
    the provider) and the fastest/cheapest marks wait for the vote. The window and the CLI both
    show this line."""
    parts = [str(reply.status)]
    if reply.duration_ms is not None and reply.status not in ("streaming", "waiting"):
        parts.append(f"{reply.duration_ms / 1000:.2f} s")
    return " · ".join(parts)


class Comparison:
    """A running comparison: ``columns`` fill in live; ``stop(i)`` or ``stop_all()``; ``await wait()``."""

    def __init__(
        self, registry: ProviderRegistry, models: Sequence[str], retry: RetryPolicy = RetryPolicy(attempts=1)
    ):
        if not 1 <= len(models) <= 6:
            raise ValueError("Compare between 1 and 6 models at once.")
        self.registry = registry
        self.retry = retry
        self.columns = [Reply(str(parse_model_ref(m))) for m in models]
        self._tasks: list[asyncio.Task] = []
        self.on_update: Callable[[int, Reply], None] | None = None

    def start(
        self,
        prompt: str,
        system: str | None = None,
        params: GenerationParams | None = None,
        column_params: Sequence[GenerationParams | None] | None = None,
    ) -> Comparison:
        """Start every column; ``column_params[i]`` (when given) overrides the shared ``params`` for column i."""
        if not prompt.strip():
            raise ValueError("The prompt is empty.")
        shared = params or GenerationParams()
        per_column = list(column_params or [])
        self._tasks = [
            asyncio.ensure_future(
                self._run(i, prompt, system, (per_column[i] if i < len(per_column) else None) or shared)
            )
            for i in range(len(self.columns))
        ]
        return self

    async def _run(self, index: int, prompt: str, system: str | None, params: GenerationParams) -> None:
        column = self.columns[index]
        ref = parse_model_ref(column.model)
        request = ChatRequest(
            model=ref.model, messages=(ChatMessage("user", prompt),), system=system, params=params
        )
        column.begin()
        self._notify(index)
        events = build_then_stream(partial(self.registry.get, ref.provider), request, self.retry)
        # one column's failure (or bug) ends only that column: fold keeps it in the column
        await fold(column, events, lambda _event: self._notify(index), self.registry.secrets.redact)
        self._notify(index)

    def _notify(self, index: int) -> None:
        if self.on_update is not None:
            self.on_update(index, self.columns[index])

    def stop(self, index: int) -> None:
        if index < len(self._tasks) and not self._tasks[index].done():
            self._tasks[index].cancel()

    def stop_all(self) -> None:
        for i in range(len(self._tasks)):
            self.stop(i)

    async def wait(self) -> list[Reply]:
        await asyncio.gather(*self._tasks, return_exceptions=True)
        return self.columns

    def fastest(self) -> int | None:
        return fastest(self.columns)

    def cheapest(self) -> int | None:
        return cheapest(self.columns)
