"""The session state machine: every legal transition, and illegal events refused."""

from __future__ import annotations

import pytest

from letdown.errors import LetdownError
from letdown.pump.machine import (
    FINAL,
    TRANSITIONS,
    Event,
    IllegalTransitionError,
    SessionMachine,
    State,
)


def machine_in(state: State) -> SessionMachine:
    """A machine driven into ``state`` through legal events only."""
    machine = SessionMachine()
    paths = {
        State.IDLE: [],
        State.STIMULATION: [Event.START],
        State.EXPRESSION: [Event.START, Event.LETDOWN],
        State.RESTIMULATION: [Event.START, Event.LETDOWN, Event.LULL],
        State.FINISHING: [Event.START, Event.FLOW_ENDED],
        State.PAUSED: [Event.START, Event.PAUSE],
        State.DONE: [Event.STOP],
        State.FAULT: [Event.FAULT],
    }
    for event in paths[state]:
        machine.send(event, 0.0)
    assert machine.state is state
    return machine


@pytest.mark.parametrize(("source", "event"), sorted(TRANSITIONS))
def test_every_transition_in_the_table(source: State, event: Event) -> None:
    machine = machine_in(source)
    assert machine.send(event, 1.0) is TRANSITIONS[(source, event)]


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("event", [e for e in Event if e is not Event.RESUME])
def test_events_outside_the_table_are_refused(state: State, event: Event) -> None:
    if (state, event) in TRANSITIONS:
        return
    machine = machine_in(state)
    with pytest.raises(IllegalTransitionError, match=f"'{event.value}' is not allowed in"):
        machine.send(event, 1.0)
    assert machine.state is state


@pytest.mark.parametrize("state", [State.STIMULATION, State.EXPRESSION, State.RESTIMULATION])
def test_resume_returns_to_the_state_paused_from(state: State) -> None:
    machine = machine_in(state)
    machine.send(Event.PAUSE, 1.0)
    assert machine.state is State.PAUSED
    assert machine.send(Event.RESUME, 2.0) is state


def test_resume_when_not_paused_is_refused() -> None:
    machine = machine_in(State.EXPRESSION)
    with pytest.raises(IllegalTransitionError):
        machine.send(Event.RESUME, 1.0)


def test_every_live_state_can_fail_safe_and_final_states_stay_final() -> None:
    for state in State:
        machine = machine_in(state)
        if state in FINAL:
            with pytest.raises(LetdownError):
                machine.send(Event.FAULT, 1.0)
        else:
            assert machine.send(Event.FAULT, 1.0) is State.FAULT


def test_listeners_see_each_transition() -> None:
    seen: list[tuple[State, Event, State, float]] = []
    machine = SessionMachine()
    machine.add_listener(lambda *change: seen.append(change))
    machine.send(Event.START, 0.0)
    machine.send(Event.LETDOWN, 65.0)
    assert seen == [
        (State.IDLE, Event.START, State.STIMULATION, 0.0),
        (State.STIMULATION, Event.LETDOWN, State.EXPRESSION, 65.0),
    ]
