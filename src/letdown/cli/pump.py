"""``letdown pump``: a live session in the terminal, and the terminal demo's session."""

# Each command imports what it needs when it runs, so that `letdown --help` starts fast.

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from letdown.cli import _common
from letdown.cli._common import _fail
from letdown.errors import LetdownError

app = typer.Typer()


@app.command("pump")
def pump_command(
    sim: Annotated[bool, typer.Option("--sim", help="Run on the simulated pump.")] = False,
    device: Annotated[
        str | None,
        typer.Option(
            "--device",
            envvar="LETDOWN_DEVICE",
            help="A real pump: serial:///dev/ttyACM0 (letdown's firmware on a Pico).",
        ),
    ] = None,
    selftest: Annotated[
        bool,
        typer.Option("--selftest", help="With --device: measure the pump, check it, say why not."),
    ] = False,
    cohort_file: Annotated[Path | None, typer.Option("--cohort", help="Cohort file.")] = None,
    parent_id: Annotated[
        str | None, typer.Option("--parent", help="Parent id in the cohort.")
    ] = None,
    program_name: Annotated[str, typer.Option("--program")] = "letdown",
    speed: Annotated[
        float, typer.Option("--speed", min=0, help="Times real time (0: fast).")
    ] = 1.0,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 0,
) -> None:
    """Run a session live: keys l / r = "too much" left / right, p = pause, s = stop."""
    from letdown.device.base import SIDES, Side
    from letdown.device.sim import SimPump
    from letdown.pump.session import LETDOWN, Command, CommandKind, PumpSession, Snapshot
    from letdown.safety import SafePump
    from letdown.twin.cohort import generate_cohort, load_cohort

    if device == "sim":
        device, sim = None, True
    if sim == (device is not None):
        raise _fail("pass --sim (the simulated pump) or --device URL (a real pump), not both")
    if selftest:
        if device is None:
            raise _fail("--selftest measures a real pump: pass --device URL")
        _selftest(device)
        return
    if program_name != LETDOWN.name:
        raise _fail(f"unknown program {program_name!r}; the live session runs 'letdown'")
    try:
        cohort = load_cohort(cohort_file) if cohort_file else generate_cohort(1, seed)
    except LetdownError as exc:
        raise _fail(str(exc)) from exc
    if parent_id is None:
        index = 0
    else:
        ids = [p.id for p in cohort.parents]
        if parent_id not in ids:
            raise _fail(f"no parent {parent_id!r} in the cohort (first ids: {', '.join(ids[:5])})")
        index = ids.index(parent_id)
    parent = cohort.parents[index]
    if device is not None:
        from letdown.device import open_pump

        try:
            backend = open_pump(device)
        except LetdownError as exc:
            raise _fail(str(exc)) from exc
        speed = 0.0  # the pump's own clock paces the session
    else:
        backend = SimPump(parent, seed=cohort.session_seed(index))
    pump = SafePump(backend)
    session = PumpSession(pump)
    wall_start = time.monotonic()
    keys = _KeyReader()

    def render(snap: Snapshot) -> Panel:
        table = Table(expand=True)
        table.add_column("")
        for side in SIDES:
            table.add_column(side.value, justify="right")
        views = [snap.side(side) for side in SIDES]
        table.add_row(
            "vacuum mmHg", *(_gauge(v.vacuum_mmhg, max(1.0, v.ceiling_mmhg)) for v in views)
        )
        table.add_row(
            "level / ceiling mmHg",
            *(
                f"{v.level_mmhg:.0f} / {v.ceiling_mmhg:.0f}{' (learning)' if v.learning else ''}"
                for v in views
            ),
        )
        table.add_row("flow mL/min", *(f"{v.flow_ml_min:5.1f}" for v in views))
        table.add_row(
            "collected mL", *("-" if v.volume_ml is None else f"{v.volume_ml:.1f}" for v in views)
        )
        notice = "  [bold yellow]nearly done[/]" if snap.nearly_done else ""
        if snap.fault is not None:
            notice = f"  [bold red]{snap.fault.message}[/]"
        return Panel(
            table,
            title=f"{_clock(snap.elapsed_s)}  {snap.state.value}"
            f"  let-downs seen: {snap.ejections}{notice}",
            subtitle="l/r: too much left/right   p: pause/resume   s: stop",
        )

    with (
        _stopped_by_signals(),
        pump,
        keys,
        Live(render(session.snapshot()), console=_common.console, auto_refresh=False) as live,
    ):
        session.start()
        _common.console.print("The session has started: Ctrl-C stops the pump safely.")
        paused = False
        ticks = 0
        while not session.finished:
            session.step()
            ticks += 1
            if ticks % 10 == 0 or session.finished:
                for key in keys.read():
                    if key in "lr":
                        session.send(
                            Command(CommandKind.TOO_MUCH, Side.LEFT if key == "l" else Side.RIGHT)
                        )
                    elif key == "p":
                        session.send(Command(CommandKind.RESUME if paused else CommandKind.PAUSE))
                        paused = not paused
                    elif key in "sq":
                        session.send(Command(CommandKind.STOP))
                snap = session.snapshot()
                if speed > 0:
                    ahead_s = wall_start + snap.elapsed_s / speed - time.monotonic()
                    if ahead_s > 0:
                        time.sleep(ahead_s)
                live.update(render(snap), refresh=True)
    _say_safe(pump)
    if not session.finished:
        _common.console.print("Stopped before the session ended: nothing was recorded.")
        return
    record = session.record()
    if pump.link_error is not None:
        # The pump vented by itself; the record says the link ended the session
        # (``PumpSession`` records it as the web app's sessions do).
        _common.err.print(f"[red]{pump.link_error}[/]")
    _common.console.print_json(data=record.to_dict())


class _Stopped(KeyboardInterrupt):
    """SIGTERM, taken as Ctrl-C is: the pump is left safe on the way out."""


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGTERM ends the session as Ctrl-C does, so that the pump is closed on the way out
    (the default would end the process where it stands)."""

    def stop(_signum: int, _frame: object) -> None:
        raise _Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    except KeyboardInterrupt:
        _common.console.print("stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)


def _say_safe(pump: Any) -> None:
    """Say how the pump was left: the last line a person (or a script) reads."""
    problems = list(pump.problems)
    if pump.closed and not problems:
        _common.console.print("The pump is off: motors off, vents open.")
    else:
        _common.console.print(
            "[bold red]The pump may not be off[/]: " + ("; ".join(problems) or "not closed")
        )


class _KeyReader:
    """Single keys from a terminal without Enter (nothing when stdin is not a terminal)."""

    def __init__(self) -> None:
        self._saved: list[Any] | None = None

    def __enter__(self) -> _KeyReader:
        import sys
        import termios
        import tty

        if sys.stdin.isatty():
            self._saved = termios.tcgetattr(sys.stdin)
            tty.setcbreak(sys.stdin.fileno())
        return self

    def read(self) -> list[str]:
        import select
        import sys

        if self._saved is None:
            return []
        keys = []
        while select.select([sys.stdin], [], [], 0)[0]:
            keys.append(sys.stdin.read(1).lower())
        return keys

    def __exit__(self, *exc: object) -> None:
        import sys
        import termios

        if self._saved is not None:
            termios.tcsetattr(sys.stdin, termios.TCSADRAIN, self._saved)


def _terminal_demo(
    speed: float, seed: int, profile: str, program_name: str, minutes: float | None
) -> None:
    """One simulated session on a generated parent, shown live per side in the terminal."""
    from letdown.device.base import SIDES
    from letdown.device.sim import SimPump
    from letdown.pump.comfort import find_limits
    from letdown.pump.program import PROGRAMS
    from letdown.pump.runner import TickView, run_program
    from letdown.twin.cohort import generate_cohort

    try:
        cohort = generate_cohort(1, seed, profile)
    except LetdownError as exc:
        raise _fail(str(exc)) from exc
    if program_name not in PROGRAMS:
        raise _fail(f"unknown program {program_name!r}; known: {', '.join(PROGRAMS)}")
    program = PROGRAMS[program_name]
    parent = cohort.parents[0]
    _common.console.print(
        f"[bold]letdown demo[/]: simulated parent {parent.id} ({profile}), program {program.name}"
    )
    # An earlier session found the comfort ceilings (Kent 2008: step up until "that's my
    # limit", then step back); today's session starts from them, as a comfort profile does.
    with SimPump(parent, seed=f"{cohort.session_seed(0)}:fitting") as fitting:
        limits = find_limits(fitting)
    ceilings = {side: limits[side].ceiling_mmhg for side in SIDES}
    pump = SimPump(parent, seed=cohort.session_seed(0))
    twin = pump.twin
    _common.console.print(
        "comfort ceilings from an earlier calibration: "
        + ", ".join(
            f"{side} {ceilings[side]:.0f} mmHg (twin's truth {twin.comfort_mmhg(side):.0f})"
            for side in SIDES
        )
    )
    with pump:
        start_removed = {side: twin.removed_ml(side) for side in SIDES}
        start_volume = {side: (pump.read_volume(side) or (0.0, 0.0))[0] for side in SIDES}
        length_s = program.duration_s if minutes is None else minutes * 60.0
        wall_start = time.monotonic()

        def render(view: TickView | None) -> Panel:
            table = Table(expand=True)
            table.add_column("")
            for side in SIDES:
                table.add_column(side.value, justify="right")
            phase = "-" if view is None else view.phase.kind.value
            table.add_row("phase", phase, phase)
            table.add_row(
                "vacuum mmHg",
                *(_gauge(view.vacuum_mmhg[s] if view else 0.0, ceilings[s]) for s in SIDES),
            )
            table.add_row("flow mL/min (twin)", *(f"{twin.flow_ml_min(s):5.1f}" for s in SIDES))
            table.add_row(
                "collected mL",
                *(
                    "-"
                    if view is None or view.volume_ml[s] is None
                    else f"{(view.volume_ml[s] or 0.0) - start_volume[s]:6.1f}"
                    for s in SIDES
                ),
            )
            table.add_row("pain 0-10 (twin)", *(f"{twin.pain(s):4.1f}" for s in SIDES))
            elapsed = 0.0 if view is None else view.elapsed_s
            title = (
                f"{_clock(elapsed)} / {_clock(length_s)}"
                f"   ejections so far (twin): {len(twin.ejections)}"
            )
            return Panel(
                table,
                title=title,
                subtitle=f"x{speed:g} real time" if speed else "as fast as possible",
            )

        with Live(render(None), console=_common.console, auto_refresh=False) as live:

            def on_tick(view: TickView) -> None:
                if speed > 0:
                    ahead_s = wall_start + view.elapsed_s / speed - time.monotonic()
                    if ahead_s > 0:
                        time.sleep(ahead_s)
                live.update(render(view), refresh=True)

            result = run_program(
                pump,
                program,
                ceilings,
                duration_s=length_s,
                on_tick=on_tick,
                view_every=max(5, int(speed * 0.5)) if speed else 1000,
            )

    _common.console.print()
    summary = Table(
        title=f"session summary (in the twin): ended by {result.ended_by}"
        f" after {_clock(result.duration_s)}"
    )
    summary.add_column("")
    for side in SIDES:
        summary.add_column(side.value, justify="right")
    summary.add_column("both", justify="right")
    collected = {s: (result.volume_ml[s] or 0.0) - start_volume[s] for s in SIDES}
    removed = {s: twin.removed_ml(s) - start_removed[s] for s in SIDES}
    available = {s: twin.available_ml(s) for s in SIDES}
    summary.add_row("comfort ceiling mmHg", *(f"{ceilings[s]:.0f}" for s in SIDES), "")
    summary.add_row(
        "collected mL (scale)",
        *(f"{collected[s]:.1f}" for s in SIDES),
        f"{sum(collected.values()):.1f}",
    )
    summary.add_row(
        "removed mL (twin)", *(f"{removed[s]:.1f}" for s in SIDES), f"{sum(removed.values()):.1f}"
    )
    summary.add_row(
        "% of available (twin)",
        *(f"{100 * removed[s] / available[s]:.0f} %" if available[s] else "-" for s in SIDES),
        f"{100 * sum(removed.values()) / max(1e-9, sum(available.values())):.0f} %",
    )
    presses = {s: sum(1 for p in result.presses if p.side is s) for s in SIDES}
    summary.add_row("button presses", *(str(presses[s]) for s in SIDES), str(len(result.presses)))
    _common.console.print(summary)
    times = ", ".join(_clock(e.start_s) for e in twin.ejections) or "none"
    _common.console.print(f"milk ejections (twin): {len(twin.ejections)}, at {times}")


def _clock(seconds: float) -> str:
    seconds = max(0.0, round(seconds))
    return f"{int(seconds // 60):02d}:{int(seconds % 60):02d}"


def _gauge(vacuum_mmhg: float | None, ceiling_mmhg: float) -> str:
    if vacuum_mmhg is None:
        return "[red]no reading[/]"
    width = 12
    filled = max(0, min(width, round(width * vacuum_mmhg / max(1.0, ceiling_mmhg))))
    return f"{'█' * filled}{'·' * (width - filled)} {vacuum_mmhg:5.0f}"


def _selftest(device: str) -> None:
    """Measure a real pump per side, check it against its declared spec, store it."""
    from letdown.device import open_pump
    from letdown.device.selftest import run_selftest, store_measured

    try:
        # Measured against the declared spec alone, even when an earlier self-test failed.
        pump = open_pump(device, measured=False)
    except LetdownError as exc:
        raise _fail(str(exc)) from exc
    span = float(getattr(pump, "sensor_span_mmhg", 760.0))
    try:
        with _common.err.status("self-test: measuring each side (about 5 s)…"):
            report = run_selftest(pump, span)
    except LetdownError as exc:
        raise _fail(str(exc)) from exc
    finally:
        pump.close()
    table = Table(title=f"self-test of {device}")
    table.add_column("")
    for side in report["sides"]:
        table.add_column(side, justify="right")
    rows = (
        ("zero at atmosphere mmHg", "zero_mmhg", "{:+.1f}"),
        ("noise mmHg (sd)", "noise_mmhg", "{:.2f}"),
        ("pull from atmosphere mmHg/s", "rise_mmhg_s", "{:.0f}"),
        ("stall vacuum mmHg (estimate)", "stall_mmhg", "{:.0f}"),
        ("leak per s (vent shut)", "leak_per_s", "{:.3f}"),
        ("vent release per s", "vent_per_s", "{:.1f}"),
    )
    for label, key, shown in rows:
        values = [report["sides"][side].get(key) for side in report["sides"]]
        table.add_row(label, *("-" if v is None else shown.format(v) for v in values))
    _common.console.print(table)
    problems = [p for figures in report["sides"].values() for p in figures["problems"]]
    where = store_measured(device, report)
    if problems:
        for problem in problems:
            _common.console.print(f"[red]✗[/] {problem}")
        raise _fail("the pump failed its self-test: letdown will not pump with it until it passes")
    _common.console.print(
        f"[green]the pump passed its self-test[/]; measured figures in {where}: its safety"
        " core uses them from the next session"
    )
