"""Who may see and change what: roles inside a household, and nothing across households."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from letdown.web.deps import CSRF_HEADER

API = "/api/v1"
OPEN_PATHS = {f"{API}/setup", f"{API}/login", f"{API}/invites/{{token}}/accept"}
"""The only API routes a stranger may call: first start, logging in, accepting an invite."""

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def hour_ago() -> str:
    return (datetime.now(UTC) - timedelta(hours=1)).isoformat()


def pump_record() -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(hours=2)
    return {
        "kind": "pump",
        "start_at": start.isoformat(),
        "end_at": (start + timedelta(minutes=15)).isoformat(),
        "sides": {"left": {"volume_ml": 40}, "right": {"volume_ml": 35}},
    }


def alex_writes(client: TestClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """Alex's household gets a child, a pump session and a bag from it."""
    assert client.post(f"{API}/household/children", json={"name": "Robin"}).status_code == 201
    entry = client.post(f"{API}/entries", json=pump_record())
    assert entry.status_code == 201, entry.text
    bag = client.post(
        f"{API}/stash",
        json={"volume_ml": 75, "expressed_at": hour_ago(), "sources": [entry.json()["id"]]},
    )
    assert bag.status_code == 201, bag.text
    return entry.json(), bag.json()


def writes(entry: dict[str, Any], code: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every change the API offers on the journal, each valid for a writer."""
    return [
        ("POST", "entries", pump_record()),
        ("PATCH", f"entries/{entry['id']}", {"notes": "mine now"}),
        ("DELETE", f"entries/{entry['uid']}", None),
        ("POST", "stash", {"volume_ml": 50, "expressed_at": hour_ago()}),
        ("POST", f"stash/{code}/move", {"to": "freezer"}),
        ("POST", f"stash/{code}/use", {"child": "Robin", "volume_ml": 10}),
        ("POST", f"stash/{code}/discard", {"reason": "spilled"}),
        ("POST", "household/children", {"name": "Kit"}),
        ("POST", "household/pregnancies", {"due_date": "2026-01-10"}),
    ]


def reads(entry: dict[str, Any], code: str) -> list[str]:
    return [
        "entries",
        f"entries/{entry['id']}",
        f"entries/{entry['uid']}",
        f"entries/{entry['id']}/revisions",
        "stash",
        f"stash/{code}",
        "summary",
        "household",
    ]


def test_a_viewer_reads_everything_but_every_write_is_403(
    client: TestClient, viewer_client: TestClient
) -> None:
    entry, bag = alex_writes(client)
    for path in reads(entry, bag["code"]):
        assert viewer_client.get(f"{API}/{path}").status_code == 200, path
    for method, path, body in writes(entry, bag["code"]):
        response = viewer_client.request(method, f"{API}/{path}", json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert "viewer" in response.json()["detail"]
    assert client.get(f"{API}/entries/{entry['id']}").json() == entry
    assert client.get(f"{API}/stash/{bag['code']}").json()["remaining_ml"] == 75
    assert len(client.get(f"{API}/entries").json()) == 1


def test_a_partner_may_write(client: TestClient, partner_client: TestClient) -> None:
    entry, bag = alex_writes(client)
    for method, path, body in writes(entry, bag["code"]):
        if path.startswith("stash/") and path.endswith(("/use", "/discard")):
            continue
        response = partner_client.request(method, f"{API}/{path}", json=body)
        assert response.status_code in {200, 201, 204}, (method, path, response.text)


def test_another_household_finds_nothing_of_ours(
    client: TestClient, other_household_client: TestClient
) -> None:
    entry, bag = alex_writes(client)
    jo = other_household_client
    for path in reads(entry, bag["code"]):
        if path.startswith(("entries/", "stash/")):
            response = jo.get(f"{API}/{path}")
            assert response.status_code == 404, (path, response.text)
    for method, path, body in writes(entry, bag["code"]):
        if path.startswith(("entries/", "stash/")):
            response = jo.request(method, f"{API}/{path}", json=body)
            assert response.status_code == 404, (method, path, response.text)

    assert jo.get(f"{API}/entries").json() == []
    assert jo.get(f"{API}/stash", params={"all": True}).json() == []
    assert jo.get(f"{API}/summary").json()["pumped_total_ml"] == 0
    home = jo.get(f"{API}/household").json()
    assert (home["name"], home["children"]) == ("Elsewhere", [])
    assert [member["name"] for member in home["members"]] == ["Jo"]

    assert jo.post(f"{API}/household/children", json={"name": "Robin"}).status_code == 201
    from_our_bag = {
        "kind": "bottle",
        "start_at": hour_ago(),
        "child": "Robin",
        "amount_ml": 20,
        "bags": [{"bag": bag["code"], "volume_ml": 20}],
    }
    assert jo.post(f"{API}/entries", json=from_our_bag).status_code == 422
    from_our_session = {"volume_ml": 50, "expressed_at": hour_ago(), "sources": [entry["uid"]]}
    assert jo.post(f"{API}/stash", json=from_our_session).status_code == 422
    same_label = {"volume_ml": 50, "expressed_at": hour_ago(), "code": bag["code"]}
    assert jo.post(f"{API}/stash", json=same_label).status_code == 201

    assert client.get(f"{API}/entries/{entry['id']}").json() == entry
    ours = client.get(f"{API}/stash/{bag['code']}").json()
    assert (ours["remaining_ml"], ours["status"]) == (75, "stored")
    assert len(client.get(f"{API}/stash").json()) == 1


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _api_routes(app: FastAPI, kind: type = APIRoute) -> list[tuple[str, set[str]]]:
    """Each API route's path and methods (routers are included lazily: walk them)."""
    return [
        (route.path or "", set(route.methods or ()))
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, kind)
        and (route.path or "").startswith(f"{API}/")
        and route.path not in OPEN_PATHS
    ]


def test_a_stranger_is_refused_everywhere(app: FastAPI, client: TestClient) -> None:
    stranger = TestClient(app)
    forged = TestClient(app, headers={"Authorization": "Bearer ld_not-a-token"})
    checked = set()
    for path, methods in _api_routes(app):
        for method in sorted(methods - {"HEAD"}):
            for who in (stranger, forged):
                response = who.request(method, _concrete(path))
                assert response.status_code == 401, (method, path, response.text)
            checked.add(path)
    assert {f"{API}/entries", f"{API}/stash/{{code}}/use", f"{API}/pump/start"} <= checked

    for path, _ in _api_routes(app, APIWebSocketRoute):
        with (
            pytest.raises((WebSocketDisconnect, WebSocketDenialResponse)),
            stranger.websocket_connect(_concrete(path)) as connection,
        ):
            connection.receive_json()


def test_a_cookie_change_without_the_csrf_token_is_403(app: FastAPI, client: TestClient) -> None:
    token = client.headers.pop(CSRF_HEADER)
    assert client.get(f"{API}/entries").status_code == 200
    for path, methods in _api_routes(app):
        for method in sorted(methods & UNSAFE):
            response = client.request(method, _concrete(path), json={})
            assert response.status_code == 403, (method, path, response.text)
            assert "CSRF" in response.json()["detail"]
    wrong = client.post(f"{API}/entries", json=pump_record(), headers={CSRF_HEADER: "guess"})
    assert wrong.status_code == 403
    right = client.post(f"{API}/entries", json=pump_record(), headers={CSRF_HEADER: token})
    assert right.status_code == 201


@pytest.mark.parametrize("reads_wait", [False, True], ids=["on the loop", "in a thread"])
def test_an_api_token_needs_no_csrf_and_keeps_the_role(
    app: FastAPI, client: TestClient, viewer_client: TestClient, reads_wait: bool
) -> None:
    """Who is asking is looked up on the event loop (SQLite) or in a worker thread (a
    database where a read may wait): the same answers either way."""
    app.state.accounts.reads_wait = reads_wait
    created = client.post(f"{API}/tokens", json={"name": "spreadsheet"})
    assert created.status_code == 201, created.text
    script = TestClient(app, headers={"Authorization": f"Bearer {created.json()['token']}"})
    added = script.post(f"{API}/entries", json=pump_record())
    assert added.status_code == 201, added.text
    assert added.json()["entered_by"] == "Alex"
    assert script.delete(f"{API}/entries/{added.json()['id']}").status_code == 204

    viewing = viewer_client.post(f"{API}/tokens", json={"name": "fridge tablet"})
    assert viewing.status_code == 201, viewing.text
    tablet = TestClient(app, headers={"Authorization": f"Bearer {viewing.json()['token']}"})
    assert tablet.get(f"{API}/summary").status_code == 200
    assert tablet.post(f"{API}/entries", json=pump_record()).status_code == 403
    assert client.get(f"{API}/me").json()["member"] == "Alex"
    assert (
        TestClient(app, headers={"Authorization": "Bearer ld_nope"}).get(f"{API}/me").status_code
        == 401
    )
