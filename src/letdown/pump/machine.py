"""The session's state machine: strict (illegal events raise) and observable.

The graph is data, checked when the module loads: every state is reachable from idle and
every non-final state can reach done (as python-statemachine checks its graphs).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from letdown.errors import LetdownError


class State(StrEnum):
    IDLE = "idle"
    STIMULATION = "stimulation"
    EXPRESSION = "expression"
    RESTIMULATION = "restimulation"
    FINISHING = "finishing"
    PAUSED = "paused"
    DONE = "done"
    FAULT = "fault"


class Event(StrEnum):
    START = "start"
    LETDOWN = "letdown"
    """Milk flows (an ejection was detected)."""
    TIMEOUT = "timeout"
    """The phase ran its full length (counted in loop ticks)."""
    LULL = "lull"
    """Flow fell between ejections."""
    FLOW_ENDED = "flow_ended"
    """Flow stayed low long after the last ejection, or the session cap came."""
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    FAULT = "fault"


class IllegalTransitionError(LetdownError, RuntimeError):
    """An event that the current state does not accept."""


_ACTIVE = (State.STIMULATION, State.EXPRESSION, State.RESTIMULATION)

TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.IDLE, Event.START): State.STIMULATION,
    (State.IDLE, Event.STOP): State.DONE,
    (State.STIMULATION, Event.LETDOWN): State.EXPRESSION,
    (State.STIMULATION, Event.TIMEOUT): State.EXPRESSION,
    (State.EXPRESSION, Event.LULL): State.RESTIMULATION,
    (State.RESTIMULATION, Event.LETDOWN): State.EXPRESSION,
    (State.RESTIMULATION, Event.TIMEOUT): State.EXPRESSION,
    (State.FINISHING, Event.TIMEOUT): State.DONE,
    (State.FINISHING, Event.STOP): State.DONE,
    (State.PAUSED, Event.STOP): State.DONE,
    **{(state, Event.FLOW_ENDED): State.FINISHING for state in _ACTIVE},
    **{(state, Event.PAUSE): State.PAUSED for state in _ACTIVE},
    **{(state, Event.STOP): State.FINISHING for state in _ACTIVE},
    **{
        (state, Event.FAULT): State.FAULT
        for state in State
        if state not in (State.DONE, State.FAULT)
    },
}
"""(state, event) -> next state. RESUME from paused returns to the state paused from."""

FINAL = frozenset({State.DONE, State.FAULT})


def _check_graph() -> None:
    reachable = {State.IDLE}
    frontier = [State.IDLE]
    while frontier:
        state = frontier.pop()
        targets = {to for (src, _), to in TRANSITIONS.items() if src is state}
        if state is State.PAUSED:
            targets |= set(_ACTIVE)
        for target in targets - reachable:
            reachable.add(target)
            frontier.append(target)
    missing = set(State) - reachable
    if missing:
        raise AssertionError(f"unreachable states: {missing}")
    for state in set(State) - FINAL:
        if (state, Event.FAULT) not in TRANSITIONS:
            raise AssertionError(f"{state} cannot fail safe")


_check_graph()


class SessionMachine:
    """Holds the state; ``send`` moves it or raises ``IllegalTransitionError``.

    Listeners get ``(old, event, new, at_s)`` after each transition.
    """

    def __init__(self) -> None:
        self.state = State.IDLE
        self.paused_from: State | None = None
        self._listeners: list[Callable[[State, Event, State, float], None]] = []

    def add_listener(self, listener: Callable[[State, Event, State, float], None]) -> None:
        self._listeners.append(listener)

    def allows(self, event: Event) -> bool:
        if event is Event.RESUME:
            return self.state is State.PAUSED
        return (self.state, event) in TRANSITIONS

    def send(self, event: Event, at_s: float) -> State:
        old = self.state
        if event is Event.RESUME and old is State.PAUSED:
            assert self.paused_from is not None
            new = self.paused_from
            self.paused_from = None
        else:
            try:
                new = TRANSITIONS[(old, event)]
            except KeyError:
                raise IllegalTransitionError(
                    f"{event.value!r} is not allowed in {old.value!r}"
                ) from None
            if new is State.PAUSED:
                self.paused_from = old
        self.state = new
        for listener in self._listeners:
            listener(old, event, new, at_s)
        return new
