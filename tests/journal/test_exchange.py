"""A household's journal out to one file and back in: whole, exact, and all or nothing."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from letdown.errors import InvalidEntryError, NotFoundError
from letdown.journal import (
    Book,
    BottleContent,
    BottleFeed,
    Care,
    CareKind,
    ChildInfo,
    HouseholdInfo,
    Journal,
    Location,
    MemberInfo,
    MilkKind,
    NotAllowedError,
    NurseFeed,
    NurseSide,
    PregnancyInfo,
    PumpSession,
    PumpSide,
    Role,
    Symptom,
    SymptomSide,
    db,
    parse_record,
)
from letdown.journal.exchange import (
    COLUMNS,
    RECORD_COLUMNS,
    EntryRow,
    ImportReport,
    RevisionRow,
    import_file,
    write_export,
)
from letdown.journal.records import MAX_SESSION_S, PhaseSpan

Fmt = Literal["json", "csv"]
FORMATS: tuple[Fmt, ...] = ("json", "csv")
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
TRICKY_NOTES = 'left sore, "cracked"\nsecond line\rthird'


def fill(book: Book) -> dict[str, str]:
    """Every kind of record, edits, a deletion and a stash with a whole history; their uids."""
    sam = book.as_member("Sam")
    book.add_member(MemberInfo(name="Kim", role=Role.VIEWER))
    book.add_child(ChildInfo(name="Noé", birth_date=date(2026, 2, 20)))
    book.add_pregnancy(PregnancyInfo(due_date=date(2027, 5, 1), notes='second, "surprise"'))
    pump = book.add(
        PumpSession(
            start_at=T0,
            end_at=T0 + timedelta(minutes=20),
            sides={
                "left": PumpSide(volume_ml=62.5, comfort_mmhg=180.0, pain=2),
                "right": PumpSide(volume_ml=48.0),
            },
            program="gentle",
            milk=MilkKind.MATURE,
            phases=(
                PhaseSpan(name="stimulation", start_s=0.0, end_s=120.0),
                PhaseSpan(name="expression", start_s=120.0, end_s=1200.0),
            ),
            ejections_s=(95.5, 610.25),
            presses=3,
            ended_by="quiet",
            faults=("seal lost at 300 s",),
            notes="=1+2 is not a formula",
        )
    )
    nurse = sam.add(
        NurseFeed(
            start_at=T0 + timedelta(hours=2),
            end_at=T0 + timedelta(hours=2, minutes=25),
            child="Robin",
            sides={
                "left": NurseSide(duration_s=600.0, latch=8, pain=3),
                "right": NurseSide(duration_s=720.0),
            },
        )
    )
    book.edit(nurse.uid, {"notes": TRICKY_NOTES})
    formula = sam.add(
        BottleFeed(
            start_at=T0 + timedelta(hours=4),
            child="Noé",
            amount_ml=90.0,
            content=BottleContent.FORMULA,
            leftover_ml=15.0,
            notes="-10 mL spilled",
        )
    )
    care = book.add(Care(start_at=T0 + timedelta(hours=5), care=CareKind.SALVE, side="left"))
    book.edit(care.uid, {"notes": "@night\rlate"})
    symptom = book.add(
        Symptom(
            start_at=T0 + timedelta(hours=6),
            sides={"left": SymptomSide(pain=4, cracked=True, redness=True)},
            fever_c=38.2,
        )
    )
    fever = book.add(Symptom(start_at=T0 + timedelta(hours=7), fever_c=37.9, notes="'warm"))
    gone = book.add(
        NurseFeed(
            start_at=T0 + timedelta(hours=8),
            end_at=T0 + timedelta(hours=8, minutes=10),
            child="Robin",
            sides={"right": NurseSide(duration_s=540.0)},
        )
    )
    book.delete(gone.uid)
    frozen = book.stash_add(
        110.0,
        expressed_at=T0 + timedelta(minutes=20),
        location=Location.FREEZER,
        stored_at=T0 + timedelta(minutes=30),
        sources=[pump.uid],
        notes="first freeze",
    )
    book.stash_move(frozen.code, Location.FRIDGE, at=T0 + timedelta(days=10))
    bottle = sam.stash_use(
        frozen.code, child="Robin", at=T0 + timedelta(days=10, hours=3), volume_ml=60.0
    )
    sam.edit(bottle.uid, {"amount_ml": 70.0, "bags": [{"bag": frozen.code, "volume_ml": 70.0}]})
    sour = book.stash_add(80.0, expressed_at=T0 + timedelta(days=1), location=Location.FRIDGE)
    book.stash_discard(sour.code, "smelled sour", at=T0 + timedelta(days=2))
    return {
        "pump": pump.uid,
        "nurse": nurse.uid,
        "formula": formula.uid,
        "care": care.uid,
        "symptom": symptom.uid,
        "fever": fever.uid,
        "deleted": gone.uid,
        "bottle": bottle.uid,
        "frozen": frozen.code,
        "sour": sour.code,
    }


def new_household(journal: Journal, name: str = "Home") -> Book:
    book = journal.create_household(
        HouseholdInfo(name=name, time_zone="Europe/Paris"),
        MemberInfo(name="Alex", role=Role.NURSING_PARENT),
    )
    book.add_member(MemberInfo(name="Sam", role=Role.PARTNER))
    book.add_child(ChildInfo(name="Robin"))
    return book


def export(book: Book, fmt: Fmt, path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        write_export(book, fmt, out)
    return path


def text_of(path: Path) -> str:
    """A file's text exactly: no newline translation, which would turn a lone CR into LF."""
    return path.read_bytes().decode("utf-8")


def without_exported_at(text: str, fmt: Fmt) -> Any:
    """The document as a comparable value, its one changing field left out."""
    if fmt == "json":
        document = json.loads(text)
        assert document.pop("exported_at")
        return document
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    column = rows[0].index("exported_at")
    assert rows[1][0] == "household"
    assert rows[1][column]
    rows[1][column] = ""
    return rows


def fast_journal(path: Path) -> Journal:
    """A SQLite journal that skips fsync: these tests never lose power, and run faster."""
    engine = db.make_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA synchronous = OFF"))
    return Journal(engine)


class Source:
    """A household filled by ``fill`` in a journal of its own, to export from."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.journal = fast_journal(folder / "source.sqlite")
        self.book = new_household(self.journal)
        self.uids = fill(self.book)
        self.exports = itertools.count(1)

    def export(self, fmt: Fmt) -> Path:
        return export(self.book, fmt, self.folder / f"export-{next(self.exports)}.{fmt}")


@dataclass(frozen=True)
class Exported:
    """The filled household's export, made once for the module: copy a file to change it."""

    folder: Path
    uids: dict[str, str]
    files: dict[Fmt, Path]

    def copy(self, fmt: Fmt, to: Path) -> Path:
        copied = to / f"copy.{fmt}"
        copied.write_bytes(self.files[fmt].read_bytes())
        return copied


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    folder = tmp_path_factory.mktemp("exported")
    made = Source(folder)
    yield Exported(folder, made.uids, {fmt: made.export(fmt) for fmt in FORMATS})
    made.journal.close()


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Source]:
    made = Source(tmp_path)
    yield made
    made.journal.close()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journal]:
    """One journal for the imports that must fail: each must leave it empty."""
    with fast_journal(tmp_path_factory.mktemp("scratch") / "scratch.sqlite") as opened:
        yield opened


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Journal]:
    """A new journal to import into, when the test is not about the database."""
    with fast_journal(tmp_path / "target.sqlite") as opened:
        yield opened


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_import_export_gives_the_same_file_and_a_second_import_adds_nothing(
    exported: Exported, journal: Journal, tmp_path: Path, fmt: Fmt
) -> None:
    first = exported.files[fmt]
    report = import_file(journal, fmt, first)
    again = export(journal.book("Home"), fmt, tmp_path / f"again.{fmt}")

    first_text = text_of(first)
    again_text = text_of(again)
    assert without_exported_at(again_text, fmt) == without_exported_at(first_text, fmt)
    assert report.added == {
        "household": 1,
        "member": 3,
        "child": 2,
        "pregnancy": 1,
        "pump": 1,
        "nurse": 2,
        "bottle": 2,
        "care": 1,
        "symptom": 2,
        "revision": 12,
        "bag": 2,
        "bag_event": 5,
        "bag_source": 1,
    }
    assert report.skipped == []
    before = journal.book("Home").history()

    twice = import_file(journal, fmt, first)

    assert twice.added == {}
    assert journal.book("Home").history() == before
    assert twice.lines()[0] == "Nothing added."
    entry_lines = [line for line in twice.skipped if line.startswith("entry ")]
    assert len(entry_lines) == 8
    pump_line = f"entry {exported.uids['pump']} (pump, 2026-03-02 07:00): already in Home"
    assert pump_line in entry_lines
    assert sum(line.startswith("bag ") for line in twice.skipped) == 2
    assert "pregnancy due 2027-05-01: already in Home" in twice.skipped


def test_the_imported_journal_shows_what_the_household_wrote(book: Book, tmp_path: Path) -> None:
    uids = fill(book)
    for fmt in FORMATS:
        written = export(book, fmt, tmp_path / f"home.{fmt}")
        with fast_journal(tmp_path / f"copy-{fmt}.sqlite") as copy:
            import_file(copy, fmt, written)
            copied = copy.book("Home")

            assert copied.household.time_zone == "Europe/Paris"
            assert [(m.name, m.role) for m in copied.members()] == [
                (m.name, m.role) for m in book.members()
            ]
            assert copied.children() == book.children()
            assert copied.pregnancies() == book.pregnancies()
            assert _entries(copied) == _entries(book)
            assert uids["deleted"] not in {entry.uid for entry in copied.history()}
            for uid in (uids["nurse"], uids["deleted"], uids["bottle"], uids["care"]):
                assert copied.revisions(uid) == book.revisions(uid)
            deleted = copied.revisions(uids["deleted"])
            assert [r.action for r in deleted] == ["created", "deleted"]
            assert copied.stash(include_closed=True) == book.stash(include_closed=True)
            thawed = copied.bag(uids["frozen"])
            assert [stay.location for stay in thawed.stays] == [Location.FREEZER, Location.FRIDGE]
            assert thawed.remaining_ml == pytest.approx(40.0)
            assert thawed.sources == (uids["pump"],)
            assert copied.bag(uids["sour"]).status == "discarded"
            assert copied.get(uids["nurse"]).record.notes == TRICKY_NOTES


def _entries(book: Book) -> list[tuple[Any, ...]]:
    return [
        (e.uid, e.record, e.version, e.entered_by, e.entered_at, e.updated_by, e.updated_at)
        for e in book.history()
    ]


def test_a_later_export_adds_only_what_is_new(source: Source, journal: Journal) -> None:
    import_file(journal, "json", source.export("json"))
    source.book.add_member(MemberInfo(name="Dee", role=Role.CAREGIVER))
    source.book.add_child(ChildInfo(name="Jo"))
    later = source.book.as_member("Dee").add(
        BottleFeed(start_at=T0 + timedelta(days=20), child="Jo", amount_ml=120.0)
    )

    report = import_file(journal, "json", source.export("json"))

    assert report.added == {"member": 1, "child": 1, "bottle": 1, "revision": 1}
    home = journal.book("Home")
    assert home.get(later.uid).entered_by == "Dee"
    assert [child.name for child in home.children()] == ["Robin", "Noé", "Jo"]
    nurse_line = f"entry {source.uids['nurse']} (nurse, 2026-03-02 09:00): already in Home"
    assert nurse_line in report.skipped
    assert report.lines()[0] == "Added 1 member, 1 child, 1 bottle, 1 revision."


def test_the_household_keeps_its_settings_and_members_their_roles(
    exported: Exported, journal: Journal
) -> None:
    home = journal.create_household(
        HouseholdInfo(name="Home", time_zone="America/Chicago"),
        MemberInfo(name="Sam", role=Role.NURSING_PARENT),
    )

    report = import_file(journal, "csv", exported.files["csv"], member="Sam")

    assert journal.book("Home").household.time_zone == "America/Chicago"
    assert [(m.name, m.role) for m in home.members()] == [
        ("Sam", Role.NURSING_PARENT),
        ("Alex", Role.NURSING_PARENT),
        ("Kim", Role.VIEWER),
    ]
    assert (
        "household setting time_zone: Home keeps America/Chicago (the file says Europe/Paris)"
        in report.skipped
    )
    assert "member Sam: stays nursing-parent (the file says partner)" in report.skipped
    assert report.added["member"] == 2
    assert len(home.history()) == 7


def test_import_under_another_name(exported: Exported, target: Journal) -> None:
    report = import_file(target, "csv", exported.files["csv"], household="Grandparents")

    assert target.household_names() == ["Grandparents"]
    assert report.added["household"] == 1
    assert len(target.book("Grandparents").history()) == 7


def test_a_viewer_cannot_import(exported: Exported, scratch: Journal) -> None:
    with pytest.raises(NotAllowedError, match="Kim is a viewer"):
        import_file(scratch, "json", exported.files["json"], member="Kim")
    with pytest.raises(NotFoundError, match="no member named 'Lou'"):
        import_file(scratch, "json", exported.files["json"], member="Lou")
    assert scratch.household_names() == []


def test_a_uid_belongs_to_one_household(exported: Exported, target: Journal) -> None:
    import_file(target, "json", exported.files["json"])

    with pytest.raises(InvalidEntryError, match=r"is in household 'Home' of this journal already"):
        import_file(target, "json", exported.files["json"], household="Copy")
    assert target.household_names() == ["Home"]


def test_a_bag_code_cannot_label_two_bags(exported: Exported, target: Journal) -> None:
    home = new_household(target)
    home.stash_add(50.0, expressed_at=T0, code=exported.uids["frozen"])

    with pytest.raises(InvalidEntryError, match=f"code: {exported.uids['frozen']} labels another"):
        import_file(target, "csv", exported.files["csv"])
    assert home.history() == []


# --- what a file says, and bad files -----------------------------------------------------


def test_the_csv_reads_as_a_person_would(exported: Exported) -> None:
    text = text_of(exported.files["csv"])
    assert text.startswith("\ufefftype,"), "a byte-order mark tells spreadsheets it is UTF-8"
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))

    assert next(iter(rows[0])) == "type"
    assert [row["type"] for row in rows][:3] == ["household", "member", "member"]
    pump = next(row for row in rows if row["type"] == "entry" and row["kind"] == "pump")
    assert pump["sides.left.volume_ml"] == "62.5"
    assert pump["sides.right.volume_ml"] == "48.0"
    assert pump["start_at"] == "2026-03-02T06:00:00+00:00"
    assert json.loads(pump["phases"])[1] == {
        "name": "expression",
        "start_s": 120.0,
        "end_s": 1200.0,
    }
    assert pump["notes"] == "'=1+2 is not a formula"
    assert pump["entered_by"] == "Alex"
    nurse = next(row for row in rows if row.get("uid") == exported.uids["nurse"])
    assert (nurse["version"], nurse["notes"], nurse["updated_by"]) == ("2", TRICKY_NOTES, "Alex")
    deleted = next(row for row in rows if row.get("uid") == exported.uids["deleted"])
    assert deleted["deleted_at"].endswith("+00:00")
    used = next(row for row in rows if row["type"] == "bag_event" and row["action"] == "used")
    assert (used["entry"], used["volume_ml"], used["member"]) == (
        exported.uids["bottle"],
        "70.0",
        "Sam",
    )
    assert {row["type"] for row in rows} == {
        "household",
        "member",
        "child",
        "pregnancy",
        "entry",
        "revision",
        "bag",
        "bag_event",
        "bag_source",
    }


def test_the_json_is_one_document(exported: Exported) -> None:
    document = json.loads(text_of(exported.files["json"]))

    assert (document["format"], document["format_version"]) == ("letdown-journal", 1)
    assert datetime.fromisoformat(document["exported_at"]).utcoffset() == timedelta(0)
    assert document["household"]["name"] == "Home"
    deleted = [entry for entry in document["entries"] if entry["deleted_at"]]
    assert [entry["uid"] for entry in deleted] == [exported.uids["deleted"]]
    thawed = next(bag for bag in document["bags"] if bag["code"] == exported.uids["frozen"])
    history = [e for e in document["bag_events"] if e["bag"] == thawed["uid"]]
    assert [(e["action"], e["location"]) for e in history] == [
        ("stored", "freezer"),
        ("moved", "fridge"),
        ("used", None),
    ]


def test_record_columns_do_not_clash_with_bookkeeping() -> None:
    bookkeeping = set(EntryRow.model_fields) | set(RevisionRow.model_fields)
    assert bookkeeping.isdisjoint(RECORD_COLUMNS)
    assert {"sides.left.volume_ml", "sides.right.duration_s", "bags"} <= set(COLUMNS)
    assert len(set(COLUMNS)) == len(COLUMNS)


def _csv_rows(path: Path) -> list[list[str]]:
    text = text_of(path).removeprefix("\ufeff")
    return list(csv.reader(io.StringIO(text, newline="")))


def _write_rows(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out, lineterminator="\r\n").writerows(rows)
    return path


def test_a_bad_csv_row_imports_nothing_and_says_where(
    exported: Exported, scratch: Journal, tmp_path: Path
) -> None:
    rows = _csv_rows(exported.files["csv"])
    header = rows[0]
    number, row = next(
        (number, row)
        for number, row in enumerate(rows, start=1)
        if row[0] == "entry" and row[header.index("kind")] == "pump"
    )
    row[header.index("sides.left.volume_ml")] = "-5"
    broken = _write_rows(tmp_path / "broken.csv", rows)

    with pytest.raises(InvalidEntryError) as caught:
        import_file(scratch, "csv", broken)

    message = str(caught.value)
    assert message.startswith(f"row {number} (entry {exported.uids['pump']}): ")
    assert "left amount: must be at least 0 mL" in message
    assert scratch.household_names() == []


def test_a_bad_json_entry_imports_nothing_and_says_where(
    exported: Exported, scratch: Journal, tmp_path: Path
) -> None:
    document = json.loads(text_of(exported.files["json"]))
    uid = exported.uids["formula"]
    index = next(i for i, entry in enumerate(document["entries"]) if entry["uid"] == uid)
    document["entries"][index]["record"]["amount_ml"] = 0
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(InvalidEntryError) as caught:
        import_file(scratch, "json", broken)

    assert str(caught.value).startswith(
        f"entries[{index}] (entry {uid}): amount: must be more than 0 mL"
    )
    assert scratch.household_names() == []


def _json_change(change: str) -> Any:
    def edit(document: dict[str, Any]) -> None:
        if change == "format":
            document["format"] = "another-app"
        elif change == "version":
            document["format_version"] = 2
        elif change == "unknown key":
            document["moods"] = []
        elif change == "lost revision":
            del document["revisions"][-1]
        elif change == "unknown child":
            document["children"] = document["children"][:1]
        elif change == "unknown member":
            document["bag_events"][0]["member"] = "Lou"

    return edit


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("format", "format is 'another-app', not 'letdown-journal'"),
        ("version", "format_version 2 is not one this letdown reads (1)"),
        ("unknown key", "unknown key(s) 'moods'"),
        ("lost revision", "needs revisions 1 to 2, the file has [1]: the file is incomplete"),
        ("unknown child", "child: 'Noé' is not in the file"),
        ("unknown member", "bag_events[0] (bag event): member: 'Lou' is not in the file"),
    ],
)
def test_a_json_file_that_is_not_a_whole_export_is_refused(
    exported: Exported, scratch: Journal, tmp_path: Path, change: str, says: str
) -> None:
    document = json.loads(text_of(exported.files["json"]))
    _json_change(change)(document)
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(InvalidEntryError, match=re.escape(says)):
        import_file(scratch, "json", changed)
    assert scratch.household_names() == []


def _damage(kind: str, path: Path) -> Path:
    text = text_of(path)
    damaged = path.with_name(f"damaged-{path.name}")
    if kind == "half":
        damaged.write_text(text[: len(text) // 2], encoding="utf-8")
    elif kind == "inside a quoted cell":
        cut = text.index('""cracked""\n') + len('""cracked""\n')
        damaged.write_text(text[:cut], encoding="utf-8")
    elif kind == "latin-1":
        damaged.write_bytes(text.removeprefix("\ufeff").encode("latin-1", errors="replace"))
    elif kind == "unknown column":
        rows = _csv_rows(path)
        _write_rows(
            damaged, [[*row, "mood" if number == 0 else ""] for number, row in enumerate(rows)]
        )
    elif kind == "version 2":
        rows = _csv_rows(path)
        rows[1][rows[0].index("format_version")] = "2"
        _write_rows(damaged, rows)
    elif kind == "stray cell":
        rows = _csv_rows(path)
        rows[2][rows[0].index("code")] = "XYZ"
        _write_rows(damaged, rows)
    elif kind == "short row":
        rows = _csv_rows(path)
        rows[3] = rows[3][:5]
        _write_rows(damaged, rows)
    return damaged


@pytest.mark.parametrize(
    ("fmt", "kind", "says"),
    [
        ("json", "half", "not complete JSON"),
        ("csv", "half", "ends in the middle of a row: it is cut short"),
        ("csv", "inside a quoted cell", "damaged or cut short"),
        ("csv", "short row", "row 4 has 5 cells where the header has"),
        ("json", "latin-1", "is not UTF-8 text (byte 0xe9"),
        ("csv", "latin-1", "is not UTF-8 text (byte 0xe9"),
        ("csv", "unknown column", "unknown column(s) 'mood'"),
        ("csv", "version 2", "row 2 (household): format_version '2' is not one"),
        ("csv", "stray cell", "row 3 (member): column(s) code are not used by a member row"),
    ],
)
def test_a_damaged_file_is_refused_with_a_reason(
    exported: Exported, scratch: Journal, tmp_path: Path, fmt: Fmt, kind: str, says: str
) -> None:
    damaged = _damage(kind, exported.copy(fmt, tmp_path))

    with pytest.raises(InvalidEntryError, match=re.escape(says)):
        import_file(scratch, fmt, damaged)
    assert scratch.household_names() == []


def test_a_file_in_the_other_format_is_named_so(exported: Exported, scratch: Journal) -> None:
    with pytest.raises(InvalidEntryError, match="this is a CSV export, not JSON: import it as csv"):
        import_file(scratch, "json", exported.files["csv"])
    with pytest.raises(InvalidEntryError, match="this is a JSON file, not CSV: import it as json"):
        import_file(scratch, "csv", exported.files["json"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_baby_buddy_file_is_pointed_to_its_importer(
    tmp_path: Path, scratch: Journal, fmt: Fmt
) -> None:
    path = tmp_path / f"feeding.{fmt}"
    if fmt == "json":
        path.write_text('{"count": 0, "next": null, "previous": null, "results": []}')
    else:
        path.write_text("id,child_id,child_first_name,child_last_name,start,end,amount\n")

    with pytest.raises(InvalidEntryError, match="letdown import babybuddy"):
        import_file(scratch, fmt, path)


def test_the_report_reads_as_sentences() -> None:
    report = ImportReport()
    report.add("pump", 2)
    report.add("child")
    report.add("household")
    report.skipped.append("entry 1: already in Home")
    report.notes.append("times read in Europe/Paris")

    assert report.lines() == [
        "Added 1 household, 1 child, 2 pump sessions.",
        "Note: times read in Europe/Paris",
        "Not imported (1):",
        "  entry 1: already in Home",
    ]


# --- any records, any text ---------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
WORDS = st.sampled_from(
    ["", "a\rb", "a, b", 'say "hi"', "=SUM(A1)", "-1", "'", "line\r\nnext", "é ☕"]
)
"""Text a CSV file or a spreadsheet could get wrong."""
NOTES = st.one_of(TEXT, WORDS)
WHEN = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
PAIN = st.none() | st.integers(0, 10)
FRACTION = st.floats(0, 1)
VOLUME = st.floats(0, 2000)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """Plain data for any valid record (the few invalid draws are rejected by the test)."""
    kind = draw(st.sampled_from(["nurse", "pump", "bottle", "care", "symptom"]))
    start = draw(WHEN)
    length_s = draw(st.floats(0, MAX_SESSION_S))
    end = start + timedelta(seconds=length_s)
    sides = st.lists(st.sampled_from(["left", "right"]), min_size=1, max_size=2, unique=True)
    data: dict[str, Any] = {"kind": kind, "start_at": start, "notes": draw(NOTES)}
    if kind == "nurse":
        data |= {"end_at": end, "child": "Robin"}
        data["sides"] = {
            side: {
                "duration_s": draw(FRACTION) * length_s,
                "latch": draw(PAIN),
                "pain": draw(PAIN),
            }
            for side in draw(sides)
        }
    elif kind == "pump":
        data |= {"end_at": end, "device": draw(st.sampled_from(["letdown", "Spectra, S1"]))}
        data["sides"] = {
            side: {
                "volume_ml": draw(VOLUME),
                "comfort_mmhg": draw(st.none() | st.floats(0, 400)),
                "pain": draw(PAIN),
            }
            for side in draw(sides)
        }
        data["program"] = draw(st.none() | TEXT)
        data["milk"] = draw(st.none() | st.sampled_from(list(MilkKind)))
        phase_s = sorted(draw(st.lists(st.floats(0, length_s), min_size=2, max_size=4)))
        data["phases"] = [
            {
                "name": draw(st.sampled_from(["stimulation", "expression, 2"])),
                "start_s": a,
                "end_s": b,
            }
            for a, b in itertools.pairwise(phase_s)
        ]
        data["ejections_s"] = draw(st.lists(st.floats(0, length_s), max_size=3))
        data["presses"] = draw(st.integers(0, 50))
        data["ended_by"] = draw(st.none() | TEXT)
        data["faults"] = draw(st.lists(TEXT, max_size=2))
    elif kind == "bottle":
        amount = draw(st.floats(0.5, 2000))
        data |= {"child": "Robin", "amount_ml": amount, "leftover_ml": draw(FRACTION) * amount}
        data["content"] = draw(st.sampled_from(["expressed", "donor", "formula"]))
    elif kind == "care":
        data["care"] = draw(st.sampled_from(list(CareKind)))
        data["side"] = draw(st.none() | st.sampled_from(["left", "right"]))
    else:
        flags = ("cracked", "bleeding", "engorged", "lump", "redness")
        data["sides"] = {
            side: {"pain": draw(PAIN), **{flag: draw(st.booleans()) for flag in flags}}
            for side in draw(st.lists(st.sampled_from(["left", "right"]), max_size=2, unique=True))
        }
        data["fever_c"] = draw(st.floats(34, 43)) if not data["sides"] else draw(st.none())
    return data


def test_any_records_come_back_exactly(tmp_path: Path) -> None:
    households = itertools.count(1)
    with (
        fast_journal(tmp_path / "source.sqlite") as source,
        fast_journal(tmp_path / "json.sqlite") as via_json,
        fast_journal(tmp_path / "csv.sqlite") as via_csv,
    ):

        @settings(
            max_examples=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        @given(
            drawn=st.lists(records(), min_size=1, max_size=3),
            edit_notes=st.none() | NOTES,
            delete_last=st.booleans(),
        )
        def round_trip(
            drawn: list[dict[str, Any]], edit_notes: str | None, delete_last: bool
        ) -> None:
            try:
                parsed = [parse_record(data) for data in drawn]
            except InvalidEntryError:
                assume(False)
                return
            name = f"Home {next(households)}"
            book = new_household(source, name)
            stored = [book.add(record) for record in parsed]
            if edit_notes is not None:
                book.edit(stored[0].uid, {"notes": edit_notes})
            if delete_last:
                book.delete(stored[-1].uid)
            for fmt, target in (("json", via_json), ("csv", via_csv)):
                first = text_of(export(book, fmt, tmp_path / f"first.{fmt}"))
                import_file(target, fmt, tmp_path / f"first.{fmt}")
                again = export(target.book(name), fmt, tmp_path / f"again.{fmt}")
                assert without_exported_at(text_of(again), fmt) == (without_exported_at(first, fmt))
            copied = via_json.book(name)
            assert [e.record for e in copied.history()] == [e.record for e in book.history()]

        round_trip()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_total_only_session_and_a_bottle_of_unknown_amount_travel_in_both_formats(
    tmp_path: Path, fmt: Fmt
) -> None:
    with fast_journal(tmp_path / "from.sqlite") as journal:
        book = new_household(journal)
        book.add(
            PumpSession(
                start_at=T0,
                end_at=T0 + timedelta(minutes=18),
                total_ml=96.0,
                device="Baby Buddy import",
            )
        )
        book.add(
            BottleFeed(
                start_at=T0 + timedelta(hours=1),
                end_at=T0 + timedelta(hours=1, minutes=15),
                child="Robin",
            )
        )
        path = export(book, fmt, tmp_path / f"out.{fmt}")
        written = [entry.record for entry in book.history()]
    with fast_journal(tmp_path / "to.sqlite") as journal:
        report = import_file(journal, fmt, path)
        assert report.added["pump"] == 1 and report.added["bottle"] == 1
        assert [entry.record for entry in journal.book("Home").history()] == written
