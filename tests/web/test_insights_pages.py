"""Pages and API kept per journal revision: charts redrawn when the journal changes, and
the household's storage rule set chosen over the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

API = "/api/v1"


def _pump(hours_ago: float, left_ml: float) -> dict[str, object]:
    start = datetime.now(UTC) - timedelta(hours=hours_ago)
    return {
        "kind": "pump",
        "start_at": start.isoformat(),
        "end_at": (start + timedelta(minutes=15)).isoformat(),
        "sides": {"left": {"volume_ml": left_ml}, "right": {"volume_ml": 30}},
    }


def test_the_charts_page_is_drawn_again_after_a_write(client: TestClient) -> None:
    assert "0 pump sessions" in client.get("/charts").text
    assert "0 pump sessions" in client.get("/charts").text  # the kept drawing
    assert client.post(f"{API}/entries", json=_pump(2, 40)).status_code == 201
    assert "1 pump session " in client.get("/charts").text


def test_the_storage_rules_are_chosen_over_the_api_and_bags_follow(client: TestClient) -> None:
    expressed = (datetime.now(UTC) - timedelta(days=5)).isoformat()
    bag = client.post(f"{API}/stash", json={"volume_ml": 80, "expressed_at": expressed}).json()
    assert "CDC" in client.get(f"{API}/stash/{bag['code']}").json()["rule"]
    changed = client.put(f"{API}/household/storage-rules", json={"storage_rules": "nhs"})
    assert changed.status_code == 200 and changed.json()["storage_rules"] == "nhs"
    now = client.get(f"{API}/stash/{bag['code']}").json()
    assert "NHS" in now["rule"]
    refused = client.put(f"{API}/household/storage-rules", json={"storage_rules": "who"})
    assert refused.status_code == 422


def test_the_dashboard_and_api_give_estimates_with_their_sources(client: TestClient) -> None:
    for hours in range(3, 24 * 4, 6):
        assert client.post(f"{API}/entries", json=_pump(hours, 50 + hours % 7)).status_code == 201
    insights = client.get(f"{API}/insights").json()
    assert set(insights) == {"flags", "supply", "stash"}
    assert insights["supply"]["left"]["rate_ml_h"]["value"] > 0
    page = client.get("/").text
    assert "Refills about" in page and "compartment model" in page and "Lai et al. 2020" in page
    charts = client.get("/charts").text
    model = charts[charts.index('id="model"') :]
    assert "<svg" in model.split("</figure>")[0] and "model" in model


def test_leftover_milk_keeps_one_hour_on_the_dashboard_where_the_household_chose_nhs(
    client: TestClient,
) -> None:
    assert client.post(f"{API}/household/children", json={"name": "Robin"}).status_code == 201
    fed = datetime.now(UTC) - timedelta(minutes=80)
    bottle = {
        "kind": "bottle",
        "start_at": fed.isoformat(),
        "child": "Robin",
        "amount_ml": 120,
        "leftover_ml": 30,
    }
    assert client.post(f"{API}/entries", json=bottle).status_code == 201
    # CDC: 2 hours after the feed, 40 minutes left.
    assert "30 mL left in Robin's bottle" in client.get("/").text
    assert "(CDC)" in client.get("/").text
    nhs = client.put(f"{API}/household/storage-rules", json={"storage_rules": "nhs"})
    assert nhs.status_code == 200
    # NHS: within 1 hour of the feed: 80 minutes on, it is to be thrown away, not given.
    assert "left in Robin's bottle" not in client.get("/").text
    recent = dict(bottle, start_at=(datetime.now(UTC) - timedelta(minutes=20)).isoformat())
    assert client.post(f"{API}/entries", json=recent).status_code == 201
    page = client.get("/").text
    assert page.count("left in Robin's bottle") == 1 and "(NHS (as quoted))" in page


def test_sessions_with_a_total_only_count_on_the_dashboard_and_are_named_per_side(
    client: TestClient,
) -> None:
    """Pumped 120 mL with no sides (as Baby Buddy keeps it), every 6 hours for 3 days."""
    for hours in range(1, 72, 6):
        start = datetime.now(UTC) - timedelta(hours=hours)
        entry = {
            "kind": "pump",
            "start_at": start.isoformat(),
            "end_at": (start + timedelta(minutes=15)).isoformat(),
            "total_ml": 120,
        }
        assert client.post(f"{API}/entries", json=entry).status_code == 201
    both = client.get(f"{API}/insights").json()["supply"]["both"]
    assert (both["pumped_sessions"], both["total_only_sessions"]) == (12, 12)
    page = client.get("/").text
    card = page[page.index('class="card both-sides"') :].split("</article>")[0]
    assert "Both breasts" in card and "12 of them with a total only" in card
    # 12 × 120 mL since the first session 67 h ago and a usual gap (6 h) before it.
    assert f"about {12 * 120 / (73 / 24):.1f} mL a day" in card
    assert page.count("12 pump sessions with a total only (no sides) count as removals") == 2
