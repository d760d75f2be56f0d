"""A journal entry that was acknowledged is never lost, and two members never lock each other out.

The writers are real processes: a writer is killed with SIGKILL at random points, and
two members' writers run at the same time against the same household. Starting Python
and importing the journal takes about a second, so the killed writers are forked from
one process that imported it once (a "zygote"): each one still opens the journal,
writes and dies on its own, as an app killed by the system would.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO

import pytest
from sqlalchemy.engine import make_url

from letdown.journal import Book, Journal, Location, PumpSession
from letdown.journal.records import now_utc

KILL_ROUNDS = {"sqlite": 50, "postgresql": 10}
WRITES_PER_ROUND = 30
"""A writer stops by itself after this many writes if it was not killed before."""

ZYGOTE = r"""
import os
import random
import sys
import traceback
import uuid
from datetime import timedelta

from letdown.journal import (
    BottleFeed, Care, CareKind, Journal, Location, NurseFeed, PumpSession, Symptom,
)
from letdown.journal.records import now_utc


def say(line):
    os.write(1, (line + "\n").encode())  # one small write to a pipe: all of it or nothing


def record(rng, now):
    start = now - timedelta(minutes=rng.uniform(30, 600))
    end = start + timedelta(minutes=rng.uniform(5, 25))
    kind = rng.choice(["nurse", "pump", "bottle", "care", "symptom"])
    if kind == "nurse":
        return NurseFeed(
            start_at=start, end_at=end, child="Robin",
            sides={"left": {"duration_s": 300, "pain": rng.randint(0, 4)}},
        )
    if kind == "pump":
        return PumpSession(
            start_at=start, end_at=end,
            sides={side: {"volume_ml": rng.uniform(20, 90)} for side in ("left", "right")},
        )
    if kind == "bottle":
        return BottleFeed(
            start_at=start, child="Robin", amount_ml=rng.uniform(40, 120), content="formula"
        )
    if kind == "care":
        return Care(start_at=start, care=rng.choice(list(CareKind)), side="left")
    return Symptom(start_at=start, sides={"right": {"pain": rng.randint(1, 6)}})


def write(url, seed, limit):
    rng = random.Random(seed)
    say(f"pid {os.getpid()}")
    with Journal.open(url) as journal:
        book = journal.book("Home", "Alex")
        mine, fridge, frozen = [], [], []
        for _ in range(limit):
            now = now_utc()
            roll = rng.random()
            if roll < 0.15:
                bag = book.stash_add(rng.uniform(60, 150), expressed_at=now - timedelta(hours=1))
                fridge.append(bag.code)
                say(f"bag {bag.code}")
            elif roll < 0.25 and fridge:
                code = fridge.pop(0)
                entry = book.stash_use(code, child="Robin", volume_ml=rng.uniform(10, 50))
                say(f"entry {entry.uid} {entry.version}")
            elif roll < 0.30 and fridge:
                code = fridge.pop()
                book.stash_move(code, Location.FREEZER)
                frozen.append(code)
                say(f"moved {code}")
            elif roll < 0.35 and frozen:
                entry = book.stash_use(frozen.pop(), child="Robin")
                say(f"entry {entry.uid} {entry.version}")
            elif roll < 0.45 and mine:
                entry = book.edit(rng.choice(mine), {"notes": f"edited {rng.random():.6f}"})
                say(f"entry {entry.uid} {entry.version}")
            else:
                entry = book.add(record(rng, now), uid=str(uuid.UUID(int=rng.getrandbits(128))))
                mine.append(entry.uid)
                say(f"entry {entry.uid} {entry.version}")


for line in sys.stdin:
    url, seed, limit = line.split()
    pid = os.fork()
    if pid == 0:
        try:
            write(url, int(seed), int(limit))
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    say(f"done {status}")
"""

TWO_MEMBERS = r"""
import json
import sys
import traceback
from datetime import timedelta

from letdown.journal import BottleFeed, Journal, NurseFeed, PumpSession
from letdown.journal.records import now_utc

url, member, entries, edits, uses, shared, bag = sys.argv[1:]
entries, edits, uses = int(entries), int(edits), int(uses)
try:
    with Journal.open(url) as journal:
        book = journal.book("Home", member)
        print("ready", flush=True)
        sys.stdin.readline()
        added = []
        for index in range(entries):
            start = now_utc() - timedelta(hours=2, minutes=index)
            if member == "Alex":
                record = NurseFeed(
                    start_at=start, end_at=start + timedelta(minutes=10), child="Robin",
                    sides={"left": {"duration_s": 600}},
                )
            else:
                record = BottleFeed(start_at=start, child="Robin", amount_ml=90, content="formula")
            added.append(book.add(record).uid)
            if index < edits:
                book.edit(shared, {"notes": f"{member} {index}"})
            if index < uses:
                added.append(book.stash_use(bag, child="Robin", volume_ml=5).uid)
    print(json.dumps(added), flush=True)
except BaseException:
    traceback.print_exc()
    sys.exit(1)
"""


@dataclass
class Acks:
    """What killed writers said they had written, before they died."""

    entry_versions: dict[str, int] = field(default_factory=dict)
    bags: set[str] = field(default_factory=set)
    moved: set[str] = field(default_factory=set)

    def take(self, line: str) -> None:
        what, *rest = line.split()
        if what == "entry":
            uid, version = rest[0], int(rest[1])
            self.entry_versions[uid] = max(version, self.entry_versions.get(uid, 0))
        elif what == "bag":
            self.bags.add(rest[0])
        elif what == "moved":
            self.moved.add(rest[0])
        else:
            raise AssertionError(f"unexpected line from a writer: {line!r}")


class Zygote:
    """A Python process that imported the journal once and forks a writer per round."""

    def __init__(self, process: subprocess.Popen[str], errors: IO[str]) -> None:
        self.process = process
        self.errors = errors

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.errors.seek(0)
            raise AssertionError(f"the zygote died:\n{self.errors.read()}")
        return line.strip()

    def round(self, url: str, seed: int, kill_after_acks: int, jitter_s: float) -> list[str]:
        """One writer, killed once it acknowledged ``kill_after_acks`` writes (and a jitter)."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{url} {seed} {WRITES_PER_ROUND}\n")
        self.process.stdin.flush()
        acks: list[str] = []
        pid = int(self._line().removeprefix("pid "))
        killed = False
        while True:
            if not killed and len(acks) >= kill_after_acks:
                time.sleep(jitter_s)  # a random point inside the next write
                with suppress(ProcessLookupError):  # it had finished its writes already
                    os.kill(pid, signal.SIGKILL)
                killed = True
            line = self._line()
            if line.startswith("done "):
                status = int(line.removeprefix("done "))
                if os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0:
                    self.errors.seek(0)
                    raise AssertionError(f"writer {seed} failed:\n{self.errors.read()}")
                return acks
            acks.append(line)


@contextmanager
def zygote() -> Iterator[Zygote]:
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        try:
            yield Zygote(process, errors)
        finally:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            assert process.stdout is not None
            process.stdout.close()


def _sqlite_path(url: str) -> str | None:
    parsed = make_url(url)
    return parsed.database if parsed.get_backend_name() == "sqlite" else None


def _check_consistent(book: Book) -> None:
    """Each write landed whole: versions match revisions, bags match the bottles drawn."""
    used_ml: dict[str, float] = {}
    for entry in book.history():
        assert len(book.revisions(entry.uid)) == entry.version
        for use in getattr(entry.record, "bags", ()):
            used_ml[use.bag] = used_ml.get(use.bag, 0.0) + use.volume_ml
    for bag in book.stash(include_closed=True):
        assert bag.remaining_ml == pytest.approx(
            max(0.0, bag.volume_ml - used_ml.get(bag.code, 0.0)), abs=0.5
        )
        assert (bag.status == "used") == (bag.remaining_ml <= 0.5)


def test_killed_writers_lose_no_acknowledged_entry(journal_url: str, book: Book) -> None:
    store = make_url(journal_url).get_backend_name()
    rounds = KILL_ROUNDS[store]
    rng = random.Random(20240601)
    acks = Acks()
    with zygote() as writers:
        for seed in range(rounds):
            lines = writers.round(
                journal_url,
                seed,
                kill_after_acks=rng.randint(0, 12),
                jitter_s=rng.uniform(0.0, 0.012),
            )
            for line in lines:
                acks.take(line)
    assert len(acks.entry_versions) > rounds, "the writers were killed before writing much"

    database = _sqlite_path(journal_url)
    if database is not None:
        with closing(sqlite3.connect(database)) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    with Journal.open(journal_url) as reopened:
        after = reopened.book("Home", "Alex")
        for uid, version in acks.entry_versions.items():
            assert after.get(uid).version >= version
        for code in acks.bags:
            after.bag(code)
        for code in acks.moved:
            assert after.bag(code).stays[1].location is Location.FREEZER
        _check_consistent(after)
        now = now_utc()
        last = after.add(
            PumpSession(
                start_at=now - timedelta(minutes=15),
                end_at=now,
                sides={"left": {"volume_ml": 60.0}},
            )
        )
        assert after.get(last.uid).version == 1


def test_two_members_writing_at_once_both_land(journal_url: str, book: Book) -> None:
    entries, edits, uses = 60, 20, 10
    now = now_utc()
    shared = book.add(
        PumpSession(
            start_at=now - timedelta(hours=1),
            end_at=now - timedelta(minutes=40),
            sides={"left": {"volume_ml": 80.0}, "right": {"volume_ml": 70.0}},
        )
    )
    bag = book.stash_add(500.0, expressed_at=now - timedelta(minutes=40), sources=[shared.uid])
    counts = [str(entries), str(edits), str(uses)]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_MEMBERS, journal_url, member, *counts, shared.uid, bag.code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for member in ("Alex", "Sam")
    ]
    finished: list[tuple[int, str, str]] = []
    try:
        for writer in writers:
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == "ready"
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.flush()
        for writer in writers:
            out, errors = writer.communicate(timeout=120)
            finished.append((writer.returncode, out, errors))
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.communicate()
    added: list[str] = []
    for returncode, out, errors in finished:
        assert returncode == 0, errors
        assert "locked" not in errors
        added += json.loads(out)

    assert len(set(added)) == 2 * (entries + uses)
    assert {entry.uid for entry in book.history()} == {shared.uid, *added}
    edited = book.get(shared.uid)
    assert edited.version == 1 + 2 * edits
    history = book.revisions(shared.uid)
    assert [revision.version for revision in history] == list(range(1, 2 + 2 * edits))
    by_member = [revision.changed_by for revision in history[1:]]
    assert by_member.count("Alex") == by_member.count("Sam") == edits
    drawn = book.bag(bag.code)
    assert drawn.remaining_ml == pytest.approx(500.0 - 2 * uses * 5.0)
    _check_consistent(book)
