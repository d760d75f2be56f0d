"""The household's pages over plain HTTP: what each shows, what each form writes, and what a
form with a mistake does (comes back with the mistake and the values, writes nothing)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from letdown.journal import (
    Accounts,
    Book,
    BottleFeed,
    ChildInfo,
    HouseholdInfo,
    Journal,
    Location,
    MemberInfo,
    NurseFeed,
    PumpSession,
    Role,
    Units,
    Word,
)
from letdown.web import Settings, create_app
from letdown.web.deps import SESSION_COOKIE

FLASH = re.compile(r'<p class="flash (\w+)" role="status">([^<]*)</p>')


class Member:
    """A logged-in browser: a TestClient that posts forms with the page's CSRF token."""

    def __init__(self, client: TestClient, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    def get(self, path: str) -> Any:
        return self.client.get(path)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.client.post(path, data={"csrf": self.csrf, **(data or {})}, **kwargs)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert found, "the page carries no CSRF token"
    return found[1]


def flashes(page: str) -> list[str]:
    return [html.unescape(text) for _, text in FLASH.findall(page)]


class _FormReader(HTMLParser):
    """The fields of one form of a page, as a browser would send them untouched."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.select: str | None = None
        self.textarea: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.inside = found.get("action") == self.action
        elif not self.inside:
            return
        elif tag == "input" and (found.get("type") != "checkbox" or "checked" in found):
            self.fields[found["name"]] = found.get("value", "")
        elif tag == "select":
            self.select = found["name"]
        elif tag == "option" and self.select and "selected" in found:
            self.fields[self.select] = found["value"]
        elif tag == "textarea":
            self.textarea = found["name"]
            self.fields[self.textarea] = ""

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.fields[self.textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def form_fields(page: str, action: str) -> dict[str, str]:
    reader = _FormReader(action)
    reader.feed(page)
    assert reader.fields, f"no form posting to {action}"
    return reader.fields


def errors(page: str) -> list[str]:
    return [html.unescape(text) for text in re.findall(r'class="error"[^>]*>([^<]*)<', page)]


@pytest.fixture
def journal(tmp_path: Any) -> Iterator[Journal]:
    with Journal.open(f"sqlite:///{tmp_path / 'journal.sqlite'}") as opened:
        yield opened


@pytest.fixture
def site(journal: Journal) -> Iterator[FastAPI]:
    app = create_app(Settings(db="sqlite://"), journal=journal)
    with TestClient(app):  # runs the lifespan: the app's state is set up
        yield app


def log_in(app: FastAPI, journal: Journal, household: str, member: str) -> Member:
    """A browser with a session for ``member`` (opened directly: no password to hash)."""
    book = journal.book(household, member)
    token, who = Accounts(journal.engine).open_session(book.member.id)
    assert who.csrf_token is not None
    return Member(TestClient(app, cookies={SESSION_COOKIE: token}), who.csrf_token)


def new_household(
    app: FastAPI, journal: Journal, word: Word = Word.CHEST, units: Units = Units.ML
) -> Member:
    journal.create_household(
        HouseholdInfo(name="Home", time_zone="Europe/Paris", units=units, word=word),
        MemberInfo(name="Alex", role=Role.NURSING_PARENT),
    )
    return log_in(app, journal, "Home", "Alex")


@pytest.fixture
def alex(site: FastAPI, journal: Journal) -> Member:
    """Alex, nursing parent of "Home" (Europe/Paris, mL, the word "chest"), logged in."""
    return new_household(site, journal)


@pytest.fixture
def book(journal: Journal, alex: Member) -> Book:
    """Alex's book, with a child, Robin."""
    book = journal.book("Home", "Alex")
    book.add_child(ChildInfo(name="Robin"))
    return book


@pytest.fixture
def viewer(site: FastAPI, journal: Journal, book: Book) -> Member:
    book.add_member(MemberInfo(name="Grandma", role=Role.VIEWER))
    return log_in(site, journal, "Home", "Grandma")


def now() -> datetime:
    return datetime.now(UTC)


def pump_session(ago: timedelta, left_ml: float, right_ml: float, **extra: Any) -> PumpSession:
    start = now() - ago
    return PumpSession(
        start_at=start,
        end_at=start + timedelta(minutes=15),
        sides={"left": {"volume_ml": left_ml, **extra}, "right": {"volume_ml": right_ml}},
    )


# --- every page ------------------------------------------------------------------------


PAGES = ("/", "/journal", "/stash", "/history", "/charts", "/charts?days=30")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_for_a_member(alex: Member, book: Book, path: str) -> None:
    book.add(pump_session(timedelta(hours=2), 60, 55, comfort_mmhg=180))
    page = alex.get(path)
    assert page.status_code == 200, page.text
    assert "<title>" in page.text
    assert "breast" not in page.text.lower(), "the household chose the word chest"


def test_the_favicon_is_there_for_every_page(site: FastAPI, alex: Member) -> None:
    icon = TestClient(site).get("/favicon.ico")  # asked before any login
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert '<link rel="icon" href="/favicon.ico"' in alex.get("/").text


def test_a_browser_that_is_not_logged_in_goes_to_the_login_page(
    site: FastAPI, alex: Member
) -> None:
    for path in PAGES:
        page = TestClient(site).get(path, headers={"accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login")


def test_the_dashboard_sums_the_last_day_per_side(alex: Member, book: Book) -> None:
    book.add(pump_session(timedelta(hours=3), 60, 40))
    book.add(pump_session(timedelta(hours=30), 500, 500))  # a day and more ago: not counted
    start = now() - timedelta(minutes=50)
    book.add(
        NurseFeed(
            start_at=start,
            end_at=start + timedelta(minutes=20),
            child="Robin",
            sides={"left": {"duration_s": 600}, "right": {"duration_s": 480}},
        )
    )
    page = alex.get("/").text
    assert "100 mL" in page
    assert "Left chest" in page and "Right chest" in page
    assert "10 min" in page and "8 min" in page
    assert "50 min ago" in page
    assert 'href="/live"' in page and "/journal?add=nurse" in page


def test_the_dashboard_warns_of_expired_bags_and_names_the_next(alex: Member, book: Book) -> None:
    old = book.stash_add(100, expressed_at=now() - timedelta(days=5), location=Location.FRIDGE)
    good = book.stash_add(80, expressed_at=now() - timedelta(hours=1), location=Location.FRIDGE)
    page = alex.get("/").text
    assert f'Bag <a href="/stash#bag-{old.code}">{old.code}</a>' in page
    assert "expired" in page and "discard it" in page
    assert f"Bag {good.code}</a></p>" in page  # the card: use next


def test_the_dashboard_uses_the_households_units(site: FastAPI, journal: Journal) -> None:
    member = new_household(site, journal, Word.BREAST, Units.FL_OZ)
    book = journal.book("Home", "Alex")
    book.add(pump_session(timedelta(hours=1), 59.147, 0))
    page = member.get("/").text
    assert "2 fl oz" in page and "Left breast" in page


# --- the quick log ---------------------------------------------------------------------


def test_the_feed_form_adds_a_feed(alex: Member, book: Book) -> None:
    done = alex.post(
        "/journal/nurse",
        {
            "child": "Robin",
            "minutes_left": "12",
            "latch_left": "8",
            "pain_left": "2",
            "minutes_right": "5m30s",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/journal"
    (entry,) = book.history()
    feed = entry.record
    assert isinstance(feed, NurseFeed)
    assert feed.sides["left"].duration_s == 720 and feed.sides["left"].latch == 8
    assert feed.sides["right"].duration_s == 330
    assert abs((feed.end_at - now()).total_seconds()) < 60  # it just ended
    assert (feed.end_at - feed.start_at).total_seconds() == 1050
    page = alex.get("/journal").text
    assert flashes(page) == [
        "Feed added: Robin: left chest 12 min, latch 8, pain 2; right chest 6 min"
    ]
    assert flashes(alex.get("/journal").text) == []  # shown once


def test_the_feed_form_takes_a_start_time_in_the_households_zone(alex: Member, book: Book) -> None:
    local = (
        (now() - timedelta(hours=2)).astimezone(book_zone(book)).replace(second=0, microsecond=0)
    )
    alex.post(
        "/journal/nurse",
        {"minutes_left": "10", "started": local.strftime("%Y-%m-%dT%H:%M")},
    )
    (entry,) = book.history()
    assert entry.record.start_at == local.astimezone(UTC)


def book_zone(book: Book) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(book.household.time_zone)


def test_the_pump_form_adds_a_session_and_can_stash_it(alex: Member, book: Book) -> None:
    page = alex.post(
        "/journal/pump",
        {
            "device": "hospital pump",
            "minutes": "15",
            "volume_left": "60",
            "volume_right": "2oz",
            "pain_left": "3",
            "stash": "freezer",
        },
    )
    assert page.status_code == 200
    (entry,) = book.history()
    session = entry.record
    assert isinstance(session, PumpSession)
    assert session.device == "hospital pump"
    assert session.sides["left"].volume_ml == 60 and session.sides["left"].pain == 3
    assert session.sides["right"].volume_ml == pytest.approx(59.147)
    (bag,) = book.stash()
    assert bag.location is Location.FREEZER
    assert bag.volume_ml == pytest.approx(119.147)
    assert bag.sources == (entry.uid,)
    assert f"Bag {bag.code} is in the freezer" in flashes(page.text)[0]


def test_the_bottle_form_draws_from_the_bags_chosen(alex: Member, book: Book) -> None:
    first = book.stash_add(60, expressed_at=now() - timedelta(hours=5), location=Location.FRIDGE)
    second = book.stash_add(100, expressed_at=now() - timedelta(hours=1), location=Location.FRIDGE)
    page = alex.get("/journal").text
    assert page.index(f'value="{first.code}"') < page.index(f'value="{second.code}"')
    alex.post("/journal/bottle", {"amount": "4oz", "bags": [first.code, second.code]})
    (entry,) = book.history()
    assert [(use.bag, round(use.volume_ml, 1)) for use in entry.record.bags] == [  # type: ignore[union-attr]
        (first.code, 60.0),
        (second.code, 58.3),
    ]
    assert book.bag(first.code).status == "used"
    assert book.bag(second.code).remaining_ml == pytest.approx(100 - (4 * 29.5735 - 60))


def test_the_bottle_form_takes_the_use_next_bags_in_one_tap(alex: Member, book: Book) -> None:
    """Forty bags in the stash must not push "Add bottle" off a phone's screen."""
    codes = [
        book.stash_add(
            30, expressed_at=now() - timedelta(hours=40 - n), location=Location.FRIDGE
        ).code
        for n in range(40)
    ]
    page = alex.get("/journal").text
    form = page[page.index('action="/journal/bottle"') :]
    form = form[: form.index("</form>")]
    before_others = form[: form.index('<details class="other-bags"')]
    assert 'name="bags_next"' in before_others
    assert f"<b>{codes[0]}</b>" in before_others and f"<b>{codes[2]}</b>" not in before_others
    assert 'name="bags"' not in before_others, "the other bags wait behind one tap"

    alex.post("/journal/bottle", {"amount": "70ml", "bags_next": "on"})
    (entry,) = book.history()
    assert [(use.bag, use.volume_ml) for use in entry.record.bags] == [  # type: ignore[union-attr]
        (codes[0], 30.0),
        (codes[1], 30.0),
        (codes[2], 10.0),
    ]


def test_the_care_and_symptom_forms(alex: Member, book: Book) -> None:
    alex.post("/journal/care", {"care": "cold-compress", "side": "left", "notes": "after feed"})
    alex.post(
        "/journal/symptom",
        {"pain_right": "4", "engorged_right": "on", "redness_right": "on", "fever": "101.1F"},
    )
    symptom, care = (entry.record for entry in book.history())
    assert care.kind == "care" and care.side == "left" and care.notes == "after feed"  # type: ignore[union-attr]
    assert symptom.kind == "symptom"
    right = symptom.sides["right"]  # type: ignore[union-attr]
    assert right.pain == 4 and right.engorged and right.redness and not right.lump
    assert symptom.fever_c == pytest.approx(38.39, abs=0.01)  # type: ignore[union-attr]


def test_a_child_can_be_added(alex: Member, journal: Journal) -> None:
    page = alex.get("/journal").text
    assert "Add your child first" in page
    alex.post("/journal/child", {"name": "Robin", "birth_date": "2026-10-01"})
    assert [child.name for child in journal.book("Home").children()] == ["Robin"]


@pytest.mark.parametrize(
    ("path", "data", "field", "message"),
    [
        (
            "/journal/pump",
            {"device": "p", "minutes": "15", "volume_left": "lots"},
            "volume_left",
            "not an amount",
        ),
        (
            "/journal/pump",
            {"device": "p", "minutes": "ages", "volume_left": "60"},
            "minutes",
            "not a duration",
        ),
        ("/journal/pump", {"minutes": "15", "volume_left": "60"}, "device", "which pump"),
        ("/journal/nurse", {"minutes_left": "10", "pain_left": "11"}, "pain_left", "from 0 to 10"),
        ("/journal/nurse", {"latch_right": "5"}, "minutes_right", "how many minutes"),
        ("/journal/nurse", {"minutes_left": "10", "started": "tomorrow"}, "started", "not a time"),
        ("/journal/bottle", {"amount": "-3"}, "amount", "cannot be negative"),
        ("/journal/bottle", {"amount": "9000"}, "amount", "typing mistake"),
        ("/journal/symptom", {"fever": "hot"}, "fever", "not a temperature"),
        ("/stash/add", {"amount": "4 cups"}, "amount", "not an amount"),
    ],
)
def test_a_form_with_a_mistake_comes_back_and_writes_nothing(
    alex: Member, book: Book, path: str, data: dict[str, str], field: str, message: str
) -> None:
    page = alex.post(path, data)
    assert page.status_code == 422
    (error,) = errors(page.text)
    assert message in error
    field_html = re.search(rf'<input id="[\w-]+-{field}" name="{field}"[^>]*>', page.text)
    assert field_html, f"no {field} field"
    assert 'aria-invalid="true"' in field_html[0]
    assert f'value="{html.escape(data.get(field, ""))}"' in field_html[0]
    for name, value in data.items():
        assert f'value="{html.escape(value)}"' in page.text, f"{name} was not kept"
    assert book.history() == [] and book.stash() == []


def test_a_record_the_journal_refuses_comes_back_with_its_reason_under_its_field(
    alex: Member, book: Book
) -> None:
    page = alex.post("/journal/bottle", {"amount": "100", "leftover": "200", "notes": "spilt"})
    assert page.status_code == 422
    under = re.search(r'<small class="error" id="bottle-leftover-error">([^<]*)</small>', page.text)
    assert under is not None
    assert under[1] == "200 mL is more than the bottle&#39;s 100 mL"
    assert "leftover_ml" not in page.text and "amount_ml" not in page.text
    assert ">spilt</textarea>" in page.text
    assert book.history() == []


def test_an_implausible_amount_needs_the_confirmation_that_names_it(
    alex: Member, book: Book
) -> None:
    form = {"device": "Spectra", "minutes": "10", "volume_left": "1774"}
    page = alex.post("/journal/pump", form)
    assert page.status_code == 422
    assert book.history() == []
    assert "1,774 mL from the left side in one session" in page.text
    token = re.search(r'name="confirm" value="(\w+)"', page.text)
    assert token is not None
    changed = alex.post("/journal/pump", {**form, "volume_left": "1500", "confirm": token[1]})
    assert changed.status_code == 422, "a confirmation is for the figure it named"
    saved = alex.post("/journal/pump", {**form, "confirm": token[1]})
    assert any(text.startswith("Pump session added") for text in flashes(saved.text))
    (entry,) = book.history()
    assert entry.record.volume_ml() == 1774


def test_an_impossible_session_is_refused_even_when_confirmed(alex: Member, book: Book) -> None:
    page = alex.post(
        "/journal/pump", {"device": "Spectra", "minutes": "0", "volume_left": "60", "confirm": "x"}
    )
    assert page.status_code == 422
    assert "60 mL in no time at all" in page.text
    assert 'name="confirm"' not in page.text
    assert book.history() == []


def test_a_form_without_the_csrf_token_is_refused(alex: Member, book: Book) -> None:
    refused = alex.client.post("/journal/care", data={"care": "salve"})
    assert refused.status_code == 403
    assert book.history() == []


# --- the stash -------------------------------------------------------------------------


def test_a_bag_past_its_use_by_is_added_with_a_warning_and_shown_apart(
    alex: Member, book: Book
) -> None:
    book.stash_add(120, expressed_at=now() - timedelta(hours=2), location=Location.FRIDGE)
    expressed = (now() - timedelta(days=10)).astimezone(ZoneInfo(book.household.time_zone))
    page = alex.post(
        "/stash/add",
        {"amount": "100", "location": "fridge", "expressed": f"{expressed:%Y-%m-%dT%H:%M}"},
    )
    (kind, text) = FLASH.findall(page.text)[0]
    assert kind == "warn" and "past its use-by" in html.unescape(text)
    assert "1 bag, 120 mL still good" in page.text
    assert "1 bag past its use-by (100 mL, not counted above)" in page.text


def test_the_stash_lists_bags_in_use_next_order_with_their_colour(alex: Member, book: Book) -> None:
    later = book.stash_add(100, expressed_at=now() - timedelta(hours=1), location=Location.FREEZER)
    # Fresh milk keeps 4 h at room temperature: this bag's time ends before midnight here
    # (half-way there when the test runs late in the evening).
    zone = ZoneInfo(book.household.time_zone)
    midnight = datetime.combine(
        now().astimezone(zone).date() + timedelta(days=1), datetime.min.time(), tzinfo=zone
    )
    left = min(timedelta(minutes=30), (midnight - now()) / 2)
    soon = book.stash_add(
        90, expressed_at=now() - timedelta(hours=4) + left, location=Location.ROOM
    )
    gone = book.stash_add(80, expressed_at=now() - timedelta(days=5), location=Location.FRIDGE)
    page = alex.get("/stash").text
    assert page.index(f'id="bag-{gone.code}"') < page.index(f'id="bag-{soon.code}"')
    assert page.index(f'id="bag-{soon.code}"') < page.index(f'id="bag-{later.code}"')
    assert f'class="bag expired" id="bag-{gone.code}"' in page
    assert f'class="bag today" id="bag-{soon.code}"' in page
    assert f'class="bag later" id="bag-{later.code}"' in page
    assert "fresh milk, room: 4 h (CDC)" in page
    assert "frozen: best within 6 months, up to 12 (CDC)" in page
    badge = page.index('<span class="badge">use next</span>')
    assert page.index(f'id="bag-{soon.code}"') < badge < page.index(f'id="bag-{later.code}"')


def test_a_bag_is_added_moved_used_and_discarded(alex: Member, book: Book) -> None:
    page = alex.post("/stash/add", {"amount": "120ml", "location": "freezer", "code": "ab1"})
    assert flashes(page.text) == ["Bag AB1 added (120 mL, freezer): write AB1 on it."]
    alex.post("/stash/AB1/move", {"to": "fridge"})
    assert book.bag("AB1").location is Location.FRIDGE
    refused = alex.post("/stash/AB1/move", {"to": "freezer"})
    assert refused.status_code == 422
    assert "thawed milk must never be refrozen (CDC)" in refused.text
    assert book.bag("AB1").location is Location.FRIDGE
    used = alex.post("/stash/AB1/use", {"child": "Robin", "amount": "50"})
    assert flashes(used.text) == ["Bottle added: 50 mL expressed for Robin from bag AB1"]
    assert book.bag("AB1").remaining_ml == 70
    alex.post("/stash/AB1/discard", {"reason": "spilled"})
    assert book.bag("AB1").status == "discarded"
    assert "spilled" in alex.get("/stash?closed=1").text


def test_using_more_than_a_bag_holds_is_refused_there(alex: Member, book: Book) -> None:
    bag = book.stash_add(60, expressed_at=now(), location=Location.FRIDGE)
    page = alex.post(f"/stash/{bag.code}/use", {"amount": "100"})
    assert page.status_code == 422
    assert f"bag {bag.code} holds 60 mL" in page.text
    assert 'value="100"' in page.text
    assert book.history() == []


# --- history ---------------------------------------------------------------------------


def test_history_is_newest_first_and_filters(alex: Member, book: Book) -> None:
    book.add(pump_session(timedelta(days=3), 10, 10))
    book.add(pump_session(timedelta(hours=1), 70, 60))
    alex.post("/journal/care", {"care": "salve"})
    page = alex.get("/history").text
    assert page.index("Salve") < page.index("130 mL") < page.index("20 mL")
    pumped = alex.get("/history?kind=pump&since=24h").text
    assert "130 mL" in pumped and "20 mL" not in pumped and "Salve" not in pumped
    bad = alex.get("/history?since=whenever")
    assert bad.status_code == 422 and "not a time" in bad.text


def test_history_pages_through_older_entries(alex: Member, book: Book) -> None:
    for hours in range(1, 56):
        book.add(pump_session(timedelta(hours=hours), hours, 0))
    page = alex.get("/history").text
    assert page.count('class="entry kind-pump"') == 50
    older = re.search(r'href="(/history\?until=[^"]+)"', page)
    assert older
    rest = alex.get(html.unescape(older[1])).text
    assert rest.count('class="entry kind-pump"') == 5


def test_an_entry_is_edited_and_its_revisions_say_who_changed_what(
    site: FastAPI, alex: Member, book: Book
) -> None:
    entry = book.add(pump_session(timedelta(hours=1), 60, 55, comfort_mmhg=180))
    page = alex.get(f"/history/{entry.id}").text
    form = form_fields(page, f"/history/{entry.id}")
    assert form["volume_left"] == "60" and form["volume_right"] == "55"
    form.update(volume_left="70", notes="recounted")
    saved = alex.post(f"/history/{entry.id}", form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    edited = book.get(entry.id).record
    assert isinstance(edited, PumpSession)
    assert edited.sides["left"].volume_ml == 70
    assert edited.sides["left"].comfort_mmhg == 180  # what the pump measured is kept
    assert edited.notes == "recounted"
    page = alex.get(f"/history/{entry.id}").text
    assert "v2</b> edited by Alex" in page
    assert "left chest volume: 60 mL → 70 mL" in page
    assert flashes(page) == ["Saved (version 2)."]


def test_an_edit_with_a_mistake_keeps_the_values(alex: Member, book: Book) -> None:
    entry = book.add(pump_session(timedelta(hours=1), 60, 55))
    form = form_fields(alex.get(f"/history/{entry.id}").text, f"/history/{entry.id}")
    form.update(volume_left="sixty")
    refused = alex.post(f"/history/{entry.id}", form)
    assert refused.status_code == 422
    assert 'value="sixty"' in refused.text and "not an amount" in refused.text
    assert book.get(entry.id).version == 1


def test_saving_a_note_keeps_exact_times_and_amounts(alex: Member, book: Book) -> None:
    """The form shows minutes and tenths; sent back untouched they stand for what they
    were, so a bottle whose bag was discarded since can still get a note."""
    bag = book.stash_add(200, expressed_at=now() - timedelta(hours=1), location=Location.FRIDGE)
    bottle = book.add(
        BottleFeed(
            start_at=now() - timedelta(minutes=30, seconds=17),
            child="Robin",
            amount_ml=4 * 29.5735,
            bags=({"bag": bag.code, "volume_ml": 100},),
        )
    )
    book.stash_discard(bag.code, "spilled")
    form = form_fields(alex.get(f"/history/{bottle.id}").text, f"/history/{bottle.id}")
    assert form["amount"] == "118.3" and form["content"] == "expressed"
    form["notes"] = "fussy"
    saved = alex.post(f"/history/{bottle.id}", form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    after = book.get(bottle.id).record
    assert after.notes == "fussy"
    assert after.start_at == bottle.record.start_at
    assert after.amount_ml == bottle.record.amount_ml  # type: ignore[union-attr]


def test_an_entry_is_deleted(alex: Member, book: Book) -> None:
    entry = book.add(pump_session(timedelta(hours=1), 60, 55))
    page = alex.post(f"/history/{entry.id}/delete")
    assert page.status_code == 200 and "deleted" in flashes(page.text)[0]
    assert book.history() == []
    assert alex.get(f"/history/{entry.id}").status_code == 404


def test_another_households_entry_is_not_found(
    site: FastAPI, journal: Journal, alex: Member, book: Book
) -> None:
    theirs = journal.create_household(
        HouseholdInfo(name="Next door", units=Units.ML, word=Word.BREAST),
        MemberInfo(name="Kim", role=Role.NURSING_PARENT),
    )
    entry = theirs.add(pump_session(timedelta(hours=1), 10, 10))
    assert alex.get(f"/history/{entry.id}").status_code == 404
    assert alex.post(f"/history/{entry.id}", {"notes": "mine now"}).status_code == 404
    assert alex.post(f"/history/{entry.id}/delete").status_code == 404
    assert theirs.get(entry.id).version == 1


# --- charts ----------------------------------------------------------------------------


def test_charts_are_inline_svg_without_scripts(alex: Member, book: Book) -> None:
    book.add(pump_session(timedelta(hours=1), 60, 55, comfort_mmhg=180))
    book.add(pump_session(timedelta(days=3), 40, 45, comfort_mmhg=170))
    page = alex.get("/charts?days=30").text
    assert page.count("<svg") == 3
    assert "<script" not in page.split("</head>")[1]  # only the page's own app.js, in <head>
    assert "<?xml" not in page
    assert "Left chest" in page and "2 pump sessions" in page
    assert "180 mmHg" in page  # a tooltip value
    comfort = page.split("<svg")[3]
    assert ">mmHg</text>" not in comfort  # no axis title over the "180 mmHg" tick labels


def test_a_session_with_only_its_total_counts_and_shows_as_total(alex: Member, book: Book) -> None:
    """Baby Buddy's sessions keep one amount: neither side's, but in every total."""
    book.add(pump_session(timedelta(hours=2), 60, 55))
    start = now() - timedelta(hours=1)
    book.add(
        PumpSession(
            start_at=start, end_at=start + timedelta(minutes=20), total_ml=90, device="Baby Buddy"
        )
    )
    summary = book.summary(now() - timedelta(hours=24))
    assert summary.pumped_ml == {"left": 60, "right": 55}
    assert summary.pumped_total_ml == 205
    page = alex.get("/charts").text
    assert "total (no sides)" in page
    dashboard = alex.get("/").text
    assert "<dt>Total (no sides)</dt><dd>90 mL</dd>" in dashboard
    assert "90 mL in 20 min (Baby Buddy): total only, no sides" in alex.get("/history").text


def test_charts_without_sessions_say_so(alex: Member, book: Book) -> None:
    page = alex.get("/charts").text
    assert "No pump sessions in these days." in page and "No comfort ceilings yet." in page
    assert "<svg" not in page


# --- viewers ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_a_viewer_sees_the_pages_without_forms(viewer: Member, book: Book, path: str) -> None:
    entry = book.add(pump_session(timedelta(hours=1), 60, 55))
    book.stash_add(100, expressed_at=now(), location=Location.FRIDGE)
    for shown in (path, f"/history/{entry.id}"):
        page = viewer.get(shown)
        assert page.status_code == 200
        posts = re.findall(r'<form method="post" action="([^"]+)"', page.text)
        assert set(posts) <= {"/logout", "/theme"}, posts


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/journal/care", {"care": "salve"}),
        ("/journal/pump", {"device": "p", "minutes": "15", "volume_left": "60"}),
        ("/journal/child", {"name": "Sam"}),
        ("/stash/add", {"amount": "100"}),
        ("/stash/{bag}/discard", {"reason": "mine"}),
        ("/history/{entry}", {"notes": "x"}),
        ("/history/{entry}/delete", {}),
    ],
)
def test_a_viewer_cannot_post(viewer: Member, book: Book, path: str, data: dict[str, str]) -> None:
    entry = book.add(pump_session(timedelta(hours=1), 60, 55))
    bag = book.stash_add(100, expressed_at=now(), location=Location.FRIDGE)
    refused = viewer.post(path.format(entry=entry.id, bag=bag.code), data)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html"), "a page, not raw JSON"
    assert "can see the household&#39;s journal but not change it" in refused.text
    assert len(book.history()) == 1 and book.get(entry.id).version == 1
    assert book.bag(bag.code).status == "stored" and len(book.children()) == 1


def test_a_viewers_dashboard_offers_nothing_they_cannot_do(viewer: Member, book: Book) -> None:
    book.stash_add(100, expressed_at=now() - timedelta(days=10), location=Location.FRIDGE)
    page = viewer.get("/").text
    assert "Start pumping" not in page
    assert "discard it" not in page
    assert "do not feed it" in page


# --- the theme -------------------------------------------------------------------------


def test_the_light_theme_is_kept_in_a_cookie(alex: Member) -> None:
    assert 'data-theme="dark"' in alex.get("/").text
    alex.client.post("/theme", data={"theme": "light", "next": "/stash"})
    assert 'data-theme="light"' in alex.get("/stash").text
    off_site = alex.client.post(
        "/theme", data={"theme": "dark", "next": "//evil.example"}, follow_redirects=False
    )
    assert off_site.headers["location"] == "/"


def test_a_child_is_corrected_or_removed_on_the_journal_page(alex: Member, book: Book) -> None:
    before = [child.name for child in book.children()]
    (first,) = before[:1]
    refused = alex.post(
        "/journal/child-edit",
        {"was": first, "name": first, "birth_date": "3000-01-01", "action": "save"},
    )
    assert refused.status_code == 422
    assert "3000-01-01 is in the future" in refused.text
    alex.post(
        "/journal/child-edit",
        {"was": first, "name": "Robyn", "birth_date": "2026-09-02", "action": "save"},
    )
    assert book.children()[0].name == "Robyn"
    assert str(book.children()[0].birth_date) == "2026-09-02"
    alex.post("/journal/child", {"name": "Kim"})
    alex.post("/journal/child-edit", {"was": "Kim", "action": "remove"})
    assert [child.name for child in book.children()] == ["Robyn", *before[1:]]
