"""What is the nursing parent's own stays theirs: symptoms, pain, care, pregnancy, red flags.

A viewer and a partner the parent has not chosen get 404 for every private entry on every
route that takes an entry (API and pages), find none in lists, summaries, the household,
insights or an export, and still see what the pump needs. Once chosen, or once the parent
shares one entry, they see it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from letdown import cli
from letdown.web.settings import Settings

API = "/api/v1"


def _at(hours_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat()


def _private_journal(alex: TestClient) -> dict[str, dict[str, Any]]:
    """Alex writes a fever with a red left side, salve, a painful pump session, a pregnancy."""
    written = {}
    for name, record in {
        "symptom": {
            "kind": "symptom",
            "start_at": _at(1),
            "fever_c": 38.9,
            "sides": {"left": {"redness": True, "pain": 7}},
        },
        "care": {"kind": "care", "start_at": _at(2), "care": "salve", "side": "left"},
        "pump": {
            "kind": "pump",
            "start_at": _at(3),
            "end_at": _at(2.8),
            "sides": {
                "left": {"volume_ml": 40, "pain": 6, "comfort_mmhg": 150},
                "right": {"volume_ml": 50},
            },
        },
    }.items():
        response = alex.post(f"{API}/entries", json=record)
        assert response.status_code == 201, response.text
        written[name] = response.json()
    due = (datetime.now(UTC) + timedelta(days=100)).date().isoformat()
    assert alex.post(f"{API}/household/pregnancies", json={"due_date": due}).status_code == 201
    return written


def _entry_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every route, API or page, that names one entry: (method, path with {ref})."""
    found = []
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        path = route.path or ""
        for name in ("{ref}", "{entry_id}"):
            if name in path:
                for method in sorted(set(route.methods or ()) - {"HEAD"}):
                    found.append((method, path.replace(name, "{ref}")))
    return found


BODIES: dict[str, Any] = {"PATCH": {"notes": "seen"}, "PUT": {"shared": True}, "POST": {}}


def _refused(member: TestClient, app: FastAPI, entry: dict[str, Any], viewer: bool) -> None:
    routes = _entry_routes(app)
    assert len(routes) >= 8, routes  # the API's five and the history page's three
    for method, path in routes:
        for ref in (entry["id"], entry["uid"]):
            if path.startswith("/history") and ref == entry["uid"]:
                continue  # the pages name entries by id only
            url = path.replace("{ref}", str(ref))
            response = member.request(method, url, json=BODIES.get(method))
            writes = method != "GET"
            expected = {403, 404} if viewer and writes else {404}
            assert response.status_code in expected, (method, url, response.text)


def test_a_viewer_and_an_unchosen_partner_get_404_for_every_private_entry(
    app: FastAPI, client: TestClient, viewer_client: TestClient, partner_client: TestClient
) -> None:
    written = _private_journal(client)
    for member, viewer in ((viewer_client, True), (partner_client, False)):
        for kind in ("symptom", "care"):
            _refused(member, app, written[kind], viewer)
        listed = member.get(f"{API}/entries").json()
        assert [entry["record"]["kind"] for entry in listed] == ["pump"]
        sides = listed[0]["record"]["sides"]
        assert sides["left"]["pain"] is None and sides["left"]["comfort_mmhg"] == 150
        assert (
            member.get(f"{API}/entries/{written['pump']['id']}/revisions").json()[0]["record"][
                "sides"
            ]["left"]["pain"]
            is None
        )
        summary = member.get(f"{API}/summary").json()
        assert (summary["symptoms"], summary["care"], summary["highest_fever_c"]) == (0, 0, None)
        assert summary["worst_pain"] == {"left": None, "right": None}
        assert member.get(f"{API}/household").json()["pregnancies"] == []
        assert member.get(f"{API}/insights").json()["flags"] == []
        for page in ("/", "/history", f"/history/{written['pump']['id']}"):
            text = member.get(page).text
            assert "38.9" not in text and "Salve" not in text and "clinician" not in text, page
    # Alex sees all of it.
    assert len(client.get(f"{API}/entries").json()) == 3
    assert client.get(f"{API}/insights").json()["flags"][0]["kind"] == "fever_with_breast_signs"
    assert client.get(f"{API}/entries/{written['symptom']['id']}").status_code == 200


def test_the_parent_chooses_a_member_or_shares_one_entry(
    client: TestClient, viewer_client: TestClient, partner_client: TestClient
) -> None:
    written = _private_journal(client)
    symptom, care = written["symptom"], written["care"]
    refused = partner_client.put(
        f"{API}/household/members/Sam/private", json={"sees_private": True}
    )
    assert refused.status_code == 403  # only the nursing parent chooses
    chosen = client.put(f"{API}/household/members/Sam/private", json={"sees_private": True})
    assert chosen.status_code == 200 and chosen.json()["sees_private"] is True
    assert partner_client.get(f"{API}/entries/{symptom['id']}").status_code == 200
    assert partner_client.get(f"{API}/insights").json()["flags"] != []
    assert viewer_client.get(f"{API}/entries/{symptom['id']}").status_code == 404
    shared = client.put(f"{API}/entries/{symptom['uid']}/shared", json={"shared": True})
    assert shared.status_code == 200
    assert viewer_client.get(f"{API}/entries/{symptom['id']}").status_code == 200
    assert viewer_client.get(f"{API}/entries/{care['id']}").status_code == 404


def test_an_export_by_an_unchosen_member_leaves_what_is_private_out(
    client: TestClient, partner_client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    _private_journal(client)
    out = tmp_path / "sam.json"
    result = CliRunner().invoke(
        cli.app, ["export", "json", "--out", str(out), "--db", settings.db, "--as", "Sam"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    kinds = [entry["record"]["kind"] for entry in document["entries"]]
    assert kinds == ["pump"] and document["pregnancies"] == []
    assert document["entries"][0]["record"]["sides"]["left"]["pain"] is None
    assert all(r["record"]["kind"] == "pump" for r in document["revisions"])
    mine = tmp_path / "alex.json"
    result = CliRunner().invoke(
        cli.app, ["export", "json", "--out", str(mine), "--db", settings.db, "--as", "Alex"]
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(mine.read_text(encoding="utf-8"))["entries"]) == 3
