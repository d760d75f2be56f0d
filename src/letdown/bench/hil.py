"""``letdown bench hil``: firmware-in-the-loop sessions with link faults.

Each session runs the whole chain: the adaptive controller under the host's safety core
-> the serial backend -> a pseudo-terminal -> the firmware (its safety core, drivers
bound to the twin) in a peer process. One link fault per session, of each kind in turn,
at a random time: a corrupted frame (either direction), a dropped, duplicated or
reordered command, the cable pulled, the MCU reset, the host killed (it stops dead: no
frame, no goodbye, its port closed under it, as SIGKILL leaves it; a test kills a real
host process with SIGKILL). What the twin saw decides: how long after the fault the
outputs were safe (motors off, both vents open), and whether the vacuum ever went over
the cap. A fault counts as detected when either end named it (the firmware's core
latched it, or the host's backend reported it).

Then ``yield_sessions`` sessions without a fault, each against the same parent and seed
on the simulated pump directly: the milk the twin says was removed, FIL over direct.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from letdown.device import open_pump
from letdown.device.fwpeer import LINK_FAULTS, PeerProcess
from letdown.device.serial import SerialPump
from letdown.device.sim import SimPump
from letdown.pump.session import PumpSession
from letdown.twin.cohort import ParentSpec, generate_cohort
from letdown.words import SIDES

LINK_TIMEOUT_S = 1.0
"""The host's wall-clock patience in the bench: a loaded machine may not run the peer
for 200 ms; the firmware still times the host out after 200 ms of its own time."""
AFTER_FAULT_S = 1.5
"""Device time a session runs on after its fault (or until the session ends)."""


def _p99(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


def run_fault_session(parent: ParentSpec, seed: str, kind: str, fault_at_ms: int) -> dict[str, Any]:
    """One session with one link fault; what the twin and both ends saw."""
    peer_fault = None if kind == "host_killed" else kind
    with PeerProcess(parent, seed=seed, fault=peer_fault, fault_at_ms=fault_at_ms) as peer:
        pump = open_pump(peer.url, link_timeout_s=LINK_TIMEOUT_S)
        assert isinstance(pump, SerialPump)
        pump.wait_ready()
        session = PumpSession(pump)
        session.start()
        fault_s = fault_at_ms / 1000.0
        killed = False
        while pump.clock.now_s() < fault_s + AFTER_FAULT_S and not session.finished:
            if kind == "host_killed" and pump.clock.now_s() >= fault_s:
                # Dead: the port closes under the host, nothing more is sent.
                pump._port.close()
                killed = True
                break
            session.step()
        if not killed:
            # Listen on past the fault even when the session ended before it (for
            # another reason), so that every injected fault meets a connected host.
            end_s = max(pump.clock.now_s(), fault_s) + 0.5
            while pump.clock.now_s() < end_s and pump.lost_at is None:
                pump.clock.sleep_until(pump.clock.now_s() + 0.01)
            host_saw = bool(pump.link_faults) or pump.link_error is not None
            faulted = session.finished and session.state.value == "fault"
            session_fault = session.snapshot().fault
            rtts = list(pump.rtts_ms)
            pump.close()
        else:
            host_saw, faulted, session_fault = False, False, None
            rtts = list(pump.rtts_ms)
            time.sleep(0.7)
        seen = peer.result()
    if kind == "host_killed":
        unsafe = seen["unsafe_after_host_ms"]
        safe_ms: float | None = None if unsafe is None else max(0.0, unsafe + 10.0)
    else:
        safe_ms = seen["safe_ms"]
    if safe_ms is None:
        # Never safe while watched: at least this late (counts against the p99).
        safe_ms = float(seen["now_ms"] - fault_at_ms)
    detected = seen["detected_by_mcu"] is not None or host_saw
    return {
        "kind": kind,
        "detected": bool(detected),
        "safe_ms": safe_ms,
        "over_cap_ms": seen["over_cap_ms"],
        "rtts_ms": rtts,
        "session_fault": None if session_fault is None else str(session_fault.reason),
        "ended_in_fault": faulted,
    }


def run_clean_pair(
    parent: ParentSpec, seed: str, minutes: float
) -> tuple[float, float, list[float]]:
    """The same parent and seed without a fault, FIL and direct: milk removed by each."""
    length_s = minutes * 60.0
    with PeerProcess(parent, seed=seed) as peer:
        pump = open_pump(peer.url, link_timeout_s=LINK_TIMEOUT_S)
        assert isinstance(pump, SerialPump)
        pump.wait_ready()
        start_s = pump.clock.now_s()
        session = PumpSession(pump)
        session.start()
        while pump.clock.now_s() < start_s + length_s and not session.finished:
            session.step()
        rtts = list(pump.rtts_ms)
        pump.close()
        fil_ml = float(peer.result()["removed_ml"])
    direct = SimPump(parent, seed=seed)
    # The same start: the firmware zeroes its sensors and is armed before the session.
    tick = 0
    while direct.clock.now_s() < start_s - 1e-6:
        tick += 1
        direct.kick()  # the board's watchdog is armed from power-up
        direct.clock.sleep_until(min(start_s, tick * 0.01))
    session = PumpSession(direct)
    session.start()
    while direct.clock.now_s() < start_s + length_s and not session.finished:
        session.step()
    direct_ml = sum(direct.twin.removed_ml(side) for side in SIDES)
    direct.close()
    return fil_ml, direct_ml, rtts


def run_hil(
    sessions: int,
    seed: int,
    *,
    yield_sessions: int = 2,
    minutes: float = 3.0,
    jobs: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The campaign; the figures as ``letdown bench hil --json`` writes them."""
    rng = random.Random(f"hil {seed}")
    cohort = generate_cohort(max(1, sessions + yield_sessions), seed)
    plans = [
        (
            cohort.parents[i],
            f"{seed}:{i}",
            LINK_FAULTS[i % len(LINK_FAULTS)],
            rng.randrange(3000, 8000, 10),
        )
        for i in range(sessions)
    ]
    total = sessions + yield_sessions
    done = 0
    runs: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for run in pool.map(lambda plan: run_fault_session(*plan), plans):
            runs.append(run)
            done += 1
            if progress is not None:
                progress(done, total)
        pairs = []
        for pair in pool.map(
            lambda i: run_clean_pair(cohort.parents[sessions + i], f"{seed}:clean:{i}", minutes),
            range(yield_sessions),
        ):
            pairs.append(pair)
            done += 1
            if progress is not None:
                progress(done, total)
    kinds: dict[str, dict[str, Any]] = {}
    for kind in LINK_FAULTS:
        mine = [r for r in runs if r["kind"] == kind]
        if not mine:
            continue
        kinds[kind] = {
            "count": len(mine),
            "detected": sum(1 for r in mine if r["detected"]),
            "safe_ms_p99": _p99([float(r["safe_ms"]) for r in mine]),
        }
    rtts = [x for r in runs for x in r["rtts_ms"]] + [x for p in pairs for x in p[2]]
    fil = sum(p[0] for p in pairs)
    direct = sum(p[1] for p in pairs)
    return {
        "sessions": sessions,
        "over_cap_ms_max": max([float(r["over_cap_ms"]) for r in runs] or [0.0]),
        "yield_ratio_vs_direct": fil / direct if direct > 0 else 0.0,
        "kinds": kinds,
        "frame_rtt_ms_p99": _p99(rtts),
    }
