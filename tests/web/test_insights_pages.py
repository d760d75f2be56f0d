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
