"""Schemathesis over the OpenAPI document: no input, valid or not, makes the API fail.

Every ``/api/v1`` operation (but logging out, which would end the test's session, and
first start, which is refused once set up) gets generated requests, valid and invalid,
from a script's API token; each answer must not be a 5xx and must match what the
document says it returns. Requests go through the test's own client, so the app runs one
lifespan, ended with the test. (Schemathesis's own ``from_fixture`` does not run on
pytest 9, hence the loop over operations here.)
"""

from __future__ import annotations

import os
import traceback
from datetime import UTC, datetime, timedelta

import httpx2 as httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import response_schema_conformance

API = "/api/v1"
EXAMPLES_PER_MODE = int(os.environ.get("LETDOWN_FUZZ_EXAMPLES", "12"))
"""Valid and invalid requests per operation: quick on two cores (raise it for a deeper run)."""


@pytest.fixture
def api_token(client: TestClient) -> str:
    """Alex's token, after a child, a session and a bag are written, so some refs exist."""
    start = datetime.now(UTC) - timedelta(hours=2)
    assert client.post(f"{API}/household/children", json={"name": "Robin"}).status_code == 201
    session = client.post(
        f"{API}/entries",
        json={
            "kind": "pump",
            "start_at": start.isoformat(),
            "end_at": (start + timedelta(minutes=15)).isoformat(),
            "sides": {"left": {"volume_ml": 50}},
        },
    )
    assert session.status_code == 201, session.text
    bag = client.post(
        f"{API}/stash",
        json={"volume_ml": 50, "expressed_at": start.isoformat(), "code": "AAA"},
    )
    assert bag.status_code == 201, bag.text
    created = client.post(f"{API}/tokens", json={"name": "schemathesis"})
    assert created.status_code == 201, created.text
    token: str = created.json()["token"]
    return token


def api_operations(client: TestClient) -> list[APIOperation]:
    """Every ``/api/v1`` operation in the app's own OpenAPI document."""
    document = client.get("/openapi.json").json()
    schema = (
        schemathesis.openapi.from_dict(document)
        .include(path_regex=f"^{API}/")
        .exclude(path=[f"{API}/logout", f"{API}/setup"])
    )
    return [result.ok() for result in schema.get_all_operations()]


def send(script: TestClient, case: Case, token: str) -> httpx.Response:
    """The generated request, sent with the test's client (httpx) instead of requests."""
    request = case.as_transport_kwargs(
        base_url=str(script.base_url), headers={"Authorization": f"Bearer {token}"}
    )
    request.pop("cookies", None)
    raw = request.pop("data", None)
    if raw is not None:
        request["content"] = raw
    return script.request(**request)


def fuzz(operation: APIOperation, mode: GenerationMode, script: TestClient, token: str) -> None:
    @settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Case) -> None:
        response = send(script, case, token)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    try:
        check()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # Nothing in this operation can be made invalid (no parameters, no body).


@pytest.mark.slow
def test_no_request_makes_a_server_error_or_breaks_the_document(
    app: FastAPI, client: TestClient, api_token: str
) -> None:
    """Each operation is fuzzed on its own, and every failing one is reported at once."""
    script = TestClient(app)
    failures = []
    operations = api_operations(client)
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(operation, mode, script, api_token)
            except (Exception, BaseExceptionGroup) as exc:  # every failing operation is reported
                trace = "".join(traceback.format_exception(exc))
                failures.append(f"== {operation.label} ({mode.value})\n{trace}")
    assert not failures, "\n\n".join(failures)
