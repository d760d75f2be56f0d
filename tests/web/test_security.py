"""The app against a hostile page, a hostile household member and a careless proxy.

Each test is one finding of the security review (issue 14), as an attacker would try it:
an oversized body, password guessing, framing, stolen or leaked credentials, login
CSRF, invitation probing, oversized entries, bag labels that break links, and the API's
document left open.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text, update
from starlette.websockets import WebSocketDisconnect
from tests.ports import free_port
from tests.web.conftest import PASSWORD, logged_in

from letdown.journal import Accounts, Role
from letdown.journal.accounts import ApiToken
from letdown.web import Settings, create_app
from letdown.web.deps import CSRF_HEADER
from letdown.web.limiter import LoginLimiter

API = "/api/v1"
LIVE = f"{API}/pump/live"
TEMPLATES = Path(__file__).parents[2] / "src" / "letdown" / "web" / "templates"
START = datetime.now(UTC) - timedelta(hours=2)


def pump_entry(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "pump",
        "start_at": START.isoformat(),
        "end_at": (START + timedelta(minutes=15)).isoformat(),
        "sides": {"left": {"volume_ml": 50}},
        **extra,
    }


# --- 1. request size --------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_before_anything_reads_it(
    app: FastAPI, client: TestClient
) -> None:
    stranger = TestClient(app)
    big = b'{"kind": "pump", "notes": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    refused = stranger.post(
        f"{API}/entries", content=big, headers={"Content-Type": "application/json"}
    )
    assert refused.status_code == 413, refused.text  # not 401 after reading 2 MB
    assert "too large" in refused.json()["detail"]

    def streamed() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"notes": "'
        for _ in range(64):
            yield b"x" * 65536
        yield b'"}'

    chunked = client.post(
        f"{API}/entries", content=streamed(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413, chunked.text
    # A form is held to the same limit.
    form = client.post("/journal/pump", data={"notes": "x" * (1024 * 1024)})
    assert form.status_code == 413


def _rss_bytes() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096


@pytest.fixture
def real_server(tmp_path: Path) -> Iterator[tuple[int, FastAPI]]:
    """The app under Uvicorn as ``letdown serve`` runs it, on a free loopback port."""
    import uvicorn

    from letdown.cli.serve import uvicorn_config

    app = create_app(Settings(db=f"sqlite:///{tmp_path / 'journal.sqlite'}"))
    port = free_port()
    server = uvicorn.Server(uvicorn_config(app, host="127.0.0.1", port=port, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield port, app
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _flood(port: int, limit_bytes: int) -> str:
    """One oversized chunked upload (no Content-Length); the status line answered."""
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            b"POST /api/v1/entries HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        try:
            while sent < limit_bytes:
                conn.sendall(chunk)
                sent += 65536
            conn.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server hung up on the upload, as it should
        try:
            return conn.recv(200).decode("latin-1").split("\r\n", 1)[0]
        except OSError:
            return "(reset)"


def test_twenty_oversized_uploads_at_once_keep_the_server_small(
    real_server: tuple[int, FastAPI],
) -> None:
    """20 uploads of 8 MB each (160 MB): the server reads at most its limit of each."""
    port, _app = real_server
    before = _rss_bytes()
    peak = [before]
    running = threading.Event()
    running.set()

    def watch() -> None:
        while running.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(lambda _: _flood(port, 8 * 1024 * 1024), range(20)))
    finally:
        running.clear()
        watcher.join()
    grown_mb = (peak[0] - before) / 2**20
    print(f"20 oversized uploads: the server grew by {grown_mb:.1f} MB")
    assert grown_mb < 48, f"the server grew by {grown_mb:.0f} MB"
    # Each upload is answered 413, or cut off (a reset may overtake the answer): never read.
    assert all(" 413 " in a or a in ("", "(reset)") for a in answers), answers
    assert any(" 413 " in a for a in answers), answers


def test_forwarded_headers_count_only_from_a_configured_proxy(
    real_server: tuple[int, FastAPI],
) -> None:
    """Uvicorn's default trusts X-Forwarded-For from loopback; letdown serve does not."""
    import httpx2 as httpx

    port, app = real_server
    app.state.accounts.create_household(
        _home(), _member("Gran", Role.VIEWER), "grandparent", PASSWORD
    )
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base) as web:
        for _ in range(5):
            web.post(f"{API}/login", json={"login": "grandparent", "password": "wrong guess"})
        spoofed = web.post(
            f"{API}/login",
            json={"login": "grandparent", "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
    assert spoofed.status_code == 429, spoofed.text


def test_behind_a_configured_proxy_the_forwarded_address_is_the_callers(
    tmp_path: Path,
) -> None:
    settings = Settings(
        db=f"sqlite:///{tmp_path / 'j.sqlite'}",
        proxy_headers=True,
        forwarded_allow_ips="testclient",
    )
    with TestClient(create_app(settings)) as proxy:
        proxy.app.state.accounts.create_household(  # type: ignore[attr-defined]
            _home(), _member("Gran", Role.VIEWER), "grandparent", PASSWORD
        )
        guesser = {"X-Forwarded-For": "203.0.113.9"}
        for _ in range(5):
            proxy.post(
                f"{API}/login", json={"login": "grandparent", "password": "no"}, headers=guesser
            )
        blocked = proxy.post(
            f"{API}/login", json={"login": "grandparent", "password": PASSWORD}, headers=guesser
        )
        assert blocked.status_code == 429
        at_home = proxy.post(
            f"{API}/login",
            json={"login": "grandparent", "password": PASSWORD},
            headers={"X-Forwarded-For": "192.168.1.20"},
        )
        assert at_home.status_code == 200, at_home.text


# --- 2. the login limiter ----------------------------------------------------------------


def _home() -> Any:
    from letdown.journal import HouseholdInfo

    return HouseholdInfo(name="Grans")


def _member(name: str, role: Role) -> Any:
    from letdown.journal import MemberInfo

    return MemberInfo(name=name, role=role)


def test_a_strangers_guesses_do_not_lock_the_member_out_from_home(
    app: FastAPI, client: TestClient, viewer_client: TestClient
) -> None:
    attacker = TestClient(app, client=("10.0.0.66", 40000))
    for _ in range(5):
        attacker.post(f"{API}/login", json={"login": "gran", "password": "not it"})
    blocked = attacker.post(f"{API}/login", json={"login": "gran", "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1
    phone = TestClient(app, client=("10.0.0.20", 40000))
    answer = phone.post(f"{API}/login", json={"login": "gran", "password": PASSWORD})
    assert answer.status_code == 200


def test_parallel_guesses_get_no_more_than_the_budget(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts: Accounts = app.state.accounts
    checked: list[str] = []
    original = accounts.authenticate

    def slow_check(login: str, password: str) -> Any:
        checked.append(password)
        time.sleep(0.05)  # a real Argon2 check takes this long or more
        return original(login, password)

    monkeypatch.setattr(accounts, "authenticate", slow_check)

    def guess(n: int) -> int:
        return (
            TestClient(app)
            .post(f"{API}/login", json={"login": "alex", "password": f"guess {n}"})
            .status_code
        )

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(guess, range(12)))
    assert len(checked) == 5, answers
    assert sorted(answers) == [401] * 5 + [429] * 7


def test_each_try_past_the_budget_waits_twice_as_long() -> None:
    now = [1000.0]
    limiter = LoginLimiter(5, 900.0, clock=lambda: now[0])
    waits = []
    for _ in range(8):
        wait_s = limiter.try_now("gran", "10.0.0.66")
        if wait_s:
            waits.append(wait_s)
            now[0] += wait_s
            assert limiter.try_now("gran", "10.0.0.66") == 0
    assert waits == [1.0, 2.0, 4.0]
    now[0] += 2000  # a quiet quarter of an hour and more: forgotten
    assert limiter.try_now("gran", "10.0.0.66") == 0
    assert limiter.try_now("gran", "10.0.0.66") == 0


def test_a_flood_of_made_up_logins_costs_bounded_memory() -> None:
    limiter = LoginLimiter(5, 900.0, max_keys=1000)
    for n in range(5000):
        limiter.try_now(f"made-up-{n}", f"10.{n // 250}.{n % 250}.1")
    assert len(limiter) <= 1000
    one_address = LoginLimiter(5, 900.0)
    for n in range(5000):
        one_address.try_now(f"made-up-{n}", "10.0.0.66")
    assert len(one_address) <= 21  # the address's budget, then nothing new is kept


# --- 3. headers -------------------------------------------------------------------------


def test_every_answer_carries_the_protective_headers(client: TestClient) -> None:
    for path in ("/", "/history", f"{API}/entries", "/login"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        policy = answer.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy
        assert re.search(r"script-src 'self'(;|$)", policy), policy
        assert "worker-src 'self'" in policy and "manifest-src 'self'" in policy
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["Cache-Control"] == "no-store", path
    assert "no-store" not in client.get("/static/app.css").headers.get("Cache-Control", "")


def test_over_https_browsers_are_told_to_stay_on_https(tmp_path: Path) -> None:
    settings = Settings(db=f"sqlite:///{tmp_path / 'j.sqlite'}", secure_cookies=True)
    with TestClient(create_app(settings)) as browser:
        answer = browser.get("/setup")
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_page_runs_an_inline_script_so_the_policy_holds() -> None:
    for template in TEMPLATES.glob("*.html"):
        source = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", source):
            assert "src=" in tag, f"{template.name}: inline <script>"
        assert not re.search(r"\son[a-z]+\s*=", source), f"{template.name}: inline handler"


# --- 4. revoking credentials --------------------------------------------------------------


def test_changing_the_password_logs_out_every_other_session(
    app: FastAPI, client: TestClient
) -> None:
    laptop = logged_in(app, "alex")
    changed = client.post(
        f"{API}/password",
        json={"current_password": PASSWORD, "new_password": "a new long secret"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["sessions_ended"] == 1
    assert laptop.get(f"{API}/me").status_code == 401
    assert client.get(f"{API}/me").status_code == 200  # the one who changed it stays in
    old = TestClient(app).post(f"{API}/login", json={"login": "alex", "password": PASSWORD})
    assert old.status_code == 401
    logged_in(app, "alex", "a new long secret")
    wrong = client.post(
        f"{API}/password", json={"current_password": "nope", "new_password": "whatever123"}
    )
    assert wrong.status_code == 403
    assert "current password" in wrong.json()["detail"]


def test_the_account_page_changes_the_password(app: FastAPI, client: TestClient) -> None:
    laptop = logged_in(app, "alex")
    page = client.get("/account")
    assert page.status_code == 200 and "Change password" in page.text
    done = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "another secret",
            "again": "another secret",
            "csrf": client.headers[CSRF_HEADER],
        },
    )
    assert done.status_code == 200, done.text
    assert "Password changed. 1 other session logged out." in done.text
    assert laptop.get(f"{API}/me").status_code == 401


def _receive_until_closed(ws: Any, within_s: float) -> int:
    """The close code the socket ends with, read in a thread so a socket that stays open
    (and silent) fails the test instead of hanging it."""
    closed: list[int] = []

    def read() -> None:
        while True:
            try:
                ws.receive_json()
            except WebSocketDisconnect as exc:
                closed.append(exc.code)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(within_s)
    assert closed, "the socket stayed open"
    return closed[0]


def test_a_live_socket_closes_when_its_session_logs_out(app: FastAPI, client: TestClient) -> None:
    phone = logged_in(app, "alex")
    with phone.websocket_connect(LIVE) as ws:
        ws.receive_json()
        assert phone.post(f"{API}/logout").status_code == 204
        assert _receive_until_closed(ws, 3.0) == 1008


def test_a_live_socket_closes_when_the_password_changes(app: FastAPI, client: TestClient) -> None:
    phone = logged_in(app, "alex")
    with phone.websocket_connect(LIVE) as ws:
        ws.receive_json()
        client.post(
            f"{API}/password", json={"current_password": PASSWORD, "new_password": "fresh pass"}
        )
        assert _receive_until_closed(ws, 3.0) == 1008


def test_a_live_socket_rechecks_its_login_every_little_while(tmp_path: Path) -> None:
    settings = Settings(db=f"sqlite:///{tmp_path / 'j.sqlite'}", socket_recheck_s=0.2)
    with TestClient(create_app(settings)) as alex:
        made = alex.post(
            f"{API}/setup",
            json={"household": "Home", "name": "Alex", "login": "alex", "password": PASSWORD},
        )
        assert made.status_code == 201
        with alex.websocket_connect(LIVE) as ws:
            ws.receive_json()
            # The session ends behind the app's back (expired, or removed from the database).
            accounts: Accounts = alex.app.state.accounts  # type: ignore[attr-defined]
            accounts.close_session(alex.cookies["letdown_session"])
            assert _receive_until_closed(ws, 3.0) == 1008


def test_api_tokens_are_named_listed_expiring_and_revocable(
    app: FastAPI, client: TestClient, partner_client: TestClient
) -> None:
    made = client.post(f"{API}/tokens", json={"name": "Home Assistant", "days": 30})
    assert made.status_code == 201, made.text
    token, token_id = made.json()["token"], made.json()["id"]
    expires = datetime.fromisoformat(made.json()["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    listed = client.get(f"{API}/tokens").json()
    assert [(t["id"], t["name"]) for t in listed] == [(token_id, "Home Assistant")]
    assert token not in client.get(f"{API}/tokens").text
    script = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert script.get(f"{API}/me").status_code == 200
    # Another member sees only their own tokens, and cannot end someone else's.
    assert partner_client.get(f"{API}/tokens").json() == []
    assert partner_client.delete(f"{API}/tokens/{token_id}").status_code == 404
    with script.websocket_connect(LIVE) as ws:
        ws.receive_json()
        assert client.delete(f"{API}/tokens/{token_id}").status_code == 204
        assert _receive_until_closed(ws, 3.0) == 1008
    assert script.get(f"{API}/me").status_code == 401
    assert client.get(f"{API}/tokens").json() == []
    assert client.delete(f"{API}/tokens/{token_id}").status_code == 404
    assert client.post(f"{API}/tokens", json={"name": "forever", "days": 5000}).status_code == 422


def test_an_expired_token_opens_nothing(app: FastAPI, client: TestClient) -> None:
    token = client.post(f"{API}/tokens", json={"name": "old script"}).json()["token"]
    accounts: Accounts = app.state.accounts
    with accounts.engine.begin() as connection:
        connection.execute(update(ApiToken).values(expires_at=datetime.now(UTC) - timedelta(1)))
    script = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert script.get(f"{API}/me").status_code == 401


def test_the_account_page_makes_lists_and_revokes_tokens(client: TestClient) -> None:
    csrf = client.headers[CSRF_HEADER]
    made = client.post(
        "/account/tokens", data={"name": "kitchen tablet", "days": "7", "csrf": csrf}
    )
    assert made.status_code == 200
    token = re.search(r"<code>(ld_[^<]+)</code>", made.text)
    assert token is not None
    token_id = client.get(f"{API}/tokens").json()[0]["id"]
    assert token_id in made.text and "kitchen tablet" in made.text
    revoked = client.post(f"/account/tokens/{token_id}/revoke", data={"csrf": csrf})
    assert "revoked" in revoked.text
    assert client.get(f"{API}/tokens").json() == []


def test_a_socket_ticket_lapses_unused() -> None:
    from letdown.web.sockets import Credential, Tickets

    tickets = Tickets(ttl_s=0.05)
    ticket = tickets.issue(Credential("token", "ld_secret"))
    time.sleep(0.1)
    assert tickets.redeem(ticket) is None


# --- 5. login CSRF -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        # Another service on the same home server is the same *site*, not the same origin.
        {"Sec-Fetch-Site": "same-site", "Origin": "http://testserver:8123"},
    ],
)
def test_forms_posted_from_another_site_are_refused(
    app: FastAPI, client: TestClient, headers: dict[str, str]
) -> None:
    browser = TestClient(app)
    login = browser.post(
        "/login", data={"login": "alex", "password": PASSWORD, "next": "/"}, headers=headers
    )
    assert login.status_code == 403
    assert "letdown_session" not in login.cookies
    api_login = browser.post(
        f"{API}/login", json={"login": "alex", "password": PASSWORD}, headers=headers
    )
    assert api_login.status_code == 403
    theme = browser.post("/theme", data={"theme": "light"}, headers=headers)
    assert theme.status_code == 403 and "letdown_theme" not in theme.cookies
    invite = client.post(f"{API}/invites", json={"role": "partner"}).json()["token"]
    joined = browser.post(
        f"/invite/{invite}",
        data={"name": "Eve", "login": "eve", "password": PASSWORD},
        headers=headers,
    )
    assert joined.status_code == 403


def test_the_same_forms_work_from_the_sites_own_pages(app: FastAPI, client: TestClient) -> None:
    browser = TestClient(app, follow_redirects=False)
    own = {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}
    login = browser.post(
        "/login", data={"login": "alex", "password": PASSWORD, "next": "/"}, headers=own
    )
    assert login.status_code == 303 and "letdown_session" in login.cookies
    theme = browser.post("/theme", data={"theme": "light"}, headers={"Sec-Fetch-Site": "none"})
    assert theme.status_code == 303


# --- 6. invitations ----------------------------------------------------------------------


def test_an_invitation_cannot_be_used_to_probe_logins(app: FastAPI, client: TestClient) -> None:
    invite = client.post(f"{API}/invites", json={"role": "partner"}).json()["token"]
    prober = TestClient(app, client=("10.0.0.66", 40000))
    answers = [
        prober.post(
            f"{API}/invites/{invite}/accept",
            json={"name": f"Probe {n}", "login": "alex", "password": PASSWORD},
        ).status_code
        for n in range(8)
    ]
    assert answers[:5] == [422] * 5
    assert set(answers[5:]) == {429}
    # The invitation still works for the one it was meant for, from their own phone.
    meant = TestClient(app, client=("10.0.0.20", 40000))
    joined = meant.post(
        f"{API}/invites/{invite}/accept",
        json={"name": "Sam", "login": "sam", "password": PASSWORD},
    )
    assert joined.status_code == 201, joined.text


def test_only_a_nursing_parent_may_invite_a_nursing_parent(
    client: TestClient, partner_client: TestClient
) -> None:
    refused = partner_client.post(f"{API}/invites", json={"role": "nursing-parent"})
    assert refused.status_code == 403
    assert "only a nursing parent" in refused.json()["detail"]
    assert partner_client.post(f"{API}/invites", json={"role": "caregiver"}).status_code == 201
    assert client.post(f"{API}/invites", json={"role": "nursing-parent"}).status_code == 201


# --- 7. entry size ---------------------------------------------------------------------------


def test_an_entry_with_a_huge_list_is_refused_with_why(client: TestClient) -> None:
    huge = client.post(f"{API}/entries", json=pump_entry(ejections_s=[1.0] * 50_000))
    assert huge.status_code in (413, 422)
    many = client.post(f"{API}/entries", json=pump_entry(ejections_s=[1.0] * 5_000))
    assert many.status_code == 422
    assert "ejections_s" in str(many.json()["detail"])
    assert "1000" in str(many.json()["detail"])
    fine = client.post(f"{API}/entries", json=pump_entry(ejections_s=[60.0, 300.0]))
    assert fine.status_code == 201
    edited = client.patch(f"{API}/entries/{fine.json()['id']}", json={"ejections_s": [1.0] * 5_000})
    assert edited.status_code == 422
    revisions = client.get(f"{API}/entries/{fine.json()['id']}/revisions")
    assert len(revisions.content) < 10_000


# --- 8. history that overflows -----------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["since=99999999d", "until=0001-01-01T00:00:00%2B23:59", "since=-99999999999h"]
)
def test_history_far_out_of_range_is_a_clear_error(client: TestClient, query: str) -> None:
    answer = client.get(f"/history?{query}")
    assert answer.status_code == 422
    assert "History" in answer.text


# --- 9. bag labels -------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["../stash/M3K", "A B", "X?Y", "a#1", "50%"])
def test_a_bag_label_must_be_letters_digits_or_hyphens(client: TestClient, code: str) -> None:
    answer = client.post(
        f"{API}/stash", json={"volume_ml": 60, "expressed_at": START.isoformat(), "code": code}
    )
    assert answer.status_code == 422
    assert "letters, digits or hyphens" in answer.text


def test_a_bag_label_is_encoded_wherever_a_link_holds_it(app: FastAPI, client: TestClient) -> None:
    made = client.post(
        f"{API}/stash", json={"volume_ml": 60, "expressed_at": START.isoformat(), "code": "F-12"}
    )
    assert made.status_code == 201
    # A label from before the rule (the migration relabels such bags; here one slipped in).
    with app.state.journal.engine.begin() as connection:
        connection.execute(text("UPDATE bags SET code = 'A/B?C' WHERE code = 'F-12'"))
    page = client.get("/stash").text
    assert 'action="/stash/A%2FB%3FC/use"' in page
    assert 'action="/stash/A/B' not in page


def test_the_upgrade_relabels_bags_a_link_cannot_carry(tmp_path: Path) -> None:
    from alembic import command

    from letdown.journal import HouseholdInfo, Journal, MemberInfo, db

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    with Journal.open(url) as journal:
        book = journal.create_household(
            HouseholdInfo(name="Home"), MemberInfo(name="Alex", role=Role.NURSING_PARENT)
        )
        book.stash_add(60, expressed_at=START, code="OK1")
        book.stash_add(60, expressed_at=START, code="BAD")
        with journal.engine.begin() as connection:
            command.downgrade(db._config(connection), "0003")
            connection.execute(text("UPDATE bags SET code = '../STASH/M3K' WHERE code = 'BAD'"))
    engine = db.make_engine(url)
    try:
        db.upgrade(engine)
    finally:
        engine.dispose()
    with Journal.open(url) as journal:
        bags = {bag.code: bag for bag in journal.book("Home").stash()}
    assert "OK1" in bags
    relabelled = [bag for code, bag in bags.items() if code != "OK1"]
    assert len(relabelled) == 1
    assert re.fullmatch(r"[A-Z0-9-]+", relabelled[0].code)
    assert "../STASH/M3K" in relabelled[0].notes


# --- 11. the API's document ------------------------------------------------------------------


def test_the_api_document_and_reference_are_for_members_only(
    app: FastAPI, client: TestClient
) -> None:
    stranger = TestClient(app, follow_redirects=False)
    assert stranger.get("/openapi.json").status_code == 401
    assert stranger.get("/docs", headers={"Accept": "text/html"}).status_code == 303
    assert stranger.get("/redoc").status_code == 404
    document = client.get("/openapi.json")
    assert document.status_code == 200 and f"{API}/entries" in document.json()["paths"]
    reference = client.get("/docs")
    assert reference.status_code == 200
    assert f"POST {API}/entries" in reference.text
    assert "<script" not in reference.text.replace('<script src="/static/', "")
    assert "cdn" not in reference.text.lower()


# --- the CLI ----------------------------------------------------------------------------------


def test_the_cli_resets_a_password_and_manages_tokens(
    app: FastAPI, client: TestClient, settings: Settings
) -> None:
    from typer.testing import CliRunner

    from letdown.cli import app as cli

    runner = CliRunner()
    db_url = ["--db", str(settings.db)]
    laptop = logged_in(app, "alex")
    reset = runner.invoke(
        cli, ["household", "password", "alex", *db_url], input="cli secret 1\ncli secret 1\n"
    )
    assert reset.exit_code == 0, reset.output
    assert laptop.get(f"{API}/me").status_code == 401
    logged_in(app, "alex", "cli secret 1")
    made = runner.invoke(cli, ["household", "token-new", "alex", "--name", "backup", *db_url])
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert token.startswith("ld_")
    listed = runner.invoke(cli, ["household", "tokens", "alex", *db_url])
    token_id = listed.output.split()[0]
    assert "backup" in listed.output
    script = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert script.get(f"{API}/me").status_code == 200
    revoked = runner.invoke(cli, ["household", "token-revoke", "alex", token_id, *db_url])
    assert revoked.exit_code == 0, revoked.output
    assert script.get(f"{API}/me").status_code == 401
    unknown = runner.invoke(cli, ["household", "tokens", "nobody", *db_url])
    assert unknown.exit_code == 2 and "no login" in unknown.output
