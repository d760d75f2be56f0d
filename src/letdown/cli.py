"""The ``letdown`` command line: a thin shell over the packages."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from letdown.errors import LetdownError

app = typer.Typer(
    help="letdown: an open smart breast-pump system (controller, twin, journal, app).",
    no_args_is_help=True,
    add_completion=False,
)
twin_app = typer.Typer(
    help="The physiological twin: cohorts and calibration.", no_args_is_help=True
)
bench_app = typer.Typer(help="Benchmarks.", no_args_is_help=True)
app.add_typer(twin_app, name="twin")
app.add_typer(bench_app, name="bench")

console = Console()
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(2)


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot write {path}: {exc.strerror}") from exc


# --- twin -------------------------------------------------------------------------------


@twin_app.command("cohort")
def twin_cohort(
    n: Annotated[int, typer.Option("--n", min=1, max=100_000, help="Number of parents.")],
    out: Annotated[Path, typer.Option("--out", help="Cohort file to write (JSON).")],
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of every draw.")] = 0,
    profile: Annotated[
        str, typer.Option("--profile", help="typical, sensitive, low-supply or oversupply.")
    ] = "typical",
) -> None:
    """Write a generated cohort file (twin.md §4)."""
    from letdown.twin.cohort import generate_cohort, save_cohort

    try:
        cohort = generate_cohort(n, seed, profile)
    except LetdownError as exc:
        raise _fail(str(exc)) from exc
    try:
        save_cohort(cohort, out)
    except OSError as exc:
        raise _fail(f"cannot write {out}: {exc.strerror}") from exc
    console.print(f"wrote {out}: {len(cohort.parents)} parents, profile {profile}, seed {seed}")


@twin_app.command("params")
def twin_params() -> None:
    """Every fixed parameter of the twin, with its unit and source."""
    from letdown.twin.cohort import PROFILES
    from letdown.twin.model import PARAMETERS, PneumaticsSpec, pneumatics_parameters

    table = Table(title="twin parameters")
    for column in ("parameter", "value", "unit", "source"):
        table.add_column(column, overflow="fold")
    for parameter in (*PARAMETERS, *pneumatics_parameters(PneumaticsSpec())):
        table.add_row(parameter.name, f"{parameter.value:g}", parameter.unit, str(parameter.source))
    console.print(table)
    profiles = Table(title="cohort profiles: log-normal median (sigma) \\[low, high]")
    for column in (
        "profile",
        "latency s",
        "interval s",
        "count",
        "available mL",
        "R/L",
        "flow mL/min",
        "comfort mmHg",
        "pain /mmHg",
    ):
        profiles.add_column(column, overflow="fold")
    for name, shape in PROFILES.items():
        profiles.add_row(
            name,
            *(
                f"{spread.median:g} ({spread.sigma:g}) [{spread.low:g}, {spread.high:g}]"
                for spread in (shape.latency_s, shape.interval_s)
            ),
            f"{shape.count_mean:g} ± {shape.count_sd:g}",
            *(
                f"{spread.median:g} ({spread.sigma:g}) [{spread.low:g}, {spread.high:g}]"
                for spread in (shape.available_ml, shape.right_over_left, shape.flow_ml_min)
            ),
            f"{shape.comfort_mean_mmhg:g} ± {shape.comfort_sd_mmhg:g}"
            f" (sides ± {shape.comfort_side_sd_mmhg:g})",
            f"{shape.pain_per_mmhg.median:g} ({shape.pain_per_mmhg.sigma:g})",
        )
    console.print(profiles)


@twin_app.command("calibrate")
def twin_calibrate(
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the rows as JSON here.")
    ] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="Parents in the generated cohort.")] = 200,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 1,
    profile: Annotated[str, typer.Option("--profile")] = "typical",
    cohort_file: Annotated[
        Path | None, typer.Option("--cohort", help="Use this cohort file instead.")
    ] = None,
    compare: Annotated[
        int, typer.Option("--compare", min=1, help="Parents that also run C9-C11's programs.")
    ] = 60,
    jobs: Annotated[int, typer.Option("--jobs", min=0, help="Processes (0: one per core).")] = 0,
) -> None:
    """Run the reference programs on a cohort and check the twin against twin.md §3."""
    from letdown.bench.calibration import evaluate, run_cohort
    from letdown.twin.cohort import generate_cohort, load_cohort

    try:
        cohort = load_cohort(cohort_file) if cohort_file else generate_cohort(n, seed, profile)
    except LetdownError as exc:
        raise _fail(str(exc)) from exc
    if not cohort.name and cohort_file:
        cohort = cohort.model_copy(update={"name": cohort_file.stem})
    with _ProgressBar(f"calibrating on {cohort.name} ({len(cohort.parents)} parents)") as step:
        runs = run_cohort(cohort, compare_n=compare, jobs=jobs or None, progress=step)
    rows = evaluate(runs)
    table = Table(
        title=f"twin calibration on {cohort.name}: {len(cohort.parents)} parents (in the twin)"
    )
    for column in ("row", "figure", "target", "tolerance", "twin", "", "source"):
        table.add_column(column, overflow="fold")
    for row in rows:
        verdict = "[green]pass[/]" if row.ok else "[bold red]FAIL[/]"
        table.add_row(
            row.id,
            row.figure,
            row.target,
            row.tolerance,
            f"{row.value:.2f}",
            verdict,
            row.source.cite,
        )
    console.print(table)
    ok = all(row.ok for row in rows)
    if json_out:
        _write_json(
            json_out,
            {
                "ok": ok,
                "rows": [
                    {
                        "id": r.id,
                        "figure": r.figure,
                        "target": r.target,
                        "value": r.value,
                        "ok": r.ok,
                    }
                    for r in rows
                ],
            },
        )
    console.print("[green]every row passes[/]" if ok else "[bold red]some rows fail[/]")
    raise typer.Exit(0 if ok else 1)


class _ProgressBar:
    """A Rich progress bar on stderr, handing out a ``(done, total)`` callback."""

    def __init__(self, label: str) -> None:
        self._progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        self._task = self._progress.add_task(label, total=None)

    def __enter__(self) -> Callable[[int, int], None]:
        self._progress.start()

        def step(done: int, total: int) -> None:
            self._progress.update(self._task, completed=done, total=total)

        return step

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


# --- bench ------------------------------------------------------------------------------


@bench_app.command("speed")
def bench_speed(
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the figures as JSON.")
    ] = None,
    minutes: Annotated[float, typer.Option("--minutes", min=0.1, max=120)] = 15.0,
    repeat: Annotated[int, typer.Option("--repeat", min=1, max=20)] = 3,
) -> None:
    """Real-time factor of the closed loop (twin + 100 Hz controller) on one core."""
    from letdown.bench.speed import measure_speed

    result = measure_speed(minutes=minutes, repeat=repeat)
    console.print(
        f"{result.simulated_s / 60:g}-minute double-pump session in {result.wall_s:.3f} s:"
        f" [bold]{result.realtime_factor:.0f}x[/] real time"
        f" (tick p50 {result.tick_us_p50:.1f} us, p99 {result.tick_us_p99:.1f} us,"
        f" {result.ticks} ticks; target >= 500x, goal 2000x)"
    )
    if json_out:
        payload = asdict(result)
        _write_json(
            json_out,
            {key: payload[key] for key in ("realtime_factor", "tick_us_p50", "tick_us_p99")},
        )


@bench_app.command("efficacy")
def bench_efficacy(
    cohort_file: Annotated[Path, typer.Option("--cohort", help="Cohort file (twin.md §4).")],
    controllers: Annotated[
        str,
        typer.Option("--controllers", help="Comma-separated: letdown,two-phase,constant,oracle."),
    ] = "letdown,two-phase,constant,oracle",
    minutes: Annotated[float, typer.Option("--minutes", min=0.5, max=120)] = 15.0,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the figures as JSON.")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", min=0, help="Processes (0: one per core).")] = 0,
) -> None:
    """Every controller on every parent of a cohort (figures in the twin)."""
    from letdown.bench.efficacy import CONTROLLERS, run_efficacy, summarise
    from letdown.twin.cohort import load_cohort

    names = [name.strip() for name in controllers.split(",") if name.strip()]
    unknown = [name for name in names if name not in CONTROLLERS]
    if not names or unknown:
        raise _fail(
            f"unknown controller {unknown[0]!r}" if unknown else "no controllers given"
        ) from None
    try:
        cohort = load_cohort(cohort_file)
    except LetdownError as exc:
        raise _fail(str(exc)) from exc
    if not cohort.name:
        cohort = cohort.model_copy(update={"name": cohort_file.stem})
    label = f"{len(names)} controllers x {len(cohort.parents)} parents"
    with _ProgressBar(label) as step:
        results = run_efficacy(cohort, names, minutes, jobs=jobs or None, progress=step)
    summary = summarise(cohort, minutes, results)
    table = Table(
        title=f"efficacy on {cohort.name}"
        f" ({len(cohort.parents)} parents, {minutes:g} min, in the twin)"
    )
    for column in (
        "controller",
        "yield %",
        "t80 s (median)",
        "reach two-phase s (median)",
        "above ceiling s",
        "too-much presses",
        "length s",
    ):
        table.add_column(column, justify="right")
    for name, row in summary["controllers"].items():
        table.add_row(
            name,
            f"{row['yield_pct']:.1f}",
            "-" if row["t80_s"] is None else f"{row['t80_s']:.0f}",
            "-" if row["reach_baseline_s"] is None else f"{row['reach_baseline_s']:.0f}",
            f"{row['above_ceiling_s']:.1f}",
            f"{row['presses']:.2f}",
            f"{row['length_s']:.0f}",
        )
    console.print(table)
    if json_out:
        _write_json(json_out, summary)


@bench_app.command("faults")
def bench_faults(
    sessions: Annotated[int, typer.Option("--sessions", min=1, max=1_000_000)] = 2000,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 1,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the figures as JSON.")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", min=0, help="Processes (0: one per core).")] = 0,
) -> None:
    """Random faults of every kind at random times; how the supervisor copes (in the twin)."""
    from letdown.bench.faults import run_faults, summarise_faults

    with _ProgressBar(f"{sessions} fault sessions") as step:
        runs = run_faults(sessions, seed, jobs=jobs or None, progress=step)
    summary = summarise_faults(runs)
    table = Table(title=f"fault campaign: {sessions} sessions, seed {seed} (in the twin)")
    for column in (
        "fault",
        "count",
        "detected",
        "max ms over 300 mmHg",
        "max ms over ceiling+20",
        "p99 ms fault to vents open",
    ):
        table.add_column(column, justify="right")
    for kind, row in summary["kinds"].items():
        table.add_row(
            kind,
            str(row["count"]),
            str(row["detected"]),
            f"{row['over_cap_ms_max']:.0f}",
            f"{row['over_ceiling_ms_max']:.0f}",
            "-" if row["vent_ms_p99"] is None else f"{row['vent_ms_p99']:.0f}",
        )
    console.print(table)
    if json_out:
        _write_json(json_out, summary)


# --- pump -------------------------------------------------------------------------------


@app.command("pump")
def pump_command(
    sim: Annotated[bool, typer.Option("--sim", help="Run on the simulated pump.")] = False,
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
    from letdown.twin.cohort import generate_cohort, load_cohort

    if not sim:
        raise _fail("only the simulated pump exists so far: pass --sim")
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
    pump = SimPump(parent, seed=cohort.session_seed(index))
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

    with pump, keys, Live(render(session.snapshot()), console=console, auto_refresh=False) as live:
        session.start()
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
    record = session.record()
    console.print_json(data=record.to_dict())


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


# --- demo -------------------------------------------------------------------------------


@app.command()
def demo(
    speed: Annotated[
        float, typer.Option("--speed", min=0, help="Times real time (0: as fast as possible).")
    ] = 20.0,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Which generated parent.")] = 0,
    profile: Annotated[str, typer.Option("--profile")] = "typical",
    program_name: Annotated[
        str, typer.Option("--program", help="two-phase or constant.")
    ] = "two-phase",
    minutes: Annotated[float | None, typer.Option("--minutes", min=0.1, max=60)] = None,
) -> None:
    """One simulated session on a generated parent, shown live per side."""
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
    console.print(
        f"[bold]letdown demo[/]: simulated parent {parent.id} ({profile}), program {program.name}"
    )
    # An earlier session found the comfort ceilings (Kent 2008: step up until "that's my
    # limit", then step back); today's session starts from them, as a comfort profile does.
    with SimPump(parent, seed=f"{cohort.session_seed(0)}:fitting") as fitting:
        limits = find_limits(fitting)
    ceilings = {side: limits[side].ceiling_mmhg for side in SIDES}
    pump = SimPump(parent, seed=cohort.session_seed(0))
    twin = pump.twin
    console.print(
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

        with Live(render(None), console=console, auto_refresh=False) as live:

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

    console.print()
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
    console.print(summary)
    times = ", ".join(_clock(e.start_s) for e in twin.ejections) or "none"
    console.print(f"milk ejections (twin): {len(twin.ejections)}, at {times}")


def _clock(seconds: float) -> str:
    seconds = max(0.0, round(seconds))
    return f"{int(seconds // 60):02d}:{int(seconds % 60):02d}"


def _gauge(vacuum_mmhg: float | None, ceiling_mmhg: float) -> str:
    if vacuum_mmhg is None:
        return "[red]no reading[/]"
    width = 12
    filled = max(0, min(width, round(width * vacuum_mmhg / max(1.0, ceiling_mmhg))))
    return f"{'█' * filled}{'·' * (width - filled)} {vacuum_mmhg:5.0f}"


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
