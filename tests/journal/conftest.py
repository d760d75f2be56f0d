"""Journals on a throwaway database, with a household ready to write in.

Every test that asks for ``journal_url`` (or ``journal``, ``book``) runs twice: on a new
SQLite file and on a new database of a throwaway PostgreSQL 15 server that this suite
starts once, on a free port, and stops at the end. PostgreSQL refuses to run as root, so
as root the server runs as the ``postgres`` user. Without the binaries the PostgreSQL
runs are skipped, unless ``LETDOWN_REQUIRE_POSTGRES=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_postgresql.janitor import DatabaseJanitor
from tests.ports import free_port

from letdown.journal import Book, ChildInfo, HouseholdInfo, Journal, MemberInfo, Role

POSTGRES_BIN = Path(os.environ.get("LETDOWN_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
REQUIRE_POSTGRES = os.environ.get("LETDOWN_REQUIRE_POSTGRES") == "1"
POSTGRES_START_TIMEOUT_S = 60
_database_numbers = itertools.count(1)


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway server: connect as ``user`` over TCP on 127.0.0.1."""

    port: int
    user: str = "postgres"
    host: str = "127.0.0.1"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def janitor(self, database: str) -> DatabaseJanitor:
        return DatabaseJanitor(user=self.user, host=self.host, port=self.port, dbname=database)


def _unavailable(reason: str) -> None:
    if REQUIRE_POSTGRES:
        pytest.fail(f"LETDOWN_REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL for the tests: {reason}")


def _as_server_user(command: list[str]) -> list[str]:
    """The command as the ``postgres`` user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL 15 server in a temporary folder, started on first use in the session.

    Durability settings are off (``fsync``, ``full_page_writes``): the server only has to
    survive its clients being killed, never the machine losing power, and databases are
    created and dropped per test.
    """
    pg_ctl = POSTGRES_BIN / "pg_ctl"
    if not pg_ctl.exists():
        _unavailable(f"{pg_ctl} is missing (apt-get install postgresql-15)")
    if os.geteuid() == 0:
        try:
            server_user = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no postgres user to run the server")
        if shutil.which("runuser") is None:
            _unavailable("running as root and runuser is missing")
    folder = Path(tempfile.mkdtemp(prefix="letdown-pg-"))
    data, log = folder / "data", folder / "server.log"
    port = free_port()

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _as_server_user(list(command)),
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=POSTGRES_START_TIMEOUT_S,
            check=False,
        )

    def run_or_fail(*command: str) -> None:
        done = run(*command)
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            pytest.fail(
                f"{' '.join(command)} failed ({done.returncode}):\n"
                f"{done.stdout}{done.stderr}{tail}",
                pytrace=False,
            )

    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -k {folder} "
        "-c fsync=off -c full_page_writes=off -c max_connections=200"
    )
    try:
        if os.geteuid() == 0:
            os.chown(folder, server_user.pw_uid, server_user.pw_gid)
        run_or_fail(
            str(POSTGRES_BIN / "initdb"),
            *("-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"),
            *("--no-locale", "--no-sync"),
        )
        run_or_fail(str(pg_ctl), "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
        yield PostgresServer(port=port)
    finally:
        if (data / "postmaster.pid").exists():
            run(str(pg_ctl), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A new, empty database on the throwaway server, dropped after the test."""
    name = f"letdown_test_{os.getpid()}_{next(_database_numbers)}"
    janitor = postgres_server.janitor(name)
    janitor.init()
    try:
        yield postgres_server.url(name)
    finally:
        janitor.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to a journal database that does not exist yet (SQLite) or is empty (PostgreSQL)."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'journal.sqlite'}"


@pytest.fixture
def journal(journal_url: str) -> Iterator[Journal]:
    with Journal.open(journal_url) as opened:
        yield opened


@pytest.fixture
def book(journal: Journal) -> Book:
    """Household "Home" (Europe/Paris) with Alex (nursing parent), Sam (partner), child Robin."""
    book = journal.create_household(
        HouseholdInfo(name="Home", time_zone="Europe/Paris"),
        MemberInfo(name="Alex", role=Role.NURSING_PARENT),
    )
    book.add_member(MemberInfo(name="Sam", role=Role.PARTNER))
    book.add_child(ChildInfo(name="Robin"))
    return book
