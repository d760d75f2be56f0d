"""The journal's command line as a household uses it: what it shows, and what it stores."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from letdown import cli
from letdown.cli import _common
from letdown.journal import (
    Book,
    ChildInfo,
    HouseholdInfo,
    Journal,
    Location,
    MemberInfo,
    Role,
)

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
"""11:00 in Paris: every command of these tests runs at this moment."""

runner = CliRunner()


class Household:
    """A journal file and the commands run against it."""

    def __init__(self, path: Path) -> None:
        self.url = f"sqlite:///{path / 'j.sqlite'}"

    def run(self, *args: str) -> Result:
        return runner.invoke(cli.app, [*args, "--db", self.url])

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return result

    def refused(self, *args: str) -> Result:
        """A command that must fail with one ``error:`` line and no traceback."""
        result = self.run(*args)
        assert result.exit_code == 2, result.output
        assert "error:" in result.stderr
        assert "Traceback" not in result.output
        return result

    def book(self, member: str | None = None) -> Book:
        with Journal.open(self.url) as journal:
            return journal.book(member=member)


@pytest.fixture(autouse=True)
def _fixed_world(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "_now", lambda: NOW)
    monkeypatch.setattr(_common, "console", Console(width=200))
    monkeypatch.setattr(_common, "err", Console(width=200, stderr=True))
    monkeypatch.setenv("TZ", "Europe/Paris")
    monkeypatch.delenv("LETDOWN_DB", raising=False)


@pytest.fixture(scope="module")
def home_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Alex (nursing parent) and Sam (partner) in Paris, with Robin: made once, copied."""
    folder = tmp_path_factory.mktemp("home")
    with Journal.open(Household(folder).url) as journal:
        book = journal.create_household(
            HouseholdInfo(name="Home", time_zone="Europe/Paris"),
            MemberInfo(name="Alex", role=Role.NURSING_PARENT),
        )
        book.add_member(MemberInfo(name="Sam", role=Role.PARTNER))
        book.add_child(ChildInfo(name="Robin", birth_date=date(2026, 9, 1)))
    return folder / "j.sqlite"


@pytest.fixture
def home(tmp_path: Path, home_file: Path) -> Household:
    shutil.copy(home_file, tmp_path / "j.sqlite")
    return Household(tmp_path)


def entries(household: Household) -> list[str]:
    return [entry.kind for entry in household.book().history()]


# --- the household ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("log", "pump", "--minutes", "10", "--left", "60ml"),
        ("stash", "list"),
        ("history",),
        ("household", "show"),
        ("db", "status"),
    ],
)
def test_a_mistyped_db_path_is_refused_not_made_into_a_new_journal(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    typo = tmp_path / "jornal" / "j.sqlite"
    result = runner.invoke(cli.app, [*command, "--db", f"sqlite:///{typo}"])
    assert result.exit_code == 2, result.output
    assert f"no letdown journal at {typo}" in result.stderr
    assert "letdown household init" in result.stderr
    assert not typo.parent.exists()


def test_the_first_command_makes_a_household_and_says_how_to_set_it_up(tmp_path: Path) -> None:
    household = Household(tmp_path)
    Journal.open(household.url).close()  # what `letdown serve` makes before its setup page
    result = household.ok(
        "log", "pump", "--start", "07:00", "--end", "07:20", "--left", "60ml", "--right", "2oz"
    )
    assert "created household Home (zone Europe/Paris" in result.stderr
    assert "letdown household init" in result.stderr
    book = household.book()
    assert book.household.time_zone == "Europe/Paris"
    assert [m.name for m in book.members()] == ["me"]
    (entry,) = book.history()
    assert entry.entered_by == "me"
    assert entry.record.start_at == datetime(2026, 11, 28, 6, 0, tzinfo=UTC)

    household.ok("household", "init", "--name", "Martins", "--member", "Kai", "--units", "floz")
    book = household.book()
    assert book.household.name == "Martins"
    assert book.household.units.value == "floz"
    assert [(m.name, m.role.value) for m in book.members()] == [("Kai", "nursing-parent")]
    assert [e.entered_by for e in book.history()] == ["Kai"]


@pytest.mark.parametrize("tz", ["America/New_York", ":America/New_York"])
def test_without_a_zone_the_machines_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tz: str
) -> None:
    monkeypatch.setenv("TZ", tz)
    household = Household(tmp_path)
    household.ok("household", "init", "--name", "Home", "--member", "Alex")
    assert household.book().household.time_zone == "America/New_York"


def test_a_zone_that_is_no_iana_name_is_not_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "localtime")
    household = Household(tmp_path)
    household.ok("household", "init", "--name", "Home", "--member", "Alex")
    assert household.book().household.time_zone != "localtime"


def test_household_show_lists_everyone(home: Household) -> None:
    home.ok("household", "pregnancy", "--due", "2027-05-01", "--notes", "second")
    result = home.ok("household", "show")
    assert "Home: zone Europe/Paris, units ml, word breast" in result.stdout
    assert "Alex (nursing-parent), Sam (partner)" in result.stdout
    assert "Robin (born 2026-09-01)" in result.stdout
    assert "due 2027-05-01 (second)" in result.stdout


def test_household_init_refuses_bad_settings(tmp_path: Path) -> None:
    household = Household(tmp_path)
    result = household.refused(
        "household", "init", "--name", "Home", "--member", "Alex", "--zone", "Mars/Olympus"
    )
    assert "unknown time zone 'Mars/Olympus'" in result.stderr
    result = household.refused(
        "household", "init", "--name", "Home", "--member", "Alex", "--role", "boss"
    )
    assert "role 'boss': one of nursing-parent, partner, caregiver, viewer" in result.stderr
    with Journal.open(household.url) as journal:
        assert journal.household_names() == []


def test_a_members_role_can_change_and_a_viewer_cannot_write(home: Household) -> None:
    home.ok("household", "member", "Grandma", "--role", "viewer")
    result = home.refused("log", "care", "salve", "--as", "Grandma")
    assert "Grandma is a viewer" in result.stderr
    home.ok("household", "member", "Grandma", "--role", "caregiver")
    home.ok("log", "care", "salve", "--as", "Grandma")
    assert [e.entered_by for e in home.book().history()] == ["Grandma"]


def test_an_unknown_member_is_named_with_those_who_exist(home: Household) -> None:
    result = home.refused("log", "care", "salve", "--as", "Kim")
    assert "no member named 'Kim'" in result.stderr
    assert "members: Alex, Sam" in result.stderr


# --- log ----------------------------------------------------------------------------------


def test_nurse_starts_from_the_end_less_both_sides(home: Household) -> None:
    result = home.ok("log", "nurse", "--end", "2026-11-28T07:30", "--left", "10m", "--right", "8")
    assert "2026-11-28 07:12–07:30" in result.stdout
    assert "left breast 10 min, right breast 8 min" in result.stdout
    (entry,) = home.book().history()
    assert entry.record.start_at == datetime(2026, 11, 28, 6, 12, tzinfo=UTC)
    assert entry.record.sides["right"].duration_s == 480


def test_nurse_with_only_a_start_ends_after_both_sides(home: Household) -> None:
    home.ok("log", "nurse", "--start", "-30m", "--left", "10m", "--latch-left", "8")
    (entry,) = home.book().history()
    assert entry.record.start_at == NOW - timedelta(minutes=30)
    assert entry.record.end_time() == NOW - timedelta(minutes=20)
    assert entry.record.sides["left"].latch == 8


def test_the_households_word_names_the_sides(tmp_path: Path) -> None:
    household = Household(tmp_path)
    household.ok("household", "init", "--name", "Home", "--member", "Jo", "--word", "chest")
    household.ok("household", "child", "Robin")
    result = household.ok("log", "nurse", "--left", "10m")
    assert "left chest 10 min" in result.stdout
    assert "left chest" in household.ok("history").stdout


def test_nurse_needs_a_side_and_a_child(tmp_path: Path, home: Household) -> None:
    assert "give at least one side" in home.refused("log", "nurse").stderr
    result = home.refused("log", "nurse", "--left", "10m", "--child", "Kim")
    assert "no child named 'Kim' (children: Robin)" in result.stderr
    childless = Household(tmp_path / "other")
    childless.ok("household", "init", "--name", "Home", "--member", "Alex")
    result = childless.refused("log", "nurse", "--left", "10m")
    assert "no child in Home yet: add one with `letdown household child NAME`" in result.stderr
    home.ok("household", "child", "Ari")
    result = home.refused("log", "nurse", "--left", "10m")
    assert "several children (Robin, Ari): pass --child NAME" in result.stderr
    assert entries(home) == []
    assert childless.book().history() == []


def test_pump_from_minutes_before_the_end(home: Household) -> None:
    result = home.ok(
        "log", "pump", "--end", "07:30", "--minutes", "15",
        "--left", "60", "--right", "4oz", "--milk", "mature", "--pain-left", "2",
    )  # fmt: skip
    assert "left breast 60 mL (pain 2), right breast 118.3 mL" in result.stdout
    (entry,) = home.book().history()
    record = entry.record
    assert record.start_at == datetime(2026, 11, 28, 6, 15, tzinfo=UTC)
    assert record.device == "other pump"
    assert record.sides["right"].volume_ml == pytest.approx(118.294)
    assert record.milk is not None and record.milk.value == "mature"


def test_pump_needs_to_know_when(home: Household) -> None:
    result = home.refused("log", "pump", "--left", "60ml")
    assert "--start TIME or --minutes N" in result.stderr
    result = home.refused(
        "log", "pump", "--start", "07:00", "--end", "07:20", "--minutes", "20", "--left", "60"
    )
    assert "give two of --start, --end and --minutes" in result.stderr
    assert entries(home) == []


def test_an_end_before_the_start_is_refused(home: Household) -> None:
    result = home.refused("log", "pump", "--start", "07:30", "--end", "07:00", "--left", "60ml")
    assert "the end (2026-11-28 07:00) is before the start (2026-11-28 07:30)" in result.stderr
    result = home.refused("log", "nurse", "--start", "07:30", "--end", "07:00", "--left", "10m")
    assert "is before the start" in result.stderr
    assert entries(home) == []


def test_a_negative_volume_is_refused(home: Household) -> None:
    result = home.refused("log", "pump", "--minutes", "15", "--left", "-60ml")
    assert "amount '-60ml': an amount cannot be negative" in result.stderr
    assert entries(home) == []


def test_times_in_the_future_or_unreadable_are_refused(home: Household) -> None:
    result = home.refused("log", "care", "salve", "--at", "2026-11-28T12:00")
    assert "in the future" in result.stderr
    result = home.refused("log", "care", "salve", "--at", "tomorrow")
    assert "try now, -20m, -1h30m, 07:30" in result.stderr
    assert entries(home) == []


def test_pump_into_the_stash_makes_a_bag_from_that_session(home: Household) -> None:
    result = home.ok(
        "log", "pump", "--start", "07:00", "--end", "07:20",
        "--left", "60ml", "--right", "70ml", "--stash", "freezer",
    )  # fmt: skip
    assert "label" in result.stdout
    book = home.book()
    (entry,) = book.history()
    (bag,) = book.stash()
    assert bag.volume_ml == 130
    assert bag.location is Location.FREEZER
    assert bag.sources == (entry.uid,)
    assert bag.expressed_at == entry.record.start_at
    assert f"bag {bag.code}: 130 mL in the freezer" in result.stdout


def test_a_stash_of_nothing_writes_nothing(home: Household) -> None:
    result = home.refused("log", "pump", "--minutes", "10", "--left", "0", "--stash", "fridge")
    assert "--stash: a bag holds more than 0" in result.stderr
    assert entries(home) == []
    assert home.book().stash() == []


def test_care_and_symptoms(home: Household) -> None:
    home.ok("log", "care", "cold-compress", "--side", "left", "--at", "-1h", "--notes", "helped")
    result = home.ok(
        "log", "symptom", "--pain-left", "6", "--cracked", "both", "--lump", "right",
        "--fever", "101.1F",
    )  # fmt: skip
    assert "left breast: pain 6, cracked" in result.stdout
    assert "right breast: cracked, lump" in result.stdout
    assert "fever 38.4 °C" in result.stdout
    symptom, care = (entry.record for entry in home.book().history())
    assert care.kind == "care" and care.side == "left" and care.notes == "helped"
    assert symptom.kind == "symptom"
    assert symptom.sides["left"].pain == 6 and symptom.sides["left"].cracked
    assert symptom.sides["right"].lump and not symptom.sides["left"].lump
    assert symptom.fever_c == pytest.approx(38.39, abs=0.01)


def test_brackets_in_what_people_type_are_shown_as_typed(home: Household) -> None:
    result = home.ok("log", "care", "salve", "--notes", "[sore] then [/] better")
    assert '"[sore] then [/] better"' in result.stdout
    assert "[sore] then [/] better" in home.ok("history").stdout
    result = home.refused("log", "nurse", "--left", "10m", "--child", "[/]")
    assert "no child named '[/]'" in result.stderr


def test_care_and_symptoms_refuse_what_they_do_not_know(home: Household) -> None:
    result = home.refused("log", "care", "massage")
    assert "care 'massage': one of salve, cold-compress" in result.stderr
    result = home.refused("log", "symptom", "--cracked", "middle")
    assert "--cracked 'middle': left, right or both" in result.stderr
    result = home.refused("log", "symptom")
    assert "give a side's symptoms or a fever" in result.stderr
    result = home.run("log", "symptom", "--pain-left", "11")
    assert result.exit_code == 2
    assert "--pain-left" in result.output
    assert entries(home) == []


# --- bottles and the stash ----------------------------------------------------------------


def add_bag(home: Household, amount: str, *more: str) -> str:
    result = home.ok("stash", "add", amount, *more)
    (bag,) = [
        b for b in home.book().stash(include_closed=True) if f"bag {b.code}:" in result.stdout
    ]
    return bag.code


def test_stash_add_prints_the_label_and_the_rule(home: Household) -> None:
    result = home.ok(
        "stash", "add", "120", "--expressed", "2026-11-28T07:00", "--code", "abc",
        "--notes", "after the night",
    )  # fmt: skip
    assert "A  B  C" in result.stdout
    assert "use by 2026-12-02 07:00 (fresh milk, fridge: 4 days (CDC))" in result.stdout
    bag = home.book().bag("ABC")
    assert bag.volume_ml == 120
    assert bag.location is Location.FRIDGE
    assert bag.notes == "after the night"


def test_a_bottle_draws_its_bags(home: Household) -> None:
    first = add_bag(home, "100ml", "--expressed", "07:00")
    second = add_bag(home, "80ml", "--expressed", "07:10")
    result = home.ok(
        "log", "bottle", "--amount", "150ml", "--bag", f"{first}:90ml", "--bag", second,
        "--leftover", "10",
    )  # fmt: skip
    assert "the 10 mL left over keeps until 13:00 (CDC: 2 hours after the feed)" in result.stdout
    assert f"bag {first}: 10 mL left" in result.stdout
    assert f"bag {second}: 20 mL left" in result.stdout
    book = home.book()
    (entry,) = book.history()
    assert entry.record.kind == "bottle"
    assert [(use.bag, use.volume_ml) for use in entry.record.bags] == [(first, 90), (second, 60)]
    assert entry.record.leftover_ml == 10
    assert book.bag(first).remaining_ml == 10
    assert book.bag(second).remaining_ml == 20


def test_a_bottle_bigger_than_its_bag_is_refused(home: Household) -> None:
    code = add_bag(home, "60ml", "--expressed", "07:00")
    result = home.refused("log", "bottle", "--amount", "120ml", "--bag", code)
    assert f"bag {code} holds 60 mL, not the 120 mL this bottle uses" in result.stderr
    assert entries(home) == []
    assert home.book().bag(code).remaining_ml == 60


def test_bags_giving_more_than_the_bottle_are_refused(home: Household) -> None:
    code = add_bag(home, "200ml", "--expressed", "07:00")
    result = home.refused("log", "bottle", "--amount", "120ml", "--bag", f"{code}:150ml")
    assert "more than the bottle's" in result.stderr
    assert entries(home) == []


def test_an_unknown_bag_is_refused(home: Household) -> None:
    result = home.refused("log", "bottle", "--amount", "120ml", "--bag", "ZZZ")
    assert "no bag labelled 'ZZZ'" in result.stderr
    result = home.refused("stash", "use", "ZZZ")
    assert "no bag labelled 'ZZZ'" in result.stderr
    assert entries(home) == []


def test_thawed_milk_is_refused_the_freezer(home: Household) -> None:
    code = add_bag(home, "120ml", "--expressed", "2026-11-20T07:00", "--where", "freezer")
    result = home.ok("stash", "move", code, "fridge", "--at", "2026-11-28T07:00")
    assert "thawed milk, fridge: 1 day (CDC)" in result.stdout
    result = home.refused("stash", "move", code, "freezer", "--at", "08:00")
    assert "thawed milk must never be refrozen" in result.stderr
    assert home.book().bag(code).location is Location.FRIDGE


def test_stash_use_and_discard(home: Household) -> None:
    code = add_bag(home, "4oz", "--expressed", "07:00")
    result = home.refused("stash", "use", code, "--amount", "5oz")
    assert f"bag {code} holds" in result.stderr
    home.ok("stash", "use", code, "--amount", "1oz", "--at", "-10m")
    result = home.ok("stash", "use", code, "--at", "now")
    assert f"bag {code}: used up" in result.stdout
    bottles = [entry.record for entry in home.book().history()]
    assert [b.amount_ml for b in bottles] == pytest.approx([3 * 29.5735, 29.5735])
    other = add_bag(home, "50ml", "--expressed", "07:00")
    result = home.refused("stash", "discard", other, "--reason", " ")
    assert "say why" in result.stderr
    home.ok("stash", "discard", other, "--reason", "spilled")
    assert home.book().bag(other).status == "discarded"
    assert home.book().stash() == []
    listed = home.ok("stash", "list", "--all").stdout
    assert "discarded" in listed and "used" in listed


def test_stash_list_orders_and_colours_by_use_by(home: Household) -> None:
    expired = add_bag(home, "50ml", "--expressed", "-5h", "--where", "room")
    today = add_bag(home, "60ml", "--expressed", "-2h", "--where", "room")
    later = add_bag(home, "70ml", "--expressed", "-1h", "--where", "freezer")
    result = home.ok("stash", "list")
    lines = result.stdout.splitlines()
    rows = [
        next(i for i, line in enumerate(lines) if f" {code} " in line)
        for code in (expired, today, later)
    ]
    assert rows == sorted(rows)
    assert f"warning: bag {expired} expired at 2026-11-28 10:00: discard it" in result.stdout
    assert f"warning: bag {today} must be used by 13:00 today" in result.stdout
    assert later not in "".join(line for line in lines if "warning" in line)


def test_stash_list_colours_the_use_by(home: Household, monkeypatch: pytest.MonkeyPatch) -> None:
    expired = add_bag(home, "50ml", "--expressed", "-5h", "--where", "room")
    today = add_bag(home, "60ml", "--expressed", "-2h", "--where", "room")
    later = add_bag(home, "70ml", "--expressed", "-1h", "--where", "freezer")
    terminal = Console(width=200, force_terminal=True, color_system="standard")
    monkeypatch.setattr(_common, "console", terminal)
    lines = home.ok("stash", "list").stdout.splitlines()
    for code, colour in ((expired, "31"), (today, "33"), (later, "32")):
        (row,) = [line for line in lines if f" {code} " in line and "warning" not in line]
        assert f"\x1b[{colour}m20" in row


def test_stash_list_as_json(home: Household) -> None:
    code = add_bag(home, "4oz", "--expressed", "07:00")
    payload = json.loads(home.ok("stash", "list", "--json").stdout)
    assert [bag["code"] for bag in payload] == [code]
    assert payload[0]["remaining_ml"] == pytest.approx(118.294)
    assert payload[0]["expired"] is False
    assert payload[0]["use_by"] == "2026-12-02T06:00:00+00:00"


# --- history, show, edit, delete ----------------------------------------------------------


def test_history_newest_first_with_who_and_the_days_figures(home: Household) -> None:
    home.ok("log", "pump", "--start", "07:00", "--end", "07:20", "--left", "60", "--right", "50")
    home.ok("log", "nurse", "--end", "09:00", "--left", "10m", "--as", "Sam")
    home.ok("log", "bottle", "--amount", "90ml", "--content", "formula", "--at", "2026-11-25T09:00")
    result = home.ok("history")
    text = result.stdout
    assert text.index("2026-11-28 08:50–09:00") < text.index("2026-11-28 07:00–07:20")
    assert text.index("2026-11-28 07:00–07:20") < text.index("2026-11-25 09:00")
    assert "Sam" in text
    assert "pumped: 1 session, left breast 60 mL, right breast 50 mL (110 mL in all)" in text
    assert "nursed: 1 feed, left breast 10 min\n" in text
    assert "bottles: 0" in text
    only = home.ok("history", "--kind", "pump", "--since", "24h").stdout
    assert "07:00–07:20" in only and "08:50" not in only and "2026-11-25" not in only
    result = home.refused("history", "--kind", "pump,naps")
    assert "--kind 'pump,naps'" in result.stderr


def test_history_as_json(home: Household) -> None:
    home.ok("log", "pump", "--start", "07:00", "--end", "07:20", "--left", "60")
    payload = json.loads(home.ok("history", "--json").stdout)
    (entry,) = payload["entries"]
    assert entry["record"]["sides"]["left"]["volume_ml"] == 60
    assert entry["entered_by"] == "Alex"
    assert payload["summary_24h"]["pumped_ml"]["left"] == 60


def test_edit_a_nested_field_and_see_who_changed_what(home: Household) -> None:
    home.ok("log", "pump", "--start", "07:00", "--end", "07:20", "--left", "60", "--right", "50")
    (entry,) = home.book().history()
    result = home.ok(
        "edit", str(entry.id), "sides.left.volume_ml=70", "notes=123", "end_at=07:25", "--as", "Sam"
    )
    assert "is now version 2" in result.stdout
    assert "sides.left.volume_ml: 60.0 → 70.0" in result.stdout
    edited = home.book().get(entry.id)
    assert edited.version == 2
    assert edited.updated_by == "Sam"
    assert edited.record.sides["left"].volume_ml == 70
    assert edited.record.sides["right"].volume_ml == 50
    assert edited.record.notes == "123"
    assert edited.record.end_time() == datetime(2026, 11, 28, 6, 25, tzinfo=UTC)
    assert "v2" in home.ok("history").stdout
    shown = home.ok("show", str(entry.id)).stdout
    assert "created" in shown and "edited" in shown and "Sam" in shown
    assert "sides.left.volume_ml: 60.0 → 70.0" in shown


def test_edit_refuses_what_the_record_cannot_hold(home: Household) -> None:
    home.ok("log", "pump", "--start", "07:00", "--end", "07:20", "--left", "60")
    (entry,) = home.book().history()
    result = home.refused("edit", str(entry.id), "sides.left.volume_ml=-5")
    assert "left amount: must be at least 0 mL" in result.stderr
    result = home.refused("edit", str(entry.id), "colour=blue")
    assert "colour" in result.stderr
    result = home.refused("edit", str(entry.id), "no-equals")
    assert "write field=value" in result.stderr
    result = home.refused("edit", "999", "notes=x")
    assert "no entry 999" in result.stderr
    assert home.book().get(entry.id).version == 1


def test_delete_keeps_the_history_and_gives_milk_back(home: Household) -> None:
    code = add_bag(home, "100ml", "--expressed", "07:00")
    home.ok("log", "bottle", "--amount", "100ml", "--bag", code)
    (entry,) = home.book().history()
    assert home.book().bag(code).status == "used"
    home.ok("delete", str(entry.id))
    assert entries(home) == []
    assert home.book().bag(code).remaining_ml == 100
    shown = home.ok("show", str(entry.id)).stdout
    assert "was deleted by Alex" in shown
    assert "deleted" in shown


# --- the database, export and import ------------------------------------------------------


def test_db_status_and_upgrade(home: Household) -> None:
    from letdown.journal import db

    head = db.head_revision()
    assert f"schema: {head}, this letdown's: up to date" in home.ok("db", "status").stdout
    assert f"is at {head} already" in home.ok("db", "upgrade").stdout


def test_db_status_hides_the_password() -> None:
    result = runner.invoke(
        cli.app, ["db", "status", "--db", "postgresql://ada:hunter2@127.0.0.1:1/letdown"]
    )
    assert result.exit_code == 2
    assert "postgresql://ada:***@127.0.0.1:1/letdown" in result.stdout
    assert "hunter2" not in result.output
    assert "cannot reach the database" in result.stderr


@pytest.fixture
def exchange() -> Iterator[None]:
    pytest.importorskip("letdown.journal.exchange")
    yield


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.usefixtures("exchange")
def test_export_then_import_loses_nothing(home: Household, tmp_path: Path, fmt: str) -> None:
    code = add_bag(home, "100ml", "--expressed", "07:00")
    home.ok("log", "pump", "--start", "06:00", "--end", "06:20", "--left", "60", "--notes", "=1+1")
    home.ok("log", "bottle", "--amount", "60ml", "--bag", f"{code}:60ml")
    (_, pump) = home.book().history()
    home.ok("edit", str(pump.id), "sides.left.volume_ml=65", "--as", "Sam")
    out = tmp_path / f"journal.{fmt}"
    result = home.ok("export", fmt, "--out", str(out))
    assert "wrote" in result.stdout and str(out) in result.stdout
    assert pump.uid in home.ok("export", fmt).stdout

    copy = Household(tmp_path / "copy")
    result = copy.ok("import", fmt, str(out))
    assert "Added" in result.stdout
    book = copy.book()
    original = home.book()
    assert [(e.uid, e.record, e.version, e.entered_by, e.updated_by) for e in book.history()] == [
        (e.uid, e.record, e.version, e.entered_by, e.updated_by) for e in original.history()
    ]
    assert book.bag(code).remaining_ml == 40
    assert [r.changed_by for r in book.revisions(pump.uid)] == ["Alex", "Sam"]
    first, again = tmp_path / "first.json", tmp_path / "again.json"
    home.ok("export", "json", "--out", str(first))
    copy.ok("export", "json", "--out", str(again))
    exported, reexported = json.loads(first.read_text()), json.loads(again.read_text())
    exported.pop("exported_at")
    reexported.pop("exported_at")
    assert reexported == exported


@pytest.mark.usefixtures("exchange")
def test_import_refuses_what_it_cannot_read(home: Household, tmp_path: Path) -> None:
    result = home.refused("import", "json", str(tmp_path / "missing.json"))
    assert "missing.json: no such file" in result.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    home.refused("import", "json", str(bad))
    result = home.refused("import", "xml", str(bad))
    assert "format 'xml': csv, json or babybuddy" in result.stderr
    result = home.refused("export", "xml")
    assert "format 'xml': csv or json" in result.stderr
    result = home.refused("import", "json", str(bad), "--child", "Robin")
    assert "are for Baby Buddy imports" in result.stderr


def test_import_babybuddy_is_wired(home: Household, tmp_path: Path) -> None:
    pytest.importorskip("letdown.journal.babybuddy")
    result = home.refused("import", "babybuddy", str(tmp_path / "missing.csv"))
    assert "no such file" in result.stderr


# --- figures that cannot be right ----------------------------------------------------------


def test_an_implausible_session_needs_yes_and_says_which_figure(home: Household) -> None:
    refused = home.refused("log", "pump", "--left", "60oz", "--minutes", "10")
    assert "1,774 mL from the left side in one session" in refused.stderr
    assert "--yes" in refused.stderr
    assert entries(home) == []

    too_fast = home.refused("log", "pump", "--left", "400ml", "--minutes", "5")
    assert "80 mL a minute" in too_fast.stderr

    home.ok("log", "pump", "--left", "60oz", "--minutes", "10", "--yes")
    assert entries(home) == ["pump"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("log", "pump", "--left", "60ml", "--minutes", "0", "--yes"), "60 mL in no time at all"),
        (("log", "nurse", "--left", "0", "--yes"), "the feed lasts no time at all"),
    ],
)
def test_what_cannot_happen_is_refused_even_with_yes(
    home: Household, args: tuple[str, ...], says: str
) -> None:
    assert says in home.refused(*args).stderr
    assert entries(home) == []


def test_an_entry_from_years_ago_needs_yes(home: Household) -> None:
    result = home.refused("log", "pump", "--left", "60ml", "--start", "-99999h", "--minutes", "15")
    assert "it starts on 2015-" in result.stderr
    assert entries(home) == []


def test_a_bottle_too_big_for_the_childs_age_needs_yes(home: Household) -> None:
    result = home.refused("log", "bottle", "--amount", "400ml")
    assert "a bottle of 400 mL is far more than a feed for a child of 2 months" in result.stderr
    home.ok("log", "bottle", "--amount", "200ml")
    assert entries(home) == ["bottle"]


@pytest.mark.parametrize("born", ["3000-01-01", "1800-05-01"])
def test_a_birth_date_that_cannot_be_is_refused(home: Household, born: str) -> None:
    result = home.refused("household", "child", "Kim", "--born", born)
    assert f"birth date: {born}" in result.stderr
    assert [child.name for child in home.book().children()] == ["Robin"]


def test_a_child_can_be_corrected_and_one_added_by_mistake_removed(home: Household) -> None:
    home.ok("log", "bottle", "--amount", "90ml")
    home.ok("household", "child", "Robin", "--born", "2026-09-02")
    home.ok("household", "child", "Robin", "--rename", "Robyn")
    (child,) = home.book().children()
    assert (child.name, child.birth_date) == ("Robyn", date(2026, 9, 2))
    assert [entry.record.child for entry in home.book().history()] == ["Robyn"]  # type: ignore[union-attr]

    assert "has 1 entries" in home.refused("household", "child", "Robyn", "--remove").stderr
    home.ok("household", "child", "Kim")
    home.ok("household", "child", "Kim", "--remove")
    assert [child.name for child in home.book().children()] == ["Robyn"]


def test_a_bag_past_its_use_by_is_added_with_a_warning_and_counted_apart(home: Household) -> None:
    home.ok("stash", "add", "120ml", "--expressed", "2026-11-25T08:00")
    added = home.ok("stash", "add", "100ml", "--expressed", "2026-11-01T08:00")
    assert "is past its use-by" in added.stderr
    listed = home.ok("stash", "list")
    assert "1 bags, 120 mL still good; 1 past use-by (100 mL, not counted)" in listed.stdout


# --- Baby Buddy from the command line ------------------------------------------------------


def test_babybuddy_import_from_the_command_line(home: Household, tmp_path: Path) -> None:
    admin = tmp_path / "feeding.csv"
    admin.write_text(
        "id,child_id,child_first_name,child_last_name,start,end,type,method,amount,notes,tags\n"
        "1,1,Robin,Anchor,2026-03-08 01:50:00,2026-03-08 03:10:00,breast milk,left breast,,,\n"
        "2,1,Robin,Anchor,2026-11-01 01:50:00,2026-11-01 01:05:00,breast milk,left breast,,,\n",
        encoding="utf-8",
    )
    result = home.ok("import", "babybuddy", str(admin), "--zone", "America/New_York")
    assert result.stdout.startswith("Added 2 nurse feeds.")
    assert "happened twice in America/New_York" in result.stdout
    spans = sorted(
        (entry.record.end_time() - entry.record.start_at).total_seconds() / 60  # type: ignore[operator]
        for entry in home.book().history()
    )
    assert spans == [15, 20]

    api = tmp_path / "feedings.json"
    api.write_text(
        json.dumps(
            {
                "count": 2,
                "next": None,
                "previous": None,
                "results": [
                    {
                        "id": 10,
                        "child": 1,
                        "start": "2026-03-02T10:00:00Z",
                        "end": "2026-03-02T10:20:00Z",
                        "type": "breast milk",
                        "method": "left breast",
                        "amount": None,
                        "notes": None,
                        "tags": [],
                    },
                    {
                        "id": 11,
                        "child": 2,
                        "start": "2026-03-02T11:00:00Z",
                        "end": "2026-03-02T11:10:00Z",
                        "type": "breast milk",
                        "method": "right breast",
                        "amount": None,
                        "notes": None,
                        "tags": [],
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    refused = home.refused("import", "babybuddy", str(api))
    assert "--child 1=NAME --child 2=NAME" in refused.stderr
    home.ok(
        "import", "babybuddy", str(api), "--child", "1=Robin", "--child", "2=Sam",
        "--create-children",
    )  # fmt: skip
    assert [child.name for child in home.book().children()] == ["Robin", "Sam"]
