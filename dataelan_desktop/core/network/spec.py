"""What it takes to build a cloud provider, as one picklable value, and building it.

The registry resolves configuration and keys (database, keyring, environment) into a
:class:`ProviderSpec` in the app's process; the network process builds the provider from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..providers.base import Provider

DEFAULT_STALL_TIMEOUT = 60.0  # seconds a stream may stay silent before it counts as stalled


@dataclass(frozen=True)
class ProviderSpec:
    kind: str  # a ProviderKind value: "openai", "anthropic" or "openai_compatible"
    name: str
    api_key: str | None = field(default=None, repr=False)  # never in a log line or a traceback
    base_url: str | None = None
    stall_timeout: float = DEFAULT_STALL_TIMEOUT


def build_provider(spec: ProviderSpec) -> Provider:
    """The SDK-backed provider ``spec`` describes (imports its SDK)."""
    # compared as text: the network process has no use for the database's modules
    if spec.kind == "openai":
        from ..providers.openai_provider import OpenAIProvider

        return OpenAIProvider(
            name=spec.name, api_key=spec.api_key, base_url=spec.base_url, stall_timeout=spec.stall_timeout
        )
    if spec.kind == "anthropic":
        from ..providers.anthropic_provider import AnthropicProvider

        return AnthropicProvider(
            name=spec.name, api_key=spec.api_key, base_url=spec.base_url, stall_timeout=spec.stall_timeout
        )
    from ..providers.openai_compatible import OpenAICompatibleProvider

    assert spec.base_url, "the registry refuses a compatible provider without a base URL"
    return OpenAICompatibleProvider(
        name=spec.name, base_url=spec.base_url, api_key=spec.api_key, stall_timeout=spec.stall_timeout
    )
