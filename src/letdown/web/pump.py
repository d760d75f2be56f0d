"""The pump over REST and WebSocket, under ``/api/v1/pump``, and the live page at ``/live``.

Everyone in the household may watch (``GET /pump``, the ``/pump/live`` stream); only
members who may write may run the pump: a viewer's command is refused with 403. Every
command carries a ``command_id`` chosen by the phone, so a double tap, a retry or the
same tap from two phones acts once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, WebSocket, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from letdown.device.base import Side
from letdown.journal import Accounts, Identity
from letdown.pump.session import LETDOWN, SideView
from letdown.web.deps import (
    SESSION_COOKIE,
    BookDep,
    IdentityDep,
    WriterDep,
    request_credential,
)
from letdown.web.live import (
    SIDED,
    UNSIDED,
    LiveCommand,
    LiveHub,
    LiveState,
    Subscription,
    split_message,
)
from letdown.web.sockets import Credential, SocketRegistry, Tickets
from letdown.web.templating import render

router = APIRouter(prefix="/pump", tags=["pump"])
pages_router = APIRouter(include_in_schema=False)

POLICY_VIOLATION = 1008
GOING_AWAY = 1001


async def get_hub(request: Request) -> LiveHub:
    hub: LiveHub = request.app.state.hub
    return hub


HubDep = Annotated[LiveHub, Depends(get_hub)]


# --- bodies and responses ----------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


Soreness = Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]


class SorenessIn(_Body):
    """How sore each side is before starting, 0-10: a sore side starts lower."""

    left: Soreness | None = None
    right: Soreness | None = None


class StartIn(_Body):
    program: Annotated[str, Field(min_length=1, max_length=100)] = LETDOWN.name
    soreness: SorenessIn | None = None
    calibrate: bool = Field(
        default=False,
        description="forget both sides' remembered comfort ceilings and learn them afresh:"
        " the level steps up until the parent taps 'too much' on a side",
    )


class CommandIn(_Body):
    command_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=100,
            description="chosen by the phone, fresh per tap; a repeat acts once",
        ),
    ]
    kind: LiveCommand
    side: Side | None = Field(
        default=None,
        validate_default=True,
        description="needed by too_much, level_up and level_down; left out for pause,"
        " resume and stop; calibrate without a side forgets both",
    )

    @field_validator("side")
    @classmethod
    def _side_fits_kind(cls, side: Side | None, info: ValidationInfo) -> Side | None:
        kind = info.data.get("kind")
        if kind in SIDED and side is None:
            raise ValueError(f"{kind.value} needs a side: left or right")
        if kind in UNSIDED and side is not None:
            raise ValueError(f"{kind.value} acts on both sides: leave side out")
        return side


class SideState(BaseModel):
    """One side now: what the sensors read and where the controller holds it."""

    vacuum_mmhg: float | None = Field(description="vacuum now; None when the sensor gives none")
    volume_ml: float | None = Field(description="milk collected on this side this session")
    flow_ml_min: float
    level_mmhg: float = Field(description="the side's working level")
    ceiling_mmhg: float = Field(description="the side's comfort ceiling this session")
    learning: bool = Field(description="the ceiling is still being found")
    peak_mmhg: float | None = Field(
        None, description="the highest vacuum of the last full cycle (steady; None before one)"
    )


class FaultInfo(BaseModel):
    """Why the pump stopped on its own, and what to do now."""

    reason: str
    side: Side | None
    at_s: float | None
    message: str
    what_happened: str
    what_to_do: str


class ComfortState(BaseModel):
    """The ceilings the next session starts from (None: that side is learned afresh)."""

    left_mmhg: float | None
    right_mmhg: float | None


class PumpState(BaseModel):
    """The household's pump: the running (or last) session and what surrounds it."""

    running: bool
    seq: int = Field(description="grows with every state sent; a phone keeps the newest")
    session_id: str | None
    program: str | None
    started_by: str | None
    state: str = Field(
        description="idle, stimulation, expression, restimulation, paused, finishing, done or fault"
    )
    elapsed_s: float
    read_at_s: float | None = Field(description="device clock of the readings, seconds")
    read_at: float | None = Field(description="wall time of the readings, epoch seconds")
    sent_at: float = Field(description="wall time this state left the server, epoch seconds")
    left: SideState | None
    right: SideState | None
    ejections: int = Field(description="milk ejections seen this session")
    nearly_done: bool
    fault: FaultInfo | None
    ended_by: str | None = Field(
        description="flow_ended, cap, stop, fault, link_lost or error, once ended"
    )
    journal_entry_id: int | None = Field(description="the last finished session's journal entry")
    journal_error: str | None
    comfort: ComfortState


class Problem(BaseModel):
    detail: str


class TicketOut(BaseModel):
    ticket: str = Field(description="put in the live socket's address as ?ticket=; works once")
    expires_in_s: int


VIEWER: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem, "description": "a viewer may watch but not run the pump"}
}


class CommandOut(BaseModel):
    command_id: str
    kind: LiveCommand
    side: Side | None
    repeated: bool = Field(description="this command_id had acted already: nothing was done")
    state: PumpState


def _side(view: SideView) -> SideState:
    return SideState(
        vacuum_mmhg=_round(view.vacuum_mmhg),
        volume_ml=_collected(view.volume_ml),
        flow_ml_min=max(0.0, round(view.flow_ml_min, 1)),
        level_mmhg=round(view.level_mmhg, 1),
        ceiling_mmhg=round(view.ceiling_mmhg, 1),
        learning=view.learning,
        peak_mmhg=_round(view.peak_mmhg),
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _collected(volume_ml: float | None) -> float | None:
    """A bottle's scale reads a little below zero around an empty bottle (its noise); no
    bottle holds less than nothing, as the journal's record of the session says too."""
    return None if volume_ml is None else max(0.0, round(volume_ml, 1))


CONTROLLER_FAULT = (
    "The pump's controller stopped unexpectedly, so the pump was switched off and its"
    " vents opened. Take the flanges off and start again; if it happens again, restart"
    " letdown."
)


def pump_state(live: LiveState) -> PumpState:
    """The API's view of a ``LiveState``, stamped with the time it is sent."""
    snap = live.snapshot
    fault = None
    if snap is not None and snap.fault is not None:
        happened, to_do = split_message(snap.fault.message)
        fault = FaultInfo(
            reason=snap.fault.reason.value,
            side=snap.fault.side,
            at_s=round(snap.fault.at_s - (snap.at_s - snap.elapsed_s), 2),
            message=snap.fault.message,
            what_happened=happened,
            what_to_do=to_do,
        )
    elif live.error is not None:
        happened, to_do = split_message(CONTROLLER_FAULT)
        fault = FaultInfo(
            reason="controller_error",
            side=None,
            at_s=None,
            message=f"{CONTROLLER_FAULT} ({live.error})",
            what_happened=happened,
            what_to_do=to_do,
        )
    return PumpState(
        running=live.running,
        seq=live.seq,
        session_id=live.session_id,
        program=live.program,
        started_by=live.started_by,
        state="idle" if snap is None else snap.state.value,
        elapsed_s=0.0 if snap is None else round(snap.elapsed_s, 2),
        read_at_s=None if snap is None else round(snap.at_s, 3),
        read_at=live.read_at,
        sent_at=time.time(),
        left=None if snap is None else _side(snap.left),
        right=None if snap is None else _side(snap.right),
        ejections=0 if snap is None else snap.ejections,
        nearly_done=snap is not None and snap.nearly_done,
        fault=fault,
        ended_by=live.ended_by,
        journal_entry_id=live.journal_entry_id,
        journal_error=live.journal_error,
        comfort=ComfortState(left_mmhg=live.comfort.left_mmhg, right_mmhg=live.comfort.right_mmhg),
    )


# --- REST --------------------------------------------------------------------------------


@router.get("")
def get_state(who: IdentityDep, hub: HubDep) -> PumpState:
    """The pump now: whether a session runs, each side's readings, faults, the last entry."""
    return pump_state(hub.state(who))


@router.post(
    "/start",
    status_code=status.HTTP_201_CREATED,
    responses={**VIEWER, 409: {"model": Problem, "description": "a session runs already"}},
)
def start(body: StartIn, who: WriterDep, hub: HubDep) -> PumpState:
    """Start a session (409 while one runs): the pump opens and the first phase begins."""
    if body.program not in hub.programs:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "program"),
                    "msg": f"unknown program; known: {', '.join(hub.programs)}",
                    "type": "value_error",
                }
            ]
        )
    soreness = {}
    if body.soreness is not None:
        for side in (Side.LEFT, Side.RIGHT):
            value = getattr(body.soreness, side.value)
            if value is not None:
                soreness[side] = value
    return pump_state(
        hub.start(who, program=body.program, soreness=soreness, calibrate=body.calibrate)
    )


@router.post(
    "/command",
    responses={**VIEWER, 409: {"model": Problem, "description": "no session is running"}},
)
def command(body: CommandIn, who: WriterDep, hub: HubDep) -> CommandOut:
    """Act on the running session (409 if none runs); answers once the pump has acted."""
    outcome = hub.act(who, body.command_id, body.kind, body.side)
    return CommandOut(
        command_id=outcome.command_id,
        kind=outcome.kind,
        side=outcome.side,
        repeated=outcome.repeated,
        state=pump_state(outcome.state),
    )


@router.post("/stop", responses=VIEWER)
def stop(who: WriterDep, hub: HubDep) -> PumpState:
    """Stop the session: vents open, motor off (does nothing if none runs)."""
    return pump_state(hub.stop(who))


# --- the live stream ---------------------------------------------------------------------


def _ws_login(websocket: WebSocket) -> tuple[Identity, Credential] | None:
    """The caller from a Bearer header, a one-time ``ticket`` or the session cookie.

    A cookie only counts from this site's own pages: a page elsewhere could open a
    WebSocket here with the browser's cookie (cross-site WebSocket hijacking). An API
    token in the address is refused: addresses end up in access logs.
    """
    accounts: Accounts = websocket.app.state.accounts
    tickets: Tickets = websocket.app.state.tickets
    header = websocket.headers.get("authorization", "")
    credential: Credential | None = None
    if header.lower().startswith("bearer "):
        credential = Credential("token", header[7:].strip())
    elif "ticket" in websocket.query_params:
        credential = tickets.redeem(websocket.query_params["ticket"])
    elif "token" in websocket.query_params:
        return None
    else:
        cookie = websocket.cookies.get(SESSION_COOKIE)
        origin = websocket.headers.get("origin")
        if not cookie or (
            origin is not None and urlsplit(origin).netloc != websocket.headers.get("host")
        ):
            return None
        credential = Credential("session", cookie)
    if credential is None:
        return None
    who = credential.identity(accounts)
    return None if who is None else (who, credential)


@router.post("/ticket", status_code=status.HTTP_201_CREATED)
def ticket(request: Request, who: IdentityDep) -> TicketOut:
    """A one-time ticket to open ``/pump/live?ticket=…`` within 30 s, for a script that
    cannot send an Authorization header on a WebSocket (never put a token in an address)."""
    credential = request_credential(request)
    assert credential is not None  # the caller is logged in, so they sent one
    tickets: Tickets = request.app.state.tickets
    return TicketOut(ticket=tickets.issue(credential), expires_in_s=int(tickets.ttl_s))


@router.websocket("/live")
async def live(websocket: WebSocket) -> None:
    """Every state of the household's pump as JSON (``PumpState``), about 30 a second.

    Log in with the session cookie, a Bearer header or a one-time ``ticket`` (see
    ``POST /pump/ticket``); otherwise the socket is closed with 1008. The login is checked
    again every little while and at once on logout: once it no longer holds, the socket
    is closed with 1008. Leaving never affects the session.
    """
    login = await run_in_threadpool(_ws_login, websocket)
    if login is None:
        await websocket.close(code=POLICY_VIOLATION, reason="log in first")
        return
    who, credential = login
    hub: LiveHub = websocket.app.state.hub
    sockets: SocketRegistry = websocket.app.state.sockets
    await websocket.accept()
    await run_in_threadpool(hub.state, who)
    with hub.subscribe(who) as feed, sockets.watch(who.member_id) as wake:
        sender = asyncio.create_task(_send(websocket, feed))
        listener = asyncio.create_task(_until_closed(websocket))
        guard = asyncio.create_task(_while_logged_in(websocket, credential, wake))
        tasks = {sender, listener, guard}
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                # A phone that left mid-send is no error: the session goes on.
                with contextlib.suppress(
                    asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError
                ):
                    await task


async def _while_logged_in(
    websocket: WebSocket, credential: Credential, wake: asyncio.Event
) -> None:
    """Return (closing the socket) once its login no longer holds."""
    accounts: Accounts = websocket.app.state.accounts
    every_s: float = websocket.app.state.settings.socket_recheck_s
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), every_s)
        wake.clear()
        if await run_in_threadpool(credential.identity, accounts) is None:
            await websocket.close(code=POLICY_VIOLATION, reason="logged out")
            return


async def _send(websocket: WebSocket, feed: Subscription) -> None:
    while True:
        state = await feed.get()
        if state is None:
            await websocket.close(code=GOING_AWAY, reason="letdown is shutting down")
            return
        await websocket.send_text(pump_state(state).model_dump_json())


async def _until_closed(websocket: WebSocket) -> None:
    """Read (and ignore) what the phone sends, to notice when it leaves."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


# --- the page ----------------------------------------------------------------------------


@pages_router.get("/live", response_class=HTMLResponse)
def live_page(request: Request, who: IdentityDep, book: BookDep, hub: HubDep) -> HTMLResponse:
    """The live session, for a phone held in one hand."""
    word = book.household.word.value
    state = pump_state(hub.state(who))
    return render(
        request,
        "live.html",
        who,
        word=word,
        units=book.household.units.value,
        can_control=who.can_write,
        state=state,
        sides=[("left", f"Left {word}"), ("right", f"Right {word}")],
        programs=list(hub.programs),
    )
