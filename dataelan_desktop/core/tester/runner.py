"""Run one prompt on several models at once; every column streams and finishes on its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields

from ..connections.registry import ProviderRegistry, parse_model_ref
from ..providers.errors import ProviderError
from ..providers.retry import RetryPolicy, stream_with_retries
from ..providers.types import (
    ChatMessage,
    ChatRequest,
    Finished,
    GenerationParams,
    ReasoningDelta,
    TextDelta,
    Usage,
)
from .prices import estimate_cost


@dataclass
class ColumnResult:
    model: str
    text: str = ""
    status: str = "waiting"  # waiting | streaming | complete | stopped | failed
    error: str | None = None
    ttft_ms: float | None = None
    total_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str | None = None
    cost: float | None = None
    started_at: float = field(default=0.0, repr=False)
    finished_at: float | None = field(default=None, repr=False)

    @property
    def tokens_per_second(self) -> float | None:
        if not self.output_tokens or self.ttft_ms is None or self.total_ms is None:
            return None
        span = (self.total_ms - self.ttft_ms) / 1000
        return self.output_tokens / span if span > 0 else None

    def record(self) -> dict:
        data = asdict(self)
        data.pop("started_at")
        data.pop("finished_at")
        data["tokens_per_second"] = self.tokens_per_second
        return data

    @classmethod
    def from_record(cls, data: dict) -> ColumnResult:
        """A saved column again (a reopened run shows the same measurements as a live one)."""
        saved = {f.name for f in fields(cls)} - {"started_at", "finished_at"}
        return cls(**{k: v for k, v in data.items() if k in saved})


def fastest(columns: Sequence[ColumnResult]) -> int | None:
    """Index of the completed column that finished soonest."""
    done = [
        (c.total_ms, i) for i, c in enumerate(columns) if c.status == "complete" and c.total_ms is not None
    ]
    return min(done)[1] if done else None


def cheapest(columns: Sequence[ColumnResult]) -> int | None:
    """Index of the completed column with the lowest estimated cost."""
    priced = [(c.cost, i) for i, c in enumerate(columns) if c.status == "complete" and c.cost is not None]
    return min(priced)[1] if priced else None


class Comparison:
    """A running comparison: ``columns`` fill in live; ``stop(i)`` or ``stop_all()``; ``await wait()``."""

    def __init__(
        self, registry: ProviderRegistry, models: Sequence[str], retry: RetryPolicy = RetryPolicy(attempts=1)
    ):
        if not 1 <= len(models) <= 6:
            raise ValueError("Compare between 1 and 6 models at once.")
        self.registry = registry
        self.retry = retry
        self.columns = [ColumnResult(model=str(parse_model_ref(m))) for m in models]
        self._tasks: list[asyncio.Task] = []
        self.on_update: Callable[[int, ColumnResult], None] | None = None

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
        column.started_at = time.perf_counter()
        column.status = "streaming"
        self._notify(index)
        try:
            provider = await asyncio.to_thread(self.registry.get, ref.provider)
            async for event in stream_with_retries(provider, request, self.retry):
                if isinstance(event, TextDelta | ReasoningDelta) and column.ttft_ms is None:
                    column.ttft_ms = (time.perf_counter() - column.started_at) * 1000
                if isinstance(event, TextDelta):
                    column.text += event.text
                elif isinstance(event, Usage):
                    column.input_tokens = (
                        event.input_tokens if event.input_tokens is not None else column.input_tokens
                    )
                    column.output_tokens = (
                        event.output_tokens if event.output_tokens is not None else column.output_tokens
                    )
                elif isinstance(event, Finished):
                    column.stop_reason = str(event.stop_reason)
                self._notify(index)
            column.status = "complete"
        except asyncio.CancelledError:
            column.status = "stopped"
        except ProviderError as error:
            column.status, column.error = "failed", self.registry.secrets.redact(str(error))
        except Exception as error:  # one column's bug must not end the others
            column.status, column.error = "failed", f"{type(error).__name__}: {error}"
        finally:
            column.finished_at = time.perf_counter()
            column.total_ms = (column.finished_at - column.started_at) * 1000
            column.cost = estimate_cost(column.model, column.input_tokens, column.output_tokens)
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

    async def wait(self) -> list[ColumnResult]:
        await asyncio.gather(*self._tasks, return_exceptions=True)
        return self.columns

    def fastest(self) -> int | None:
        return fastest(self.columns)

    def cheapest(self) -> int | None:
        return cheapest(self.columns)
