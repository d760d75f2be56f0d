"""The journal over REST, as a script or the app sees it: records, the stash, summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from letdown.journal import Journal, PumpSession, PumpSide
from letdown.web import Settings

API = "/api/v1"


def ensure_child(client: TestClient, name: str = "Robin") -> str:
    children = client.get(f"{API}/household").json()["children"]
    if name not in {child["name"] for child in children}:
        assert client.post(f"{API}/household/children", json={"name": name}).status_code == 201
    return name


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def at(delta: timedelta) -> str:
    return (now() + delta).isoformat()


def record(kind: str, child: str = "Robin", ago: timedelta = timedelta(hours=1)) -> dict[str, Any]:
    """A valid record of ``kind`` that started ``ago``."""
    start = now() - ago
    end = (start + timedelta(minutes=20)).isoformat()
    begin = start.isoformat()
    if kind == "nurse":
        return {
            "kind": "nurse",
            "start_at": begin,
            "end_at": end,
            "child": child,
            "sides": {"left": {"duration_s": 600, "pain": 2}, "right": {"duration_s": 480}},
        }
    if kind == "pump":
        return {
            "kind": "pump",
            "start_at": begin,
            "end_at": end,
            "sides": {"left": {"volume_ml": 60, "pain": 3}, "right": {"volume_ml": 45.5}},
            "device": "spectra",
        }
    if kind == "bottle":
        return {"kind": "bottle", "start_at": begin, "child": child, "amount_ml": 90}
    if kind == "care":
        return {"kind": "care", "start_at": begin, "care": "salve", "side": "left"}
    return {
        "kind": "symptom",
        "start_at": begin,
        "sides": {"right": {"pain": 6, "cracked": True}},
        "fever_c": 38.2,
    }


def add(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{API}/entries", json=body)
    assert response.status_code == 201, response.text
    entry: dict[str, Any] = response.json()
    return entry


def has_offset(text: str) -> bool:
    return datetime.fromisoformat(text).utcoffset() == timedelta(0)


KINDS = ["nurse", "pump", "bottle", "care", "symptom"]


def test_each_record_kind_is_added_read_edited_and_deleted(client: TestClient) -> None:
    ensure_child(client)
    for kind in KINDS:
        check_lifecycle(client, kind)


def check_lifecycle(client: TestClient, kind: str) -> None:
    entry = add(client, record(kind))
    assert entry["kind"] == kind
    assert entry["record"]["kind"] == kind
    assert entry["version"] == 1
    assert entry["entered_by"] == entry["updated_by"] == "Alex"
    assert all(has_offset(entry[key]) for key in ("entered_at", "updated_at"))
    assert has_offset(entry["record"]["start_at"])

    assert client.get(f"{API}/entries/{entry['id']}").json() == entry
    assert client.get(f"{API}/entries/{entry['uid']}").json() == entry
    assert [e["id"] for e in client.get(f"{API}/entries").json()] == [entry["id"]]

    edited = client.patch(f"{API}/entries/{entry['uid']}", json={"notes": "after a long night"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    assert edited.json()["record"]["notes"] == "after a long night"

    assert client.delete(f"{API}/entries/{entry['id']}").status_code == 204
    gone = client.get(f"{API}/entries/{entry['id']}")
    assert gone.status_code == 404
    assert "no entry" in gone.json()["detail"]
    assert client.get(f"{API}/entries").json() == []
    revisions = client.get(f"{API}/entries/{entry['id']}/revisions").json()
    assert [(r["version"], r["action"]) for r in revisions] == [
        (1, "created"),
        (2, "edited"),
        (3, "deleted"),
    ]


def test_entries_list_newest_first_and_filters(client: TestClient) -> None:
    ensure_child(client)
    old = add(client, record("pump", ago=timedelta(days=2)))
    middle = add(client, record("care", ago=timedelta(hours=5)))
    new = add(client, record("pump", ago=timedelta(hours=1)))

    listed = client.get(f"{API}/entries").json()
    assert [e["id"] for e in listed] == [new["id"], middle["id"], old["id"]]
    assert [e["id"] for e in client.get(f"{API}/entries", params={"kind": "pump"}).json()] == [
        new["id"],
        old["id"],
    ]
    both = client.get(f"{API}/entries", params=[("kind", "pump"), ("kind", "care")]).json()
    assert len(both) == 3
    since = client.get(f"{API}/entries", params={"since": at(-timedelta(days=1))}).json()
    assert [e["id"] for e in since] == [new["id"], middle["id"]]
    until = client.get(f"{API}/entries", params={"until": at(-timedelta(hours=3))}).json()
    assert [e["id"] for e in until] == [middle["id"], old["id"]]
    assert len(client.get(f"{API}/entries", params={"limit": 1}).json()) == 1


BAD_QUERIES = [
    ("entries", {"limit": "abc"}),
    ("entries", {"limit": 0}),
    ("entries", {"limit": 1001}),
    ("entries", {"kind": "feed"}),
    ("entries", {"since": "yesterday"}),
    ("summary", {"hours": -1}),
    ("summary", {"hours": "abc"}),
    ("summary", {"hours": 24 * 31 + 1}),
    ("stash", {"all": "maybe"}),
]


def test_bad_query_parameters_are_422_naming_them(client: TestClient) -> None:
    for path, params in BAD_QUERIES:
        response = client.get(f"{API}/{path}", params=params)
        assert response.status_code == 422, (path, params)
        assert response.json()["detail"][0]["loc"][:2] == ["query", next(iter(params))]


def test_a_time_without_offset_is_422_naming_the_field(client: TestClient) -> None:
    body = record("care")
    body["start_at"] = "2024-05-01T08:00:00"
    response = client.post(f"{API}/entries", json=body)
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["loc"][-1] == "start_at"
    assert "timezone" in problem["msg"]

    since = client.get(f"{API}/entries", params={"since": "2024-05-01T08:00:00"})
    assert since.status_code == 422
    assert since.json()["detail"][0]["loc"] == ["query", "since"]

    bag = client.post(f"{API}/stash", json={"volume_ml": 100, "expressed_at": "2024-05-01T08:00"})
    assert bag.status_code == 422
    assert bag.json()["detail"][0]["loc"] == ["body", "expressed_at"]


INVALID_RECORDS = [
    ({"kind": "care", "care": "salve"}, "start_at"),
    (
        {
            "kind": "pump",
            "start_at": "2024-05-01T08:00:00Z",
            "end_at": "2024-05-01T08:20:00Z",
            "sides": {},
        },
        "sides",
    ),
    ({"kind": "care", "start_at": "2024-05-01T08:00:00Z", "care": "hug"}, "care"),
    ({"kind": "feed", "start_at": "2024-05-01T08:00:00Z"}, "body"),
    ({"kind": "care", "start_at": "2024-05-01T08:00:00Z", "care": "salve", "x": 1}, "x"),
]


def test_an_invalid_record_is_422_naming_the_field(client: TestClient) -> None:
    for body, field in INVALID_RECORDS:
        response = client.post(f"{API}/entries", json=body)
        assert response.status_code == 422, body
        assert field in response.json()["detail"][0]["loc"], response.json()
    assert client.get(f"{API}/entries").json() == []


def test_an_implausible_record_needs_confirm_and_an_impossible_one_is_refused(
    client: TestClient,
) -> None:
    ensure_child(client)
    body = record("pump")
    body["sides"]["left"]["volume_ml"] = 1774
    refused = client.post(f"{API}/entries", json=body)
    assert refused.status_code == 422
    assert "1,774 mL from the left side in one session" in refused.json()["detail"]
    assert "confirm=true" in refused.json()["detail"]
    assert client.post(f"{API}/entries?confirm=true", json=body).status_code == 201
    instant = record("pump") | {"end_at": record("pump")["start_at"]}
    never = client.post(f"{API}/entries?confirm=true", json=instant)
    assert never.status_code == 422
    assert "in no time at all" in never.json()["detail"]
    assert len(client.get(f"{API}/entries").json()) == 1


def test_a_time_out_of_range_is_422_not_a_server_error(client: TestClient) -> None:
    """Offsets at the ends of the calendar cannot be turned into UTC: refused, named."""
    for time in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"):
        bag = client.post(f"{API}/stash", json={"volume_ml": 100, "expressed_at": time})
        assert bag.status_code == 422
        assert bag.json()["detail"][0]["loc"] == ["body", "expressed_at"]
        since = client.get(f"{API}/entries", params={"since": time})
        assert since.status_code == 422
        assert since.json()["detail"][0]["loc"] == ["query", "since"]
        body = record("care") | {"start_at": time}
        response = client.post(f"{API}/entries", json=body)
        assert response.status_code == 422
        assert "start_at" in response.json()["detail"][0]["loc"]
    moved = client.post(f"{API}/stash", json={"volume_ml": 10, "expressed_at": now().isoformat()})
    code = moved.json()["code"]
    later = client.post(f"{API}/stash/{code}/move", json={"to": "room", "at": "2300-01-01T00:00Z"})
    assert later.status_code == 422
    assert "is not between 1900 and 2200" in later.json()["detail"][0]["msg"]


def test_a_nul_character_is_refused_where_a_database_would_choke(client: TestClient) -> None:
    bag = client.post(
        f"{API}/stash", json={"volume_ml": 10, "expressed_at": now().isoformat(), "notes": "a\x00"}
    )
    assert bag.status_code == 422
    assert bag.json()["detail"][0]["loc"] == ["body", "notes"]
    assert client.get(f"{API}/entries/a%00b").status_code == 404
    assert client.get(f"{API}/stash/A%00B").status_code == 404


def test_an_unknown_child_or_bag_in_a_body_is_422(client: TestClient) -> None:
    response = client.post(f"{API}/entries", json=record("bottle", child="Nobody"))
    assert response.status_code == 422
    assert "no child named 'Nobody'" in response.json()["detail"]
    ensure_child(client)
    bottle = record("bottle") | {"bags": [{"bag": "ZZZ", "volume_ml": 50}]}
    response = client.post(f"{API}/entries", json=bottle)
    assert response.status_code == 422
    assert "no bag labelled 'ZZZ'" in response.json()["detail"]


INVALID_EDITS = [
    ({"end_at": "2000-01-01T00:00:00Z"}, "is before the start"),
    ({"kind": "care"}, "cannot change kind"),
    ({"sides": {"middle": {"volume_ml": 10}}}, "sides (middle)"),
    ({"sides": None}, "sides"),
    ({"start_at": "2024-05-01T08:00:00"}, "start: needs its offset"),
    ({}, "at least one field"),
    ({"colour": "blue"}, "colour"),
]


def test_an_invalid_edit_is_422_and_changes_nothing(client: TestClient) -> None:
    entry = add(client, record("pump"))
    for changes, words in INVALID_EDITS:
        response = client.patch(f"{API}/entries/{entry['id']}", json=changes)
        assert response.status_code == 422, response.text
        assert words in response.json()["detail"]
    assert client.get(f"{API}/entries/{entry['id']}").json() == entry


def test_an_unknown_entry_is_404_with_a_message(client: TestClient) -> None:
    for ref in ["999", "no-such-uid", "99999999999999999999999999", "²", "0"]:
        for method in ("GET", "PATCH", "DELETE"):
            body = {"notes": "x"} if method == "PATCH" else None
            response = client.request(method, f"{API}/entries/{ref}", json=body)
            assert response.status_code == 404, (ref, method, response.text)
            assert "no entry" in response.json()["detail"]
        assert client.get(f"{API}/entries/{ref}/revisions").status_code == 404


def test_an_edit_by_a_partner_is_signed_and_the_version_before_kept(
    client: TestClient, partner_client: TestClient
) -> None:
    entry = add(client, record("pump"))
    sam = partner_client
    edited = sam.patch(
        f"{API}/entries/{entry['id']}",
        json={"sides": {"left": {"volume_ml": 70}, "right": {"volume_ml": 50}}},
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["entered_by"], edited.json()["updated_by"]) == ("Alex", "Sam")
    client.patch(f"{API}/entries/{entry['id']}", json={"notes": "checked the labels"})

    revisions = sam.get(f"{API}/entries/{entry['uid']}/revisions").json()
    assert [(r["version"], r["changed_by"]) for r in revisions] == [
        (1, "Alex"),
        (2, "Sam"),
        (3, "Alex"),
    ]
    assert revisions[0]["record"]["sides"]["left"]["volume_ml"] == 60
    assert revisions[1]["record"]["sides"]["left"]["volume_ml"] == 70
    assert revisions[2]["record"]["notes"] == "checked the labels"
    assert all(has_offset(r["changed_at"]) for r in revisions)


def test_stash_flow_freezer_to_fridge_to_bottle(client: TestClient) -> None:
    ensure_child(client)
    source = add(client, record("pump", ago=timedelta(days=3)))
    added = client.post(
        f"{API}/stash",
        json={
            "volume_ml": 120,
            "expressed_at": at(-timedelta(days=3)),
            "location": "freezer",
            "sources": [source["id"]],
            "code": "k7x",
            "notes": "night pump",
        },
    )
    assert added.status_code == 201, added.text
    bag = added.json()
    assert (bag["code"], bag["location"], bag["status"]) == ("K7X", "freezer", "stored")
    assert bag["sources"] == [source["uid"]]
    assert bag["best_by"] is not None
    assert "frozen" in bag["rule"]
    assert not bag["expired"]
    assert not bag["expires_today"]

    out_at = now() - timedelta(hours=2)
    moved = client.post(f"{API}/stash/K7X/move", json={"to": "fridge", "at": out_at.isoformat()})
    assert moved.status_code == 200, moved.text
    thawed = moved.json()
    assert thawed["location"] == "fridge"
    assert datetime.fromisoformat(thawed["thawed_at"]) == out_at
    assert datetime.fromisoformat(thawed["use_by"]) == out_at + timedelta(days=1)
    assert thawed["rule"] == "thawed milk, fridge: 1 day (CDC)"
    assert [stay["location"] for stay in thawed["stays"]] == ["freezer", "fridge"]

    used = client.post(
        f"{API}/stash/k7x/use",
        json={"child": "Robin", "volume_ml": 50, "at": at(-timedelta(hours=1))},
    )
    assert used.status_code == 201, used.text
    bottle = used.json()
    assert bottle["kind"] == "bottle"
    assert bottle["record"]["amount_ml"] == 50
    assert bottle["record"]["bags"] == [{"bag": "K7X", "volume_ml": 50.0}]
    assert client.get(f"{API}/entries/{bottle['id']}").status_code == 200

    left = client.get(f"{API}/stash/K7X").json()
    assert left["remaining_ml"] == 70
    assert left["status"] == "stored"
    assert [b["code"] for b in client.get(f"{API}/stash").json()] == ["K7X"]

    refrozen = client.post(f"{API}/stash/K7X/move", json={"to": "freezer"})
    assert refrozen.status_code == 422
    assert "thawed milk must never be refrozen (CDC)" in refrozen.json()["detail"]

    too_much = client.post(f"{API}/stash/K7X/use", json={"child": "Robin", "volume_ml": 100})
    assert too_much.status_code == 422
    assert "holds 70 mL, not the 100 mL" in too_much.json()["detail"]

    rest = client.post(f"{API}/stash/K7X/use", json={"child": "Robin"})
    assert rest.status_code == 201, rest.text
    assert rest.json()["record"]["amount_ml"] == 70
    assert client.get(f"{API}/stash").json() == []
    closed = client.get(f"{API}/stash", params={"all": "true"}).json()
    assert [(b["code"], b["status"], b["remaining_ml"]) for b in closed] == [("K7X", "used", 0)]

    assert client.delete(f"{API}/entries/{rest.json()['id']}").status_code == 204
    assert client.get(f"{API}/stash/K7X").json()["remaining_ml"] == 70


def test_stash_discard_and_errors(client: TestClient) -> None:
    ensure_child(client)
    fresh = client.post(
        f"{API}/stash", json={"volume_ml": 80, "expressed_at": at(-timedelta(hours=1))}
    ).json()
    assert fresh["location"] == "fridge"
    assert len(fresh["code"]) >= 3
    code = fresh["code"]
    dup = client.post(
        f"{API}/stash",
        json={"volume_ml": 80, "expressed_at": at(-timedelta(hours=1)), "code": code},
    )
    assert dup.status_code == 422
    assert "exists already" in dup.json()["detail"]
    unknown_source = client.post(
        f"{API}/stash",
        json={"volume_ml": 80, "expressed_at": at(-timedelta(hours=1)), "sources": ["nope"]},
    )
    assert unknown_source.status_code == 422

    blank = client.post(f"{API}/stash/{code}/discard", json={"reason": "  "})
    assert blank.status_code == 422
    discarded = client.post(f"{API}/stash/{code}/discard", json={"reason": "spilled"})
    assert discarded.status_code == 200, discarded.text
    assert (discarded.json()["status"], discarded.json()["reason"]) == ("discarded", "spilled")
    again = client.post(f"{API}/stash/{code}/move", json={"to": "freezer"})
    assert again.status_code == 422
    assert "discarded already" in again.json()["detail"]

    for method, path, body in [
        ("GET", "stash/NOPE", None),
        ("POST", "stash/NOPE/move", {"to": "fridge"}),
        ("POST", "stash/NOPE/use", {"child": "Robin"}),
        ("POST", "stash/NOPE/discard", {"reason": "lost"}),
    ]:
        response = client.request(method, f"{API}/{path}", json=body)
        assert response.status_code == 404, (path, response.text)
        assert "no bag labelled" in response.json()["detail"]

    old = client.post(
        f"{API}/stash",
        json={"volume_ml": 80, "expressed_at": at(-timedelta(days=5)), "location": "fridge"},
    ).json()
    assert old["expired"]
    assert not old["expires_today"]
    soon = client.post(
        f"{API}/stash",
        json={
            "volume_ml": 80,
            "expressed_at": at(-timedelta(hours=3, minutes=30)),
            "location": "room",
        },
    ).json()
    use_by = datetime.fromisoformat(soon["use_by"])
    assert use_by == datetime.fromisoformat(soon["expressed_at"]) + timedelta(hours=4)
    assert soon["expires_today"] == (use_by.date() == now().date())  # the household is in UTC
    assert [b["code"] for b in client.get(f"{API}/stash").json()] == [old["code"], soon["code"]]


def test_summary_adds_up_what_was_written(client: TestClient) -> None:
    ensure_child(client)
    for kind in KINDS:
        add(client, record(kind))
    add(client, record("pump", ago=timedelta(hours=3)))
    add(client, record("pump", ago=timedelta(days=3)))
    add(client, record("bottle") | {"content": "formula", "amount_ml": 120})

    summary = client.get(f"{API}/summary").json()
    assert summary["hours"] == 24
    assert (summary["household_word"], summary["units"]) == ("breast", "ml")
    assert summary["pump_sessions"] == 2
    assert summary["pumped_ml"] == {"left": 120, "right": 91}
    assert summary["pumped_total_ml"] == 211
    assert summary["nurse_feeds"] == 1
    assert summary["nursed_min"] == {"left": 10, "right": 8}
    assert summary["bottles"] == 2
    assert summary["bottle_ml"] == {"expressed": 90, "donor": 0, "formula": 120}
    assert (summary["care"], summary["symptoms"]) == (1, 1)
    assert summary["worst_pain"] == {"left": 3, "right": 6}
    assert summary["highest_fever_c"] == 38.2
    assert has_offset(summary["since"])
    assert has_offset(summary["until"])

    week = client.get(f"{API}/summary", params={"hours": 24 * 7}).json()
    assert week["pump_sessions"] == 3


def test_a_change_made_beside_the_app_shows_on_the_next_request(
    client: TestClient, settings: Settings
) -> None:
    """The CLI writing to the same journal while the app serves it: nothing stale is shown."""
    ensure_child(client)
    add(client, record("pump"))
    assert client.get(f"{API}/summary").json()["pump_sessions"] == 1
    assert "60" in client.get("/", headers={"Accept": "text/html"}).text
    with Journal.open(settings.db) as elsewhere:
        book = elsewhere.book("Home", "Alex")
        book.add(
            PumpSession(
                start_at=now() - timedelta(minutes=30),
                end_at=now() - timedelta(minutes=15),
                sides={"left": PumpSide(volume_ml=44), "right": PumpSide(volume_ml=33)},
            )
        )
        book.stash_add(123, expressed_at=now() - timedelta(hours=2), code="XYZ")
    summary = client.get(f"{API}/summary").json()
    assert summary["pump_sessions"] == 2
    assert summary["pumped_ml"] == {"left": 60 + 44, "right": 45.5 + 33}
    assert [bag["code"] for bag in client.get(f"{API}/stash").json()] == ["XYZ"]
    assert "XYZ" in client.get("/", headers={"Accept": "text/html"}).text


def test_household_children_and_pregnancies(client: TestClient) -> None:
    assert client.post(f"{API}/household/children", json={"name": "Robin"}).status_code == 201
    child = client.post(
        f"{API}/household/children", json={"name": "Kit", "birth_date": "2024-03-02"}
    )
    assert child.json() == {"name": "Kit", "birth_date": "2024-03-02"}
    twice = client.post(f"{API}/household/children", json={"name": "Kit"})
    assert twice.status_code == 422
    assert "exists already" in twice.json()["detail"]
    assert client.post(f"{API}/household/children", json={"name": "  "}).status_code == 422
    pregnancy = client.post(f"{API}/household/pregnancies", json={"due_date": "2025-11-20"})
    assert pregnancy.status_code == 201

    home = client.get(f"{API}/household").json()
    assert home["name"] == "Home"
    assert (home["time_zone"], home["units"], home["word"]) == ("UTC", "ml", "breast")
    assert home["members"] == [{"name": "Alex", "role": "nursing-parent", "sees_private": True}]
    assert home["storage_rules"] == "cdc"
    assert [c["name"] for c in home["children"]] == ["Robin", "Kit"]
    assert home["pregnancies"] == [{"due_date": "2025-11-20", "notes": ""}]


def test_the_openapi_document_describes_every_record_and_error(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    body = document["paths"]["/api/v1/entries"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"]["discriminator"]["propertyName"] == "kind"
    tags = {
        tag for path in document["paths"].values() for op in path.values() for tag in op["tags"]
    }
    assert {"entries", "stash", "summary", "household"} <= tags
    for path, operations in document["paths"].items():
        if path.startswith(("/api/v1/entries", "/api/v1/stash", "/api/v1/summary")):
            for operation in operations.values():
                assert "401" in operation["responses"], path
