"""Workflow fixtures: a fake OpenAI-compatible provider named "fake" on loopback, and an engine on it."""

from __future__ import annotations

import pytest

from dataelan_desktop.core.connections.store import save_provider
from dataelan_desktop.core.workflows import open_store
from dataelan_desktop.core.workflows.engine import WorkflowEngine
from tests.support.fake_openai import fake_openai_server, openai_stream


def prompt_of(request) -> str:
    return request.body["messages"][-1]["content"]


def echo(request):
    """The fake model answers with its prompt in angle brackets: what each step sent is visible."""
    return openai_stream([f"<{prompt_of(request)}>"])


@pytest.fixture
def fake(services):
    server = fake_openai_server()
    server.default = echo
    save_provider(services.db, "fake", base_url=server.base_url + "/v1")
    yield server
    server.stop()


@pytest.fixture
def store(services):
    return open_store(services)


@pytest.fixture
def make_engine(services, store):
    made: list[WorkflowEngine] = []

    def make(**kw) -> WorkflowEngine:
        engine = WorkflowEngine(store, services.registry, templates=services.templates, **kw)
        made.append(engine)
        return engine

    yield make
