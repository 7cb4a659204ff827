"""Find OpenAI-compatible servers already running on this machine (Ollama, LM Studio, llama.cpp)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

#: (name, port, path that answers when the server is up)
KNOWN_SERVERS: tuple[tuple[str, int], ...] = (("ollama", 11434), ("lmstudio", 1234), ("llamacpp", 8080))
LABELS = {"ollama": "Ollama", "lmstudio": "LM Studio", "llamacpp": "llama.cpp server"}


@dataclass(frozen=True)
class FoundServer:
    name: str
    label: str
    base_url: str
    models: tuple[str, ...]


async def probe_server(
    name: str, port: int, host: str = "127.0.0.1", timeout: float = 0.5
) -> FoundServer | None:
    """Ask ``/v1/models`` on a loopback port; None when nothing OpenAI-compatible answers."""
    import httpx

    base_url = f"http://{host}:{port}/v1"
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            response = await client.get(base_url + "/models")
        if response.status_code != 200:
            return None
        data = response.json().get("data", [])
        models = tuple(str(m.get("id")) for m in data if isinstance(m, dict) and m.get("id"))
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return FoundServer(name=name, label=LABELS.get(name, name), base_url=base_url, models=models)


async def probe_local_servers(
    servers: tuple[tuple[str, int], ...] = KNOWN_SERVERS, timeout: float = 0.5
) -> list[FoundServer]:
    """Probe every known port at once (only 127.0.0.1; never the network)."""
    results = await asyncio.gather(*(probe_server(n, p, timeout=timeout) for n, p in servers))
    return [r for r in results if r is not None]
