"""Any server that speaks OpenAI's chat completions: Ollama, LM Studio, vLLM, OpenRouter, llama.cpp."""

from __future__ import annotations

from .openai_provider import OpenAIProvider

NO_KEY = "not-needed"  # local servers ignore the key, but the SDK insists on one


class OpenAICompatibleProvider(OpenAIProvider):
    def __init__(self, name: str, base_url: str, api_key: str | None = None, **kwargs):
        super().__init__(name=name, api_key=api_key or NO_KEY, base_url=base_url, **kwargs)
        self.has_key = bool(api_key)

    def _key_hint(self) -> str:
        return f"Set its key with `dataelan keys set {self.name}` or in Settings → Providers."

    def _unreachable(self) -> str:
        return f"Could not reach {self.name} at {self.base_url} — is the server running?"
