"""``letdown insights``: the keys scripts read, a fever flag, and the plain-words view."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from letdown import cli
from letdown.bench.journals import KINDS, make_journal
from letdown.cli import _common
from letdown.journal import ChildInfo, HouseholdInfo, Journal, MemberInfo, Role, parse_record
from letdown.journal.records import Symptom, validate

runner = CliRunner()


@pytest.fixture(scope="module")
def journal_url(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, object]:
    """Six weeks of a made-up household, then a fever with a red area on the left."""
    url = f"sqlite:///{tmp_path_factory.mktemp('insights') / 'j.sqlite'}"
    document = make_journal(KINDS["steady"], 5)
    records = [parse_record(entry["record"]) for entry in document["entries"]]
    now = max(r.start_at for r in records) + timedelta(hours=1)
    with Journal.open(url) as journal:
        book = journal.create_household(
            HouseholdInfo(name="Home", time_zone="Europe/Paris"),
            MemberInfo(name="Alex", role=Role.NURSING_PARENT),
        )
        book.add_child(ChildInfo(name="Kid"))
        for record in records:
            book.add(record)
        book.add(
            validate(
                Symptom,
                {
                    "start_at": now - timedelta(minutes=30),
                    "fever_c": 38.9,
                    "sides": {"left": {"redness": True, "pain": 6}},
                },
            )
        )
    return url, now


@pytest.fixture(autouse=True)
def _fixed_world(monkeypatch: pytest.MonkeyPatch, journal_url: tuple[str, object]) -> None:
    monkeypatch.setattr(_common, "_now", lambda: journal_url[1])
    monkeypatch.setattr(_common, "console", Console(width=200))
    monkeypatch.delenv("LETDOWN_DB", raising=False)


def test_insights_json_has_the_interface_keys_and_the_fever_flag(
    journal_url: tuple[str, object],
) -> None:
    result = runner.invoke(cli.app, ["insights", "--json", "--db", journal_url[0]])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert set(found) == {"flags", "supply", "stash"}
    assert set(found["supply"]) == {"left", "right", "both"}
    assert found["supply"]["both"]["ml_day"] > 0 and found["supply"]["both"]["pumped_sessions"]
    assert set(found["stash"]) == {"ml", "covers_h"}
    assert isinstance(found["stash"]["ml"], float)  # 0.0, not 0, with an empty stash
    flag = found["flags"][0]
    assert set(flag) == {"kind", "side", "since", "advice", "source"}
    assert (flag["kind"], flag["side"]) == ("fever_with_breast_signs", "left")
    left = found["supply"]["left"]
    assert left["rate_ml_h"]["low"] <= left["rate_ml_h"]["value"] <= left["rate_ml_h"]["high"]
    assert left["next_session"]["ml"] > 0


def test_insights_in_words_say_see_a_clinician_and_cite_sources(
    journal_url: tuple[str, object], tmp_path: Path
) -> None:
    result = runner.invoke(cli.app, ["insights", "--db", journal_url[0]])
    assert result.exit_code == 0, result.output
    assert "See a clinician today" in result.output
    assert "ABM" in result.output and "Lai et al. 2020" in result.output
    assert "left breast: refills about" in result.output


def test_what_if_one_more_session_says_more_milk_and_that_it_is_an_estimate(
    journal_url: tuple[str, object],
) -> None:
    more = runner.invoke(cli.app, ["what-if", "--add", "15:00", "--db", journal_url[0]])
    assert more.exit_code == 0, more.output
    lines = [line for line in more.output.splitlines() if line.startswith("left breast")]
    assert lines and lines[0].split(":")[1].strip().startswith("+")
    assert "assumption" in more.output and "Dewey" in more.output
    bad = runner.invoke(cli.app, ["what-if", "--add", "25:99", "--db", journal_url[0]])
    assert bad.exit_code == 2 and "like 07:30" in bad.output
