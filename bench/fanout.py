"""Fan-out: four models streaming at once in the tester vs the slowest of them alone."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from .harness import Figure, median_of

DELAYS = (0.002, 0.003, 0.004, 0.005)  # seconds per token for each server
TOKENS = 200


def run() -> list[Figure]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ["DATAELAN_HOME"] = tempfile.mkdtemp(prefix="dataelan-bench-")
    from dataelan_desktop.core.connections.store import save_provider
    from dataelan_desktop.core.services import build_services
    from dataelan_desktop.core.tester.runner import Comparison
    from tests.support.fake_openai import fake_openai_server, openai_stream

    servers = []
    services = build_services()
    for i, delay in enumerate(DELAYS):
        server = fake_openai_server()
        server.default = lambda _r, d=delay: openai_stream([f"t{n} " for n in range(TOKENS)], delay=d)
        save_provider(services.db, f"s{i}", base_url=server.base_url + "/v1")
        servers.append(server)
    loop = asyncio.new_event_loop()

    def timed(models: list[str]) -> float:
        async def go() -> float:
            began = time.perf_counter()
            columns = await Comparison(services.registry, models).start("go").wait()
            assert all(c.status == "complete" for c in columns), [c.error for c in columns]
            return time.perf_counter() - began

        return loop.run_until_complete(go())

    try:
        timed(["s3:m"])  # warm up
        slowest = median_of(5, lambda: timed(["s3:m"]))
        four = median_of(5, lambda: timed(["s0:m", "s1:m", "s2:m", "s3:m"]))
    finally:
        loop.run_until_complete(services.aclose())
        loop.close()
        services.close()
        for server in servers:
            server.stop()
    return [
        Figure("fan-out: slowest model alone", slowest, "s", None, "baseline", True),
        Figure("fan-out: four models at once", four, "s", slowest, "<= 1.15x", four / slowest <= 1.15),
    ]
