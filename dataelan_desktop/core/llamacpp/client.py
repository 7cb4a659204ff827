"""The app's side of a model process: load the model in it, stream replies from it, end it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from ..helper_process import NoAnswerError, ProcessClient, ProcessDied
from ..providers.errors import ModelFileError, UnavailableError
from ..providers.types import StreamEvent
from .process import model_main

LOAD_TIMEOUT = 600.0  # a large model on a slow disk takes minutes; a hung load must still end
COUNT_TIMEOUT = 60.0  # tokenizing waits for a reply being generated (one request at a time)
CANCEL_TIMEOUT = 10.0  # a stopped reply's wait for the model process to finish its token


class ModelClient(ProcessClient):
    """One loaded model in its own process; its replies are made one at a time, in order.

    A death is not mended here: the provider sees that the client is no longer ``alive`` and
    starts a new one on the next message (which loads the model again).
    """

    release_timeout = CANCEL_TIMEOUT

    def __init__(self, model_path: Path, settings: dict[str, Any], label: str | None = None):
        self.model_path = Path(model_path)
        self.settings = dict(settings)
        self.label = label or self.model_path.name
        super().__init__(
            model_main,
            name=f"dataelan-model:{self.label}",
            what=f"The model process for {self.label}",
            after_death="The next message will load the model again.",
            restart=False,
        )
        self.key: tuple = ()  # the provider's cache key for this model
        self.n_ctx: int | None = None
        self.template_source: str | None = None

    async def load(self, progress: Callable[[str], None] | None = None) -> None:
        """Start the process and load the model there; a file llama.cpp refuses is a ModelFileError."""
        if progress:
            progress(f"Starting the model process for {self.label}…")
        self.start()
        if progress:
            progress(f"Loading {self.label}…")
        try:
            loaded = await self.acall("load", str(self.model_path), self.settings, timeout=LOAD_TIMEOUT)
        except ProcessDied as died:
            raise UnavailableError(
                f"The model process for {self.label} stopped while loading ({died.reason}); "
                "the model may need more memory than is free."
            ) from None
        except NoAnswerError:
            await self.astop()
            raise UnavailableError(
                f"Loading {self.label} took longer than {LOAD_TIMEOUT:.0f} s and was abandoned."
            ) from None
        except ModelFileError as refused:
            await self.astop()
            raise ModelFileError(f"llama.cpp could not load {self.label}: {refused}") from None
        except asyncio.CancelledError:  # the person gave up on it: its memory goes back now
            self.kill()
            raise
        self.n_ctx = loaded["n_ctx"]
        self.template_source = loaded["template_source"]
        if progress:
            progress(f"{self.label} is loaded.")

    async def count(self, messages: list[dict[str, str]]) -> int:
        """How many of the model's tokens ``messages`` take through its chat template."""
        return int(await self.acall("count", messages, timeout=COUNT_TIMEOUT))

    def generate(
        self,
        model: str,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """The reply's events; closing this early stops the generation within a token."""
        payload = {
            "model": model,
            "messages": messages,
            "params": params,
            "tools": tools or [],
            "tool_choice": tool_choice,
        }
        return self.open_stream("generate", payload)
