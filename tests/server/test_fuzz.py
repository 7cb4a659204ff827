"""The API fuzzed against its own OpenAPI document (schemathesis, a bounded number of examples per
operation), signed in as a real user: no 500, and no traceback in any answer."""

from __future__ import annotations

import os
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from .conftest import PASSWORD, add_user

EXAMPLES = int(os.environ.get("DATAELAN_FUZZ_EXAMPLES", "40"))


@pytest.fixture
def signed_in_headers(app, http):
    user, device = add_user(app), str(uuid.uuid4())
    state = {"headers": {}}

    def headers() -> dict[str, str]:
        # a fuzzed logout or device revocation may sign this device out: sign in again
        if not state["headers"] or http.get("/v1/me", headers=state["headers"]).status_code == 401:
            token = http.post(
                "/v1/login",
                json={"user": user, "password": PASSWORD, "device_id": device, "device_name": "fuzz"},
            ).json()["token"]
            state["headers"] = {"Authorization": f"Bearer {token}"}
        return state["headers"]

    return headers


def no_traceback(ctx, response, case) -> None:
    text = response.text
    assert "Traceback" not in text and 'File "' not in text, f"a traceback leaked: {text[:300]}"
    content_type = response.headers.get("content-type") or [""]  # schemathesis keeps each header as a list
    if response.status_code >= 400 and content_type[0].startswith("application/json"):
        detail = response.json().get("detail")
        assert isinstance(detail, str) and detail, f"an error without a sentence: {text[:300]}"


def test_api_never_fails_on_what_it_is_sent(app, signed_in_headers):
    # (the schema is walked here rather than with @schema.parametrize: its fixture loader needs a
    # pytest internal that pytest 9 no longer has)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    tried, answered = [], {}
    for result in schema.get_all_operations():
        operation = result.ok()
        tried.append(operation.label)
        fuzz_operation(operation, signed_in_headers, answered.setdefault(operation.label, set()))
    assert len(tried) >= 10, tried
    # the fuzzing got past validation into the handlers, not only bounced off with 4xx
    assert 200 in answered["POST /v1/push"] and 200 in answered["GET /v1/pull"], answered


def fuzz_operation(operation, signed_in_headers, statuses: set[int]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(case):
        response = case.call_and_validate(
            headers=signed_in_headers(), checks=[not_a_server_error, no_traceback]
        )
        statuses.add(response.status_code)

    fuzz()
