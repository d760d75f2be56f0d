"""Baby Buddy's feedings and pumping sessions, as its exports give them, into the journal."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from letdown.errors import InvalidEntryError, NotFoundError
from letdown.journal import (
    Book,
    BottleContent,
    BottleFeed,
    ChildInfo,
    HouseholdInfo,
    Journal,
    MemberInfo,
    NotAllowedError,
    NurseFeed,
    PumpSession,
    Role,
    StoredEntry,
    db,
)
from letdown.journal.babybuddy import DEVICE, Options, import_babybuddy

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "babybuddy-sample"

FEEDING_CSV = """\
id,child_id,child_first_name,child_last_name,start,end,type,method,amount,notes,tags
1,1,Robin,Anchor,2026-02-25 12:15:00,2026-02-25 12:30:00,breast milk,left breast,,latched well,
2,1,Robin,Anchor,2026-02-25 15:00:00,2026-02-25 15:20:00,breast milk,both breasts,,,
3,1,Robin,Anchor,2026-02-25 18:00:00,2026-02-25 18:10:00,breast milk,bottle,60,,
4,1,Robin,Anchor,2026-02-25 21:00:00,2026-02-25 21:10:00,formula,bottle,90.5,"at 3, ""dream"" feed",
5,1,Robin,Anchor,2026-02-26 00:00:00,2026-02-26 00:10:00,fortified breast milk,bottle,70,,
6,1,Robin,Anchor,2026-02-26 03:00:00,2026-02-26 03:15:00,solid food,self fed,,,
7,1,Robin,Anchor,2026-02-26 04:00:00,2026-02-26 04:15:00,breast milk,parent fed,20,,
8,1,Robin,Anchor,2026-02-26 05:00:00,,breast milk,right breast,,,
9,1,Robin,Anchor,2026-02-26 06:00:00,2026-02-26 06:05:00,formula,bottle,,,
10,1,Robin,Anchor,2026-02-26 07:00:00,2026-02-26 07:05:00,formula,bottle,0,,
11,1,Robin,Anchor,2026-02-26 08:00:00,2026-02-26 08:05:00,formula,bottle,-30,,
12,2,Jordan,Anchor,2026-02-26 09:00:00,2026-02-26 09:20:00,breast milk,left breast,,,
13,1,Robin,Anchor,2026-02-26 10:00:00,2026-02-26 09:50:00,breast milk,right breast,,,
1,1,Robin,Anchor,2026-02-25 12:15:00,2026-02-25 12:30:00,breast milk,left breast,,,
"""

PUMPING_PAGE = {
    "count": 40,
    "next": "http://babybuddy.local/api/pumping/?limit=7&offset=7",
    "previous": None,
    "results": [
        {
            "id": 101,
            "child": 1,
            "amount": 120.0,
            "start": "2026-03-01T06:00:00Z",
            "end": "2026-03-01T06:20:00Z",
            "duration": "00:20:00",
            "notes": "before work",
            "tags": ["work"],
        },
        {"id": 102, "child": 1, "amount": None, "start": "2026-03-01T09:00:00Z",
         "end": "2026-03-01T09:15:00Z", "duration": "00:15:00", "notes": None, "tags": []},
        {"id": 103, "child": 1, "amount": -5.0, "start": "2026-03-01T12:00:00Z",
         "end": "2026-03-01T12:15:00Z", "duration": "00:15:00", "notes": None, "tags": []},
        {"id": 104, "child": 1, "amount": 0.0, "start": "2026-03-01T15:00:00Z",
         "end": "2026-03-01T15:10:00Z", "duration": "00:10:00", "notes": None, "tags": []},
        {"id": 105, "child": 1, "amount": 45.0, "start": "2026-03-01T18:00:00Z",
         "end": None, "duration": "00:15:00", "notes": None, "tags": []},
        {"id": 106, "child": 1, "amount": 50.0, "start": "2026-03-01T21:00:00Z",
         "end": None, "duration": None, "notes": None, "tags": []},
        {"id": 101, "child": 1, "amount": 120.0, "start": "2026-03-01T06:00:00Z",
         "end": "2026-03-01T06:20:00Z", "duration": "00:20:00", "notes": None, "tags": []},
    ],
}  # fmt: skip


def fast_journal(path: Path) -> Journal:
    """A SQLite journal that skips fsync: these tests never lose power, and run faster."""
    engine = db.make_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA synchronous = OFF"))
    return Journal(engine)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Book]:
    """Like ``book`` (Home, Europe/Paris, Alex, child Robin) on a journal of its own."""
    with fast_journal(tmp_path / "home.sqlite") as journal:
        yield _household(journal, "Home", "Europe/Paris")


def _household(journal: Journal, name: str, zone: str) -> Book:
    book = journal.create_household(
        HouseholdInfo(name=name, time_zone=zone), MemberInfo(name="Alex", role=Role.NURSING_PARENT)
    )
    book.add_child(ChildInfo(name="Robin"))
    return book


def write(tmp_path: Path, name: str, content: str | dict[str, object]) -> Path:
    path = tmp_path / name
    text = content if isinstance(content, str) else json.dumps(content, indent=1)
    path.write_text(text, encoding="utf-8")
    return path


def by_note(book: Book) -> dict[str, StoredEntry]:
    """Imported entries by the Baby Buddy row their notes name ("feeding 3")."""
    found: dict[str, StoredEntry] = {}
    for entry in book.history():
        notes: str = getattr(entry.record, "notes", "")
        label = notes.rsplit("Baby Buddy ", 1)[-1].split(" from ", maxsplit=1)[0]
        found[label] = entry
    return found


def paris(text: str) -> datetime:
    """A wall-clock time in Paris in February or March (CET, UTC+1), in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC) - timedelta(hours=1)


def test_feedings_from_the_admin_csv(book: Book, tmp_path: Path) -> None:
    path = write(tmp_path, "export.csv", FEEDING_CSV)

    report = import_babybuddy(book, path)

    assert report.added == {"nurse": 2, "bottle": 6}
    entries = by_note(book)
    assert sorted(entries) == [
        "feeding 1", "feeding 10", "feeding 11", "feeding 2", "feeding 3", "feeding 4",
        "feeding 5", "feeding 9",
    ]  # fmt: skip
    left = entries["feeding 1"].record
    assert isinstance(left, NurseFeed)
    assert (left.start_at, left.end_at) == (paris("2026-02-25 12:15"), paris("2026-02-25 12:30"))
    assert {side: s.duration_s for side, s in left.sides.items()} == {"left": 900.0}
    assert left.notes == "latched well; Baby Buddy feeding 1"
    both = entries["feeding 2"].record
    assert isinstance(both, NurseFeed)
    assert {side: s.duration_s for side, s in both.sides.items()} == {"left": 600.0, "right": 600.0}
    assert "each has half" in both.notes
    bottles = {label: entries[label].record for label in ("feeding 3", "feeding 4", "feeding 5")}
    assert all(isinstance(bottle, BottleFeed) for bottle in bottles.values())
    assert [(b.amount_ml, b.content) for b in bottles.values() if isinstance(b, BottleFeed)] == [
        (60.0, BottleContent.EXPRESSED),
        (90.5, BottleContent.FORMULA),
        (70.0, BottleContent.EXPRESSED),
    ]
    assert bottles["feeding 4"].notes == 'at 3, "dream" feed; Baby Buddy feeding 4'
    assert "fortified breast milk" in bottles["feeding 5"].notes
    kept_end = bottles["feeding 3"]
    assert isinstance(kept_end, BottleFeed)
    assert kept_end.end_at == paris("2026-02-25 18:10")
    for unknown in ("feeding 9", "feeding 10", "feeding 11"):
        bottle = entries[unknown].record
        assert isinstance(bottle, BottleFeed)
        assert bottle.amount_ml is None
        assert "amount unknown" in bottle.notes
    assert all(entry.entered_by == "Alex" for entry in entries.values())

    assert report.skipped == [
        "feeding 6: solid food, self fed: neither nursing nor a bottle: not imported",
        "feeding 7: breast milk, parent fed: neither nursing nor a bottle: not imported",
        "feeding 8: no end time: not imported",
        "feeding 12: Baby Buddy child 2 (Jordan Anchor) is not a child of Home (Robin): "
        "name the child to import into (--child), or pass --create-children: not imported",
        "feeding 13: ends (2026-02-26 09:50) before it starts (2026-02-26 10:00): not imported",
        "feeding 1: appears twice in the file, imported once",
    ]
    assert any(
        line.startswith("Note: times without an offset were read in Europe/Paris, Home's")
        for line in report.lines()
    )


def test_importing_the_same_file_again_skips_what_is_there(book: Book, tmp_path: Path) -> None:
    path = write(tmp_path, "export.csv", FEEDING_CSV)
    import_babybuddy(book, path)
    before = book.history()

    again = import_babybuddy(book, path)

    assert again.added == {}
    assert book.history() == before
    assert [line for line in again.skipped if line.endswith("imported already")] == [
        f"feeding {number}: imported already" for number in (1, 2, 3, 4, 5, 9, 10, 11)
    ]
    assert again.lines()[:2] == [
        "Nothing added.",
        "Note: every row of this file is in the journal already: it looks like a file "
        "imported before",
    ]


def test_pumping_from_a_rest_api_page(book: Book, tmp_path: Path) -> None:
    path = write(tmp_path, "pumping.json", PUMPING_PAGE)

    report = import_babybuddy(book, path)

    assert report.added == {"pump": 3}
    entries = by_note(book)
    first = entries["pumping 101"].record
    assert isinstance(first, PumpSession)
    assert first.device == DEVICE
    assert first.start_at == datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    assert first.sides == {}
    assert first.total_ml == 120.0
    assert first.notes == (
        "before work; tags: work; both sides together, no side kept; Baby Buddy pumping 101 "
        "from babybuddy.local"
    )
    from_duration = entries["pumping 105"].record
    assert isinstance(from_duration, PumpSession)
    assert from_duration.end_at - from_duration.start_at == timedelta(minutes=15)
    nothing = entries["pumping 104"].record
    assert isinstance(nothing, PumpSession)
    assert nothing.volume_ml() == 0.0

    assert report.skipped == [
        "pumping 102: no amount: not imported",
        "pumping 103: a negative amount (-5 mL): not imported",
        "pumping 106: no end time: not imported",
        "pumping 101: appears twice in the file, imported once",
    ]
    lines = report.lines()
    assert "Note: pumping 104: 0 mL recorded, imported as a session that gave no milk" in lines
    assert any(
        line.startswith("Note: this file is one page") and "7 of 40" in line for line in lines
    )
    assert any('kept as its total only, shown as "total"' in line for line in lines)
    assert not any("without an offset" in line for line in lines)


def test_the_kind_of_file_comes_from_its_content_not_its_name(home: Book, tmp_path: Path) -> None:
    tsv = FEEDING_CSV.replace(",", "\t")
    misnamed = write(tmp_path, "pumping.json", tsv)
    json_named_csv = write(tmp_path, "feedings.csv", PUMPING_PAGE)

    feedings = import_babybuddy(home, misnamed)
    pumping = import_babybuddy(home, json_named_csv)

    assert feedings.added == {"nurse": 2, "bottle": 6}
    assert pumping.added == {"pump": 3}


def test_feedings_from_rest_json_and_the_admin_json(home: Book, tmp_path: Path) -> None:
    page = {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {"id": 7, "child": 1, "start": "2026-03-02T10:00:00Z", "end": "2026-03-02T10:20:00Z",
             "duration": "00:20:00", "type": "breast milk", "method": "both breasts",
             "amount": None, "notes": None, "tags": []},
            {"id": 8, "child": 1, "start": "2026-03-02T13:00:00Z", "end": "2026-03-02T13:10:00Z",
             "duration": "00:10:00", "type": "formula", "method": "bottle", "amount": 100.0,
             "notes": None, "tags": []},
        ],
    }  # fmt: skip
    admin = [
        {"id": "9", "child_id": "1", "child_first_name": "Robin", "child_last_name": "Anchor",
         "start": "2026-03-02 18:00:00", "end": "2026-03-02 18:12:00", "type": "breast milk",
         "method": "right breast", "amount": "", "notes": "", "tags": ""},
    ]  # fmt: skip

    from_api = import_babybuddy(home, write(tmp_path, "a.json", page))
    from_admin = import_babybuddy(home, write(tmp_path, "b.json", admin))

    assert (from_api.added, from_admin.added) == ({"nurse": 1, "bottle": 1}, {"nurse": 1})
    entries = by_note(home)
    right = entries["feeding 9"].record
    assert isinstance(right, NurseFeed)
    assert right.start_at == paris("2026-03-02 18:00")
    assert {side: s.duration_s for side, s in right.sides.items()} == {"right": 720.0}
    assert not any("one page" in line for line in from_api.lines())


def test_a_named_child_takes_the_rows_of_that_child(home: Book, tmp_path: Path) -> None:
    path = write(tmp_path, "export.csv", FEEDING_CSV)

    report = import_babybuddy(home, path, child="Robin")

    assert report.added == {"nurse": 2, "bottle": 6}
    assert "feeding 12: Baby Buddy child 2 (Jordan Anchor) is not Robin: not imported" in (
        report.skipped
    )
    with pytest.raises(NotFoundError, match="no child named 'Sasha' in Home"):
        import_babybuddy(home, path, child="Sasha")


def test_a_named_child_takes_every_row_of_the_only_baby_buddy_child(
    home: Book, tmp_path: Path
) -> None:
    only_jordan = "\n".join(
        line for line in FEEDING_CSV.splitlines() if ",Jordan," in line or line.startswith("id,")
    )
    report = import_babybuddy(
        home, write(tmp_path, "jordan.csv", only_jordan + "\n"), child="Robin"
    )

    assert report.added == {"nurse": 1}
    jordan = by_note(home)["feeding 12"].record
    assert isinstance(jordan, NurseFeed)
    assert jordan.child == "Robin"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("a,b\n1,2\n", "not a Baby Buddy feeding or pumping export"),
        ('{"format": "letdown-journal", "format_version": 1}', "letdown journal export"),
        ('{"count": 1, "results": [', "not complete JSON"),
        ('id,start,end,amount\n1,"2026-01-01 10:00:00,x\n', "damaged or cut short"),
    ],
)
def test_a_file_that_is_not_a_baby_buddy_export_is_refused(
    home: Book, tmp_path: Path, content: str, says: str
) -> None:
    with pytest.raises(InvalidEntryError, match=says):
        import_babybuddy(home, write(tmp_path, "file.txt", content))
    assert home.history() == []


def test_a_file_that_is_not_utf8_is_refused(home: Book, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(FEEDING_CSV.replace("Robin", "Noé").encode("latin-1"))

    with pytest.raises(InvalidEntryError, match=r"not UTF-8 text \(byte 0xe9"):
        import_babybuddy(home, path)


def test_a_viewer_cannot_import(home: Book, tmp_path: Path) -> None:
    home.add_member(MemberInfo(name="Kim", role=Role.VIEWER))

    with pytest.raises(NotAllowedError):
        import_babybuddy(home.as_member("Kim"), write(tmp_path, "export.csv", FEEDING_CSV))


# --- the real samples --------------------------------------------------------------------

needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(),
    reason=f"the Baby Buddy samples are not at {SAMPLES} (a checkout beside ../shared)",
)


def _sample_rows(name: str) -> list[dict[str, str]]:
    with (SAMPLES / name).open(encoding="utf-8", newline="") as opened:
        return list(csv.DictReader(opened))


@needs_samples
def test_the_real_feeding_samples(home: Book) -> None:
    rows = _sample_rows("feeding.csv")
    at_breast = [row for row in rows if row["method"].endswith(("breast", "breasts"))]
    solid = [row for row in rows if row["type"] == "solid food"]

    from_csv = import_babybuddy(home, SAMPLES / "feeding.csv", options=Options(zone="UTC"))

    assert from_csv.added == {"nurse": len(at_breast)}
    assert [line.split(":")[0] for line in from_csv.skipped] == [
        f"feeding {r['id']}" for r in solid
    ]
    entries = by_note(home)
    feed = entries["feeding 6627"].record
    assert isinstance(feed, NurseFeed)
    assert feed.start_at == datetime(2026, 11, 24, 14, 25, tzinfo=UTC)
    assert {side: s.duration_s for side, s in feed.sides.items()} == {"left": 420.0}

    from_api = import_babybuddy(home, SAMPLES / "api-feedings.json")

    assert from_api.added == {}
    api_rows = json.loads((SAMPLES / "api-feedings.json").read_text("utf-8"))["results"]
    already = [line for line in from_api.skipped if line.endswith("imported already")]
    assert len(already) == sum(row["type"] == "breast milk" for row in api_rows)


@needs_samples
def test_the_real_pumping_samples_read_the_same_from_csv_and_json(tmp_path: Path) -> None:
    with fast_journal(tmp_path / "utc.sqlite") as journal:
        from_csv = _household(journal, "Csv", "UTC")
        from_api = _household(journal, "Api", "UTC")

        csv_report = import_babybuddy(from_csv, SAMPLES / "pumping.csv")
        api_report = import_babybuddy(from_api, SAMPLES / "api-pumping.json")

        rows = _sample_rows("pumping.csv")
        assert csv_report.added == {"pump": len(rows)}
        assert csv_report.skipped == []
        sessions = [entry.record for entry in from_csv.history()]
        assert all(isinstance(session, PumpSession) for session in sessions)
        total_ml = sum(s.volume_ml() for s in sessions if isinstance(s, PumpSession))
        assert total_ml == pytest.approx(sum(float(row["amount"]) for row in rows))
        csv_sessions = {label: entry.record for label, entry in by_note(from_csv).items()}
        api_sessions = {label: entry.record for label, entry in by_note(from_api).items()}
        assert len(api_sessions) == api_report.added["pump"] == 15

        def unnoted(record: object) -> object:
            assert isinstance(record, PumpSession)
            return record.model_copy(update={"notes": ""})

        assert {label: unnoted(csv_sessions[label]) for label in api_sessions} == {
            label: unnoted(record) for label, record in api_sessions.items()
        }
        assert any("15 of 1813" in line for line in api_report.lines())

        again = import_babybuddy(from_csv, SAMPLES / "api-pumping.json")
        assert again.added == {}
        assert len(again.skipped) == 15


# --- daylight saving, children, installs ---------------------------------------------------

NEW_YORK_CSV = """\
id,child_id,child_first_name,child_last_name,start,end,type,method,amount,notes,tags
1,1,Robin,Anchor,2026-03-08 01:50:00,2026-03-08 03:10:00,breast milk,left breast,,,
2,1,Robin,Anchor,2026-11-01 01:50:00,2026-11-01 01:05:00,breast milk,right breast,,,
3,1,Robin,Anchor,2026-11-01 01:20:00,2026-11-01 01:40:00,breast milk,left breast,,,
4,1,Robin,Anchor,2026-03-08 02:30:00,2026-03-08 03:40:00,breast milk,left breast,,,
5,1,Robin,Anchor,2026-07-01 08:00:00,2026-07-01 08:30:00,formula,bottle,120,,"1,2"
"""


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_an_admin_export_across_both_daylight_saving_changes_keeps_true_times(
    tmp_path: Path,
) -> None:
    with fast_journal(tmp_path / "ny.sqlite") as journal:
        book = _household(journal, "Anchors", "America/New_York")
        report = import_babybuddy(book, write(tmp_path, "feeding.csv", NEW_YORK_CSV))
        entries = {label: entry.record for label, entry in by_note(book).items()}

    assert report.added == {"nurse": 4, "bottle": 1}
    assert report.skipped == []
    spring = entries["feeding 1"]
    assert (spring.start_at, spring.end_time()) == (
        _utc("2026-03-08 06:50"),
        _utc("2026-03-08 07:10"),
    )  # 20 minutes, not 80: the clocks jumped from 02:00 to 03:00
    autumn = entries["feeding 2"]
    assert (autumn.start_at, autumn.end_time()) == (
        _utc("2026-11-01 05:50"),
        _utc("2026-11-01 06:05"),
    )  # 01:50 EDT to the second 01:05 (EST): 15 minutes
    repeated = entries["feeding 3"]
    assert repeated.start_at == _utc("2026-11-01 05:20")
    summer = entries["feeding 5"]
    assert summer.start_at == _utc("2026-07-01 12:00")
    assert "tags: Baby Buddy tag 1, Baby Buddy tag 2" in summer.notes
    lines = report.lines()
    assert any(
        "feeding 3: start 2026-11-01 01:20 happened twice in America/New_York" in line
        and "taken as the first, 01:20 EDT" in line
        for line in lines
    )
    assert any("feeding 2: end 2026-11-01 01:05" in line and "the second" in line for line in lines)
    assert any(
        "feeding 4: start 2026-03-08 02:30 did not exist in America/New_York" in line
        for line in lines
    )
    assert any("give --zone" in line or "with --zone" in line for line in lines)
    assert any("--tags" in line for line in lines)


def test_the_zone_given_wins_over_the_households(tmp_path: Path) -> None:
    with fast_journal(tmp_path / "z.sqlite") as journal:
        book = _household(journal, "Anchors", "Europe/Paris")
        import_babybuddy(
            book,
            write(tmp_path, "feeding.csv", NEW_YORK_CSV),
            options=Options(zone="America/New_York"),
        )
        assert by_note(book)["feeding 5"].record.start_at == _utc("2026-07-01 12:00")
        with pytest.raises(InvalidEntryError, match="--zone: unknown time zone 'Mars/Base'"):
            import_babybuddy(
                book, write(tmp_path, "f.csv", NEW_YORK_CSV), options=Options(zone="Mars/Base")
            )


TWO_CHILDREN_PAGE = {
    "count": 2,
    "next": None,
    "previous": "http://bb.home:8000/api/feedings/?limit=2",
    "results": [
        {"id": 1, "child": 1, "start": "2026-03-02T10:00:00Z", "end": "2026-03-02T10:20:00Z",
         "duration": "00:20:00", "type": "breast milk", "method": "left breast",
         "amount": None, "notes": None, "tags": []},
        {"id": 2, "child": 2, "start": "2026-03-02T11:00:00Z", "end": "2026-03-02T11:10:00Z",
         "duration": "00:10:00", "type": "breast milk", "method": "right breast",
         "amount": None, "notes": None, "tags": ["night"]},
    ],
}  # fmt: skip


def test_two_baby_buddy_children_are_never_merged_into_one(home: Book, tmp_path: Path) -> None:
    path = write(tmp_path, "feedings.json", TWO_CHILDREN_PAGE)

    with pytest.raises(InvalidEntryError, match=r"--child 1=NAME --child 2=NAME"):
        import_babybuddy(home, path)
    with pytest.raises(InvalidEntryError, match="would all become Robin"):
        import_babybuddy(home, path, options=Options(children={"1": "Robin", "2": "Robin"}))
    with pytest.raises(NotFoundError, match=r"no child named 'Sam'.*--create-children"):
        import_babybuddy(home, path, options=Options(children={"1": "Robin", "2": "Sam"}))
    assert home.history() == []

    report = import_babybuddy(
        home, path, options=Options(children={"1": "Robin", "2": "Sam"}, create_children=True)
    )

    assert report.added == {"nurse": 2}
    assert [child.name for child in home.children()] == ["Robin", "Sam"]
    entries = by_note(home)
    assert [entries["feeding 1"].record.child, entries["feeding 2"].record.child] == [  # type: ignore[union-attr]
        "Robin",
        "Sam",
    ]
    assert "Note: added child Sam to Home" in report.lines()


def test_children_named_in_an_admin_export_can_be_created(home: Book, tmp_path: Path) -> None:
    report = import_babybuddy(
        home, write(tmp_path, "f.csv", FEEDING_CSV), options=Options(create_children=True)
    )
    assert by_note(home)["feeding 12"].record.child == "Jordan Anchor"  # type: ignore[union-attr]
    assert not any("feeding 12" in line for line in report.skipped)


PUMPING_CSV = """\
id,child_id,child_first_name,child_last_name,start,end,amount,notes,tags
1,1,Robin,Anchor,2026-01-07 20:56:00,2026-01-07 21:17:00,26.0,,
2,1,Robin,Anchor,2026-01-08 08:08:00,2026-01-08 08:24:00,30.0,,
"""


def test_two_installs_with_the_same_ids_lose_nothing(tmp_path: Path) -> None:
    other = PUMPING_CSV.replace("26.0", "41.0").replace("2026-01-0", "2026-02-0")
    with fast_journal(tmp_path / "two.sqlite") as journal:
        book = journal.create_household(
            HouseholdInfo(name="Before", time_zone="UTC"),
            MemberInfo(name="Alex", role=Role.NURSING_PARENT),
        )  # no child: pumping belongs to none
        first = import_babybuddy(book, write(tmp_path, "a.csv", PUMPING_CSV))
        second = import_babybuddy(book, write(tmp_path, "b.csv", other))
        assert (first.added, second.added) == ({"pump": 2}, {"pump": 2})
        assert any("share their Baby Buddy id" in line for line in second.lines())
        total_ml = sum(entry.record.volume_ml() for entry in book.history())  # type: ignore[union-attr]
        assert total_ml == 26 + 30 + 41 + 30

        # Renaming the household changes nothing: the same file again adds nothing.
        with journal.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE households SET name = 'After'")
        renamed = journal.book("After")
        again = import_babybuddy(renamed, write(tmp_path, "a.csv", PUMPING_CSV))
        assert again.added == {}
        assert "it looks like a file imported before" in again.lines()[1]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("<!DOCTYPE html><html><table><tr><td>1</td></tr></table>", "HTML export"),
        ("- id: 1\n  start: 2026-01-01 10:00:00\n", "YAML export"),
    ],
)
def test_yaml_and_html_exports_are_named_with_what_is_supported(
    home: Book, tmp_path: Path, content: str, says: str
) -> None:
    with pytest.raises(InvalidEntryError, match=f"{says}.*CSV, TSV or JSON"):
        import_babybuddy(home, write(tmp_path, "export.txt", content))


def test_admin_tag_ids_become_names_with_the_tag_export(home: Book, tmp_path: Path) -> None:
    from letdown.journal.babybuddy import read_tags

    tags = read_tags(write(tmp_path, "tags.csv", "id,name,slug\n1,night,night\n2,sleepy,sleepy\n"))
    import_babybuddy(
        home, write(tmp_path, "f.csv", NEW_YORK_CSV), options=Options(tags=tags, zone="UTC")
    )
    assert "tags: night, sleepy" in by_note(home)["feeding 5"].record.notes


@needs_samples
def test_the_same_rows_read_in_another_zone_are_not_imported_twice(tmp_path: Path) -> None:
    """The admin CSV read in the wrong zone, then the API's page of the same rows."""
    with fast_journal(tmp_path / "zones.sqlite") as journal:
        book = _household(journal, "Anchors", "America/New_York")
        import_babybuddy(book, SAMPLES / "pumping.csv")  # the server ran in UTC, in fact
        before = len(book.history())
        report = import_babybuddy(book, SAMPLES / "api-pumping.json")
        assert report.added == {}
        assert len(book.history()) == before
        assert all("the same row read in another zone" in line for line in report.skipped)
        assert "5 h later" in report.skipped[0] and "--zone" in report.skipped[0]
