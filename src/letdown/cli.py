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
