"""Any server that speaks OpenAI's chat completions: Ollama, LM Studio, vLLM, OpenRouter, llama.cpp."""

from __future__ import annotations

import re

from .errors import InvalidRequestError, ProviderError
from .openai_provider import OpenAIProvider
from .types import ChatRequest

#: how servers word "this server or model cannot call tools" (Ollama, llama.cpp without --jinja, vLLM
#: without --enable-auto-tool-choice, LM Studio...); other refusals that mention tools are left as they are
CANNOT_CALL_TOOLS = re.compile(
    r"(not|n't) support(s|ed)? (for )?(tools|tool|function)|tools? (param|parameter)s? requires?|"
    r"tool.?choice|tool call(ing|s)? (is|are) not|function.?calling (is )?not",
    re.IGNORECASE,
)
NO_KEY = "not-needed"  # local servers ignore the key, but the SDK insists on one


class OpenAICompatibleProvider(OpenAIProvider):
    def __init__(self, name: str, base_url: str, api_key: str | None = None, **kwargs):
        super().__init__(name=name, api_key=api_key or NO_KEY, base_url=base_url, **kwargs)
        self.has_key = bool(api_key)

    def _key_hint(self) -> str:
        return f"Set its key with `dataelan keys set {self.name}` or in Settings → Providers."

    def _unreachable(self) -> str:
        return f"Could not reach {self.name} at {self.base_url} — is the server running?"

    def _refused(self, error: ProviderError, request: ChatRequest) -> ProviderError:
        """A server or model that cannot call tools refuses the request with a 400 whose wording
        differs per server (llama.cpp without ``--jinja``, Ollama's "does not support tools", vLLM
        without ``--enable-auto-tool-choice``): say that plainly, never drop the tools and go on."""
        named = super()._refused(error, request)  # one tool's schema refused: that tool is named
        if named is not error:
            return named
        refusal = isinstance(error, InvalidRequestError) or error.status == 500  # (some say it with a 500)
        if not request.tools or not refusal or not CANNOT_CALL_TOOLS.search(error.message):
            return error
        return InvalidRequestError(
            f"{self.name} cannot call tools with the model '{request.model}': {error.message} "
            "Use a model and server that support tool calling (llama.cpp's server needs --jinja; vLLM needs "
            "--enable-auto-tool-choice), or chat without tools.",
            provider=self.name,
            status=error.status,
        )
