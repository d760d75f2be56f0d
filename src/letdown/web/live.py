"""Live pump sessions: the control loop in its own thread, snapshots out to every phone.

One session per household at a time. Each runs a ``PumpSession`` in a daemon thread that
paces the device's clock against the wall clock (times ``settings.sim_speed`` on the
simulated pump) and publishes a frozen ``LiveState`` about 30 times a second. Phones
subscribe from the event loop: the thread hands states over with
``loop.call_soon_threadsafe`` into an ``asyncio.Queue`` where a newer state replaces an
unread one, so a slow phone gets the newest state and never holds the pump back.
Commands go the other way through ``PumpSession.send``, which the loop drains every
tick; a repeated ``command_id`` acts once. When a session ends, by its own rules, a
stop, a fault or ``close()``, the thread leaves the device closed (motor off, vents
open) and stores the session in the journal as the member who started it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import ValidationError

from letdown.device import open_pump
from letdown.device.base import SIDES, Pump, Side, make_safe
from letdown.device.sim import SimPump
from letdown.errors import InvalidEntryError, LetdownError
from letdown.journal import Identity, Journal, NotAllowedError, PumpSession
from letdown.pump.comfort import MAX_CEILING_MMHG, MIN_CEILING_MMHG, ComfortProfile
from letdown.pump.session import (
    LETDOWN,
    AdaptiveProgram,
    Command,
    CommandKind,
    SessionRecord,
    Snapshot,
)
from letdown.pump.session import PumpSession as Controller
from letdown.recording import DEVICE_NAME, to_journal
from letdown.safety import SafePump
from letdown.twin.cohort import ParentSpec, generate_cohort
from letdown.web.settings import Settings

log = logging.getLogger(__name__)

PUBLISH_PERIOD_S = 0.028
"""Phones get a state this often (wall time), and at once on every change: about 30 a
second, every third tick of a 100 Hz loop."""
SLEEP_MIN_S = 0.002
"""The loop sleeps only when this far ahead of the wall clock: simulated ticks at high
speed run in batches between sleeps."""
MAX_LAG_S = 0.25
"""Further behind the wall clock than this (a slow machine), the pacing starts afresh
rather than racing to catch up."""
STOP_JOIN_S = 5.0
"""``close()`` waits this long for a session to end before closing its device itself."""
APPLIED_WAIT_S = 0.5
LEVEL_STEP_MMHG = 10.0
"""One tap of level up or down."""
REMEMBERED_COMMANDS = 4096
"""Command ids remembered per household, so a late retry never acts on a newer session."""


class SessionRunningError(LetdownError, RuntimeError):
    """The household's pump is running already: one session at a time."""


class NoSessionError(LetdownError, LookupError):
    """A command for a session that is not running (never started, or finished)."""


class HubClosedError(LetdownError, RuntimeError):
    """The app is shutting down: no new sessions."""


class LiveCommand(StrEnum):
    """What a phone can ask of a running session."""

    TOO_MUCH = "too_much"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    LEVEL_UP = "level_up"
    LEVEL_DOWN = "level_down"
    CALIBRATE = "calibrate"
    """Forget a side's remembered comfort ceiling (both if no side): the next session
    learns it afresh, stepping up until the parent taps "too much"."""


SIDED = frozenset({LiveCommand.TOO_MUCH, LiveCommand.LEVEL_UP, LiveCommand.LEVEL_DOWN})
UNSIDED = frozenset({LiveCommand.PAUSE, LiveCommand.RESUME, LiveCommand.STOP})


@dataclass(frozen=True, slots=True)
class LiveState:
    """One household's pump as the phones see it; immutable, safe across threads.

    ``snapshot`` is the running (or last) session's, None before the first session;
    ``read_at`` is the wall time (epoch seconds) when its readings were taken.
    ``comfort`` holds the ceilings the next session starts from (None: to be learned).
    """

    household_id: int
    seq: int
    running: bool
    comfort: ComfortProfile
    session_id: str | None = None
    program: str | None = None
    started_by: str | None = None
    snapshot: Snapshot | None = None
    read_at: float | None = None
    ended_by: str | None = None
    error: str | None = None
    """The controller itself failed (not a safety fault): what happened."""
    journal_entry_id: int | None = None
    journal_error: str | None = None


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    command_id: str
    kind: LiveCommand
    side: Side | None
    repeated: bool
    """True when this command_id had acted already: it did nothing this time."""
    state: LiveState


class Subscription:
    """One phone's feed of states: only the newest waits to be read.

    Made inside the event loop (``LiveHub.subscribe``); ``offer`` is safe from any thread
    and never blocks. ``get`` returns None once the hub has closed, after the last state.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, household_id: int) -> None:
        self.household_id = household_id
        self.dropped = 0
        """States replaced by a newer one before the phone read them."""
        self.closed = False
        self._loop = loop
        self._queue: asyncio.Queue[LiveState | None] = asyncio.Queue()
        self._ended = False

    def offer(self, state: LiveState | None) -> None:
        """Hand over ``state`` (None: the hub closed)."""
        if self.closed:
            return
        try:
            self._loop.call_soon_threadsafe(self._put, state)
        except RuntimeError:
            # The phone's event loop has ended: nobody is listening any more.
            self.closed = True

    def _put(self, state: LiveState | None) -> None:
        if self._ended:
            return
        if state is None:
            self._ended = True
        else:
            while not self._queue.empty():
                self._queue.get_nowait()
                self.dropped += 1
        self._queue.put_nowait(state)

    async def get(self) -> LiveState | None:
        return await self._queue.get()


@dataclass(eq=False)
class LiveSession:
    """A session the hub runs: its controller, device and control thread."""

    id: str
    household_id: int
    household: str
    started_by: str
    program: str
    controller: Controller
    pump: SafePump
    started_at: datetime
    speed: float
    latest: Snapshot
    """The newest snapshot, taken by the control thread (other threads only read it)."""
    thread: threading.Thread | None = None
    done: threading.Event = field(default_factory=threading.Event)
    """Set once the session ended, its device is closed and the journal written."""
    hurry: threading.Event = field(default_factory=threading.Event)
    """Set by ``close()``: run to the end without waiting on the wall clock."""
    forget: set[Side] = field(default_factory=set)
    received: int = 0
    applied: int = 0
    changed: bool = False
    read_at: float | None = None
    ended_by: str | None = None
    error: str | None = None
    journal_entry_id: int | None = None
    journal_error: str | None = None

    @property
    def running(self) -> bool:
        return not self.done.is_set()


@dataclass(eq=False)
class _Household:
    id: int
    name: str
    learned: dict[Side, float] = field(default_factory=dict)
    """Ceilings the household's sessions in this app ended with."""
    forgotten: set[Side] = field(default_factory=set)
    """Sides to learn afresh (calibrate): the journal's older ceilings do not count."""
    from_journal: ComfortProfile | None = None
    """The journal's latest ceilings, as last read (None: not read yet)."""
    live: LiveSession | None = None
    starting: bool = False
    subscribers: list[Subscription] = field(default_factory=list)
    seq: int = 0
    last_entry_id: int | None = None
    seen: set[str] = field(default_factory=set)
    seen_order: deque[str] = field(default_factory=deque)

    def comfort(self) -> ComfortProfile:
        """Where the next session starts: learned here, else the journal's, else learn."""
        journal = self.from_journal or ComfortProfile()
        values: dict[Side, float | None] = {}
        for side in SIDES:
            if side in self.learned:
                values[side] = self.learned[side]
            else:
                values[side] = None if side in self.forgotten else journal.ceiling(side)
        return ComfortProfile(values[Side.LEFT], values[Side.RIGHT])

    def remember(self, command_id: str) -> bool:
        """Whether ``command_id`` is new (and remember it)."""
        if command_id in self.seen:
            return False
        self.seen.add(command_id)
        self.seen_order.append(command_id)
        if len(self.seen_order) > REMEMBERED_COMMANDS:
            self.seen.discard(self.seen_order.popleft())
        return True


class LiveHub:
    """Every household's live pump session, and the phones watching it.

    Args:
        journal: where finished sessions are stored, and earlier ceilings read from.
        settings: ``device`` names the pump backend; on ``sim``, ``sim_speed`` and
            ``sim_seed`` pick the pace and the generated parent.

    ``start``, ``command`` and ``stop`` are safe from any thread; ``subscribe`` must be
    called in the event loop that will read the feed. ``close()`` stops every session
    safely and waits for its thread.
    """

    def __init__(self, journal: Journal, settings: Settings) -> None:
        self.journal = journal
        self.settings = settings
        self.programs: dict[str, AdaptiveProgram] = {LETDOWN.name: LETDOWN}
        self._lock = threading.Lock()
        self._households: dict[int, _Household] = {}
        self._closed = False
        self._parent: ParentSpec | None = None
        self._seed: int | str | None = None
        self._prepare: Callable[[SimPump], None] | None = None
        self._sessions = itertools.count(1)

    # --- hooks for the demo and tests ---------------------------------------------------
    def add_program(self, program: AdaptiveProgram) -> None:
        """Offer another adaptive program by its name (a short one for a demo or test)."""
        self.programs[program.name] = program

    def use_sim(
        self,
        parent: ParentSpec | None = None,
        *,
        seed: int | str | None = None,
        prepare: Callable[[SimPump], None] | None = None,
    ) -> None:
        """Run later simulated sessions on ``parent`` (None: a generated one).

        ``prepare`` sees each new ``SimPump`` before its session starts, to inject
        faults at simulated times.
        """
        self._parent = parent
        self._seed = seed
        self._prepare = prepare

    # --- reading ----------------------------------------------------------------------------
    def state(self, who: Identity) -> LiveState:
        """The household's pump now (reads remembered ceilings from the journal once)."""
        house = self._house(who)
        if house.from_journal is None:
            from_journal = self._journal_comfort(who)
            with self._lock:
                house.from_journal = house.from_journal or from_journal
        with self._lock:
            return self._state(house)

    def session(self, household_id: int) -> LiveSession | None:
        """The household's running or last session (for tests and the demo)."""
        with self._lock:
            house = self._households.get(household_id)
            return None if house is None else house.live

    @contextmanager
    def subscribe(self, who: Identity) -> Iterator[Subscription]:
        """A feed of the household's states, starting with the current one."""
        feed = Subscription(asyncio.get_running_loop(), who.household_id)
        house = self._house(who)
        with self._lock:
            house.subscribers.append(feed)
            feed.offer(self._state(house))
            if self._closed:
                feed.offer(None)
        try:
            yield feed
        finally:
            feed.closed = True
            with self._lock:
                if feed in house.subscribers:
                    house.subscribers.remove(feed)

    # --- control ----------------------------------------------------------------------------
    def start(
        self,
        who: Identity,
        *,
        program: str = LETDOWN.name,
        soreness: dict[Side, float] | None = None,
        calibrate: bool = False,
    ) -> LiveState:
        """Start a session for ``who``'s household; ``calibrate`` learns both ceilings afresh."""
        if not who.can_write:
            raise NotAllowedError(f"{who.member} is a viewer and cannot run the pump")
        chosen = self.programs.get(program)
        if chosen is None:
            raise InvalidEntryError(
                f"program: unknown program {program!r} (known: {', '.join(self.programs)})"
            )
        house = self._house(who)
        with self._lock:
            if self._closed:
                raise HubClosedError("letdown is shutting down: the pump cannot start now")
            if house.starting or (house.live is not None and house.live.running):
                by = "" if house.live is None else f" (started by {house.live.started_by})"
                raise SessionRunningError(f"the pump is running already{by}: stop it first")
            house.starting = True
        try:
            live = self._open(who, house, chosen, soreness or {}, calibrate)
        finally:
            with self._lock:
                house.starting = False
        with self._lock:
            if self._closed:
                live.pump.close()
                raise HubClosedError("letdown is shutting down: the pump cannot start now")
            house.live = live
            # Not a daemon: the process waits for the pump to be left safe.
            thread = threading.Thread(
                target=self._control,
                args=(house, live),
                name=f"letdown-pump-{house.id}",
                daemon=False,
            )
            live.thread = thread
            thread.start()
            return self._state(house)

    def command(
        self, who: Identity, command_id: str, kind: LiveCommand, side: Side | None = None
    ) -> tuple[LiveSession | None, int, bool]:
        """Queue a command; returns the session, the command's number and whether it is new.

        A ``command_id`` seen before for this household does nothing (a double tap, a
        retry, or the same tap from two phones).
        """
        if not who.can_write:
            raise NotAllowedError(f"{who.member} is a viewer and cannot run the pump")
        kind = LiveCommand(kind)
        if kind in SIDED and side is None:
            raise InvalidEntryError(f"side: {kind.value} needs a side (left or right)")
        if kind in UNSIDED and side is not None:
            raise InvalidEntryError(f"side: {kind.value} acts on both sides; leave side out")
        house = self._house(who)
        with self._lock:
            live = house.live
            running = live is not None and live.running and not live.controller.finished
            if kind is not LiveCommand.CALIBRATE and not running:
                raise NoSessionError("no pump session is running: start one first")
            if not house.remember(command_id):
                return live, 0 if live is None else live.received, False
            if kind is LiveCommand.CALIBRATE:
                sides = SIDES if side is None else (side,)
                for forgotten in sides:
                    house.learned.pop(forgotten, None)
                    house.forgotten.add(forgotten)
                if running and live is not None:
                    live.forget.update(sides)
                self._publish_locked(house)
                return None, 0, True
            assert live is not None
            live.controller.send(_controller_command(kind, side, command_id))
            live.received += 1
            return live, live.received, True

    def act(
        self, who: Identity, command_id: str, kind: LiveCommand, side: Side | None = None
    ) -> CommandOutcome:
        """``command``, then wait (a tick or two) until the control loop applied it, so
        the state returned shows its effect."""
        live, number, new = self.command(who, command_id, kind, side)
        if live is not None and new and number:
            _wait_applied(live, number)
        return CommandOutcome(command_id, LiveCommand(kind), side, not new, self.state(who))

    def stop(self, who: Identity) -> LiveState:
        """Stop the household's session if one runs (idempotent)."""
        if not who.can_write:
            raise NotAllowedError(f"{who.member} is a viewer and cannot run the pump")
        house = self._house(who)
        with self._lock:
            live = house.live
            number = 0
            if live is not None and live.running:
                live.controller.send(Command(CommandKind.STOP, id=f"stop:{live.id}"))
                live.received += 1
                number = live.received
        if live is not None and number:
            _wait_applied(live, number)
        return self.state(who)

    def close(self) -> None:
        """Stop every session safely, wait for its thread, and end every feed. Idempotent."""
        with self._lock:
            self._closed = True
            running = [h.live for h in self._households.values() if h.live and h.live.running]
            feeds = [feed for h in self._households.values() for feed in h.subscribers]
            for live in running:
                live.controller.send(Command(CommandKind.STOP, id=f"stop:{live.id}"))
                live.hurry.set()
        for live in running:
            if live.thread is not None:
                live.thread.join(STOP_JOIN_S)
                if live.thread.is_alive():
                    # Closing is a request the pump's safety core honours within a tick.
                    log.error("pump session %s did not stop in time: closing its device", live.id)
                    live.pump.close()
                    live.thread.join(STOP_JOIN_S)
            if live.pump.closed and not live.pump.problems:
                log.warning(
                    "letdown is stopping: the pump of %s is off (motors off, vents open)",
                    live.household,
                )
            else:
                log.error(
                    "letdown is stopping: the pump of %s may not be off: %s",
                    live.household,
                    "; ".join(live.pump.problems) or "it did not close",
                )
        for feed in feeds:
            feed.offer(None)

    # --- the control thread ---------------------------------------------------------------
    def _control(self, house: _Household, live: LiveSession) -> None:
        controller = live.controller
        controller.add_listener(lambda _snapshot: _mark_changed(live), every_ticks=2**62)
        period_s = controller.tick_s / live.speed
        next_wall_s = time.monotonic()
        published_s = next_wall_s
        try:
            while not controller.finished:
                with self._lock:
                    received = live.received
                read_at = time.time()
                controller.step()
                live.read_at = read_at
                now_s = time.monotonic()
                acted = received != live.applied
                if acted or live.changed or now_s - published_s >= PUBLISH_PERIOD_S:
                    live.changed = False
                    published_s = now_s
                    live.latest = controller.snapshot()
                    live.applied = received  # after ``latest``: a waiting request sees both
                    self._publish(house)
                if live.hurry.is_set():
                    continue
                next_wall_s += period_s
                ahead_s = next_wall_s - now_s
                if ahead_s > SLEEP_MIN_S:
                    live.hurry.wait(ahead_s)
                elif ahead_s < -MAX_LAG_S:
                    next_wall_s = now_s
        except Exception as exc:  # the pump must end safe whatever went wrong
            log.exception("pump session %s failed", live.id)
            live.error = f"{type(exc).__name__}: {exc}"
        finally:
            problem = _close_safely(live.pump)
            if problem is not None and live.error is None:
                live.error = problem
        learned: dict[Side, float] = {}
        try:
            live.latest = controller.snapshot()
            if live.error is None:
                learned = self._finish(live)
        except Exception as exc:
            log.exception("pump session %s could not be wound up", live.id)
            live.error = live.error or f"{type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                if live.error is not None:
                    live.ended_by = "error"
                for side, ceiling_mmhg in learned.items():
                    house.learned[side] = ceiling_mmhg
                    house.forgotten.discard(side)
                if live.journal_entry_id is not None:
                    house.last_entry_id = live.journal_entry_id
                live.done.set()
                self._publish_locked(house)

    def _finish(self, live: LiveSession) -> dict[Side, float]:
        """Store the ended session; returns the ceilings it learned, to remember."""
        record = live.controller.record()
        live.ended_by = record.ended_by
        learned = {
            side: ceiling
            for side, ceiling in record.ceilings_mmhg.items()
            if not live.latest.side(side).learning and side not in live.forget
        }
        # A side still learning never found its ceiling: the journal must not keep the
        # search's upper bound as if it were one.
        record.ceilings_mmhg = learned
        self._store(live, record)
        return learned

    def _store(self, live: LiveSession, record: SessionRecord) -> None:
        try:
            book = self.journal.book(household=live.household, member=live.started_by)
            live.journal_entry_id = book.add(to_journal(record, live.started_at)).id
        except (LetdownError, ValidationError) as exc:
            log.exception("pump session %s could not be stored", live.id)
            live.journal_error = f"the session could not be saved in the journal: {exc}"

    # --- helpers --------------------------------------------------------------------------
    def _house(self, who: Identity) -> _Household:
        with self._lock:
            house = self._households.get(who.household_id)
            if house is None:
                house = _Household(who.household_id, who.household)
                self._households[who.household_id] = house
            return house

    def _open(
        self,
        who: Identity,
        house: _Household,
        program: AdaptiveProgram,
        soreness: dict[Side, float],
        calibrate: bool,
    ) -> LiveSession:
        from_journal = self._journal_comfort(who)
        with self._lock:
            house.from_journal = from_journal
            if calibrate:
                # Forgotten now, so that a calibration stopped early still leaves the
                # next session to learn them.
                house.learned.clear()
                house.forgotten.update(SIDES)
            profile = house.comfort()
        number = next(self._sessions)
        pump = self._open_pump(number)
        try:
            controller = Controller(pump, program, profile=profile, soreness=soreness)
            controller.start()
        except BaseException:
            pump.close()
            raise
        return LiveSession(
            id=uuid.uuid4().hex,
            household_id=house.id,
            household=house.name,
            started_by=who.member,
            program=program.name,
            controller=controller,
            pump=pump,
            started_at=datetime.now(UTC),
            speed=self.settings.sim_speed if pump.name == "sim" else 1.0,
            latest=controller.snapshot(),
        )

    def _open_pump(self, number: int) -> SafePump:
        """The session's pump, under the safety core: the hub never holds a raw backend."""
        if self.settings.device != "sim":
            return SafePump(open_pump(self.settings.device))
        if self._parent is not None:
            parent = self._parent
            seed: int | str = self._seed if self._seed is not None else f"web:{number}"
        else:
            cohort = generate_cohort(1, self.settings.sim_seed)
            parent = cohort.parents[0]
            seed = f"{cohort.session_seed(0)}:web:{number}"
        pump = SimPump(parent, seed=seed)
        if self._prepare is not None:
            try:
                self._prepare(pump)
            except BaseException:
                pump.close()
                raise
        return SafePump(pump)

    def _journal_comfort(self, who: Identity) -> ComfortProfile:
        """Each side's ceiling from the household's latest letdown sessions that had one."""
        try:
            book = self.journal.book(household=who.household)
            entries = book.history(kinds=["pump"], limit=20)
        except LetdownError:
            log.exception("could not read earlier comfort ceilings")
            return ComfortProfile()
        found: dict[Side, float] = {}
        for entry in entries:
            record = entry.record
            if not isinstance(record, PumpSession) or record.device != DEVICE_NAME:
                continue
            for side in SIDES:
                pumped = record.sides.get(side.value)
                ceiling = None if pumped is None else pumped.comfort_mmhg
                if side not in found and ceiling is not None and _plausible(ceiling):
                    found[side] = ceiling
        return ComfortProfile(found.get(Side.LEFT), found.get(Side.RIGHT))

    def _publish(self, house: _Household) -> None:
        with self._lock:
            self._publish_locked(house)

    def _publish_locked(self, house: _Household) -> None:
        state = self._state(house)
        for feed in house.subscribers:
            feed.offer(state)
        house.subscribers[:] = [feed for feed in house.subscribers if not feed.closed]

    def _state(self, house: _Household) -> LiveState:
        house.seq += 1
        comfort = house.comfort()
        live = house.live
        if live is None:
            return LiveState(house.id, house.seq, False, comfort, journal_entry_id=None)
        running = live.running
        return LiveState(
            household_id=house.id,
            seq=house.seq,
            running=running,
            comfort=comfort,
            session_id=live.id,
            program=live.program,
            started_by=live.started_by,
            snapshot=live.latest,
            read_at=live.read_at,
            ended_by=None if running else live.ended_by,
            error=live.error,
            journal_entry_id=house.last_entry_id,
            journal_error=live.journal_error,
        )


def _wait_applied(live: LiveSession, number: int) -> None:
    """Until the control loop has applied command ``number`` (a tick or two)."""
    deadline_s = time.monotonic() + APPLIED_WAIT_S
    while live.applied < number and live.running and time.monotonic() < deadline_s:
        time.sleep(0.002)


def _mark_changed(live: LiveSession) -> None:
    live.changed = True


def _controller_command(kind: LiveCommand, side: Side | None, command_id: str) -> Command:
    if kind is LiveCommand.LEVEL_UP:
        return Command(CommandKind.LEVEL, side, LEVEL_STEP_MMHG, id=command_id)
    if kind is LiveCommand.LEVEL_DOWN:
        return Command(CommandKind.LEVEL, side, -LEVEL_STEP_MMHG, id=command_id)
    return Command(CommandKind(kind.value), side, id=command_id)


def _plausible(ceiling_mmhg: float) -> bool:
    """A ceiling a session can start from: within the safety core's limits for a comfort
    ceiling (an older release may have stored a search's upper bound as one)."""
    return MIN_CEILING_MMHG <= ceiling_mmhg < MAX_CEILING_MMHG


def _close_safely(pump: Pump) -> str | None:
    """Motor off, vents open, device closed; what went wrong, if anything did (the
    hardware watchdog then cuts the motor, as nothing kicks it any more)."""
    problem = None
    for action in (make_safe, lambda device: device.close()):
        try:
            action(pump)
        except Exception as exc:
            log.exception("could not make the pump safe")
            problem = f"the pump could not be switched off cleanly: {exc}"
    return problem


def split_message(message: str) -> tuple[str, str]:
    """A fault's message as (what happened, what to do)."""
    head, sep, rest = message.partition(". ")
    return (head + ".", rest) if sep else (message, "")


__all__ = [
    "LEVEL_STEP_MMHG",
    "CommandOutcome",
    "HubClosedError",
    "LiveCommand",
    "LiveHub",
    "LiveSession",
    "LiveState",
    "NoSessionError",
    "SessionRunningError",
    "Subscription",
    "split_message",
]
