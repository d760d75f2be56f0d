"""Notifications from inside the app: a live session nearly done or ended, and the minute's run.

The live pump hub calls ``Notices.on_state`` with every state it publishes, from its
control thread and under its lock: that call only looks at two flags and, the first time
a session is nearly done or has ended, puts the state on a queue (never waiting: a full
queue drops it and says so). One worker thread of its own takes the queue and queues
and sends the notices (``letdown.notify``), so a slow or dead channel never holds the
pump back; the journal is only written by the notices' own short transactions.

The same thread runs what ``letdown notify run`` runs for every household when ``tick``
asks (the app's lifespan does, every minute): one thread sends, so a notice is never
sent twice by two senders at once.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from pathlib import Path

from letdown import notify
from letdown.journal import Journal
from letdown.journal.records import now_utc
from letdown.web.live import LiveState
from letdown.web.pump import pump_state

log = logging.getLogger(__name__)

PERIOD_S = 60.0
"""How often the app runs what ``letdown notify run`` runs (the CLI's "every minute")."""
MAX_WAITING = 256
"""Session events waiting for the worker, at most (more are dropped, and logged)."""
REMEMBERED_SESSIONS = 1024
"""Sessions whose notices were handed over already (a republished end is not news)."""
CLOSE_WAIT_S = 2.0
NEARLY_DONE = "nearly_done"
ENDED = "ended"

_Job = tuple[str, LiveState] | None
"""A session event (what, the state), or None: the minute's run."""


class Notices:
    """The app's notifications: session events from the hub and the minute's run."""

    def __init__(self, journal: Journal, send: notify.Send) -> None:
        self.journal = journal
        self.send = send
        self._jobs: queue.Queue[_Job] = queue.Queue(MAX_WAITING)
        self._told: OrderedDict[str, set[str]] = OrderedDict()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="letdown-notices", daemon=True)

    @classmethod
    def for_app(cls, journal: Journal, data_folder: Path) -> Notices:
        """Web Push keys live in ``data_folder`` (made at first use), Apprise for the rest."""
        return cls(journal, notify.sender(data_folder))

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop the worker (what it is sending finishes, or is left to the next start)."""
        self._stop.set()
        self._put(None)
        if self._thread.is_alive():
            self._thread.join(CLOSE_WAIT_S)

    # --- from the hub's control thread: quick, never waits --------------------------------
    def on_state(self, state: LiveState) -> None:
        """The hub published ``state``: hand a session's first "nearly done" and its end over."""
        if state.session_id is None or state.started_by is None:
            return
        if state.running:
            if state.snapshot is None or not state.snapshot.nearly_done:
                return
            what = NEARLY_DONE
        else:
            what = ENDED
        told = self._told.get(state.session_id)
        if told is not None and what in told:
            return
        if told is None:
            told = self._told[state.session_id] = set()
            while len(self._told) > REMEMBERED_SESSIONS:
                self._told.popitem(last=False)
        told.add(what)
        if what == ENDED:
            told.add(NEARLY_DONE)  # a session stopped early is never "nearly done" after
        self._put((what, state))

    def tick(self) -> None:
        """Ask for the minute's run (from the app's lifespan task; never waits)."""
        self._put(None)

    def _put(self, job: _Job) -> None:
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            log.warning("notifications: too many waiting; one was dropped")

    # --- the worker ------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            job = self._jobs.get()
            if self._stop.is_set():
                return
            try:
                if job is None:
                    self._run_all()
                else:
                    self._session(*job)
            except Exception:  # a failed run is logged; the next one tries again
                log.exception("notifications: could not queue or send")

    def _session(self, what: str, state: LiveState) -> None:
        assert state.session_id is not None and state.started_by is not None
        event = notify.session_event(
            what, state.session_id, state.started_by, _ending(state) if what == ENDED else ""
        )
        now = now_utc()
        notify.queue_for(self.journal.engine, state.household_id, [event], now)
        notify.deliver(self.journal.engine, now, self.send)

    def _run_all(self) -> None:
        for name in self.journal.household_names():
            if self._stop.is_set():
                return
            try:
                book = self.journal.book(household=name)
                notify.run_once(book, now_utc(), self.send)
            except Exception:
                log.exception("notifications: the run for %s failed", name)


def _ending(state: LiveState) -> str:
    shown = pump_state(state)
    if shown.fault is not None:
        return f" after a fault: {shown.fault.message}"
    collected = [
        f"{name} {view.volume_ml:.0f} mL"
        for name, view in (("left", shown.left), ("right", shown.right))
        if view is not None and view.volume_ml is not None
    ]
    return f"; collected {', '.join(collected)}" if collected else ""


__all__ = ["PERIOD_S", "Notices"]
