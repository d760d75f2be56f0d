"""The ``letdown`` command line: a thin shell over the packages."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from letdown.errors import LetdownError

if TYPE_CHECKING:
    import socket
    from zoneinfo import ZoneInfo

    import uvicorn

    from letdown.journal.book import BagView, Book, Journal, StoredEntry, Summary
    from letdown.journal.records import HouseholdInfo, MemberInfo, Record, Units
    from letdown.web.settings import Settings

_E = TypeVar("_E", bound=StrEnum)

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
household_app = typer.Typer(
    help="The household: members, children, time zone, units and words.", no_args_is_help=True
)
log_app = typer.Typer(
    help="Write down a feed, a pumping session, a bottle, care or a symptom.",
    no_args_is_help=True,
)
stash_app = typer.Typer(
    help="The milk stash: bags, where they are, when to use them.", no_args_is_help=True
)
db_app = typer.Typer(
    help="The journal database: its schema version and upgrades.", no_args_is_help=True
)
app.add_typer(household_app, name="household")
app.add_typer(log_app, name="log")
app.add_typer(stash_app, name="stash")
app.add_typer(db_app, name="db")

console = Console()
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
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
        "p99 ms detection to vents open",
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
            "-"
            if row["vent_after_detect_ms_p99"] is None
            else f"{row['vent_after_detect_ms_p99']:.0f}",
        )
    console.print(table)
    if json_out:
        _write_json(json_out, summary)


@bench_app.command("journal")
def bench_journal(
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the figures as JSON.")
    ] = None,
    entries: Annotated[int, typer.Option("--entries", min=10, max=1_000_000)] = 20_000,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 0,
    db_url: Annotated[
        str | None,
        typer.Option("--db", help="An empty database to fill (default: a temporary SQLite file)."),
    ] = None,
) -> None:
    """The journal two years in (about 20,000 entries): each figure <= 50 ms at p95."""
    from letdown.bench.journal import run_journal_bench

    try:
        with _ProgressBar(f"journal bench: {entries} entries") as step:
            result = run_journal_bench(db_url, entries=entries, seed=seed, progress=step)
    except LetdownError as exc:
        raise _fail(str(exc)) from exc
    target_ms = result["target_p95_ms"]
    table = Table(title=f"journal: {result['entries']} entries on {result['store']}")
    for column in ("operation", "p95 ms", "target ms", ""):
        table.add_column(column, justify="right")
    for name, value in result["p95_ms"].items():
        verdict = "[green]pass[/]" if value <= target_ms else "[red]miss[/]"
        table.add_row(name, f"{value:.1f}", f"{target_ms:g}", verdict)
    console.print(table)
    console.print(f"{result['insert_per_s']:.0f} single inserts a second")
    if json_out:
        _write_json(json_out, result)


@bench_app.command("web")
def bench_web(
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the figures as JSON.")
    ] = None,
    clients: Annotated[
        int, typer.Option("--clients", min=1, max=1000, help="Phones asking at once.")
    ] = 50,
    seconds: Annotated[float, typer.Option("--seconds", min=0.5, max=3600)] = 20.0,
    days: Annotated[
        int, typer.Option("--days", min=1, max=730, help="History of the demo household.")
    ] = 730,
    think: Annotated[
        float,
        typer.Option(
            "--think-seconds", min=0, max=60, help="Each client's pause between requests."
        ),
    ] = 1.0,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 0,
) -> None:
    """The app under load on loopback: dashboard and summaries <= 50 ms, live <= 200 ms at p95."""
    try:
        from letdown.bench.web import run_web_bench
    except ModuleNotFoundError as exc:
        raise _fail(f"letdown bench web needs {exc.name}: pip install -e '.[dev]'") from None
    with _guard(), err.status("starting") as status:
        result = run_web_bench(
            clients=clients,
            seconds=seconds,
            days=days,
            think_s=think,
            seed=seed,
            on_stage=lambda text: status.update(f"{text}…"),
        )
    targets = result["target_p95_ms"]
    _say(
        f"web: {result['clients']} clients and {result['live_clients']} live for "
        f"{result['seconds']:.1f} s, {result['entries']} entries over {result['days']} days"
    )
    table = Table()
    for column in ("figure", "p50 ms", "p95 ms", "target ms", "count", ""):
        table.add_column(column, justify="right")
    counts = result["requests"]
    for name, count in zip(targets, counts.values(), strict=True):
        value = result["p95_ms"][name]
        verdict = "[green]pass[/]" if value <= targets[name] else "[red]miss[/]"
        table.add_row(
            name,
            f"{result['p50_ms'][name]:.1f}",
            f"{value:.1f}",
            f"{targets[name]:g}",
            str(count),
            verdict,
        )
    console.print(table)
    errors = result["errors"]
    console.print(
        f"{result['requests_per_s']:.0f} requests a second; "
        + ("no errors" if not errors else f"[red]{errors} errors[/]: {result['error_examples']}")
    )
    if json_out:
        _write_json(json_out, result)


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


# --- demo in the terminal --------------------------------------------------------------


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


# --- journal: opening the book ------------------------------------------------------------


def _opt(*flags: str, **settings: Any) -> Any:
    """An option whose help says what leaving it out means, so no default is shown."""
    return typer.Option(*flags, show_default=False, **settings)


DbUrl = Annotated[
    str | None,
    _opt(
        "--db",
        help="Journal database URL (default: LETDOWN_DB, else letdown.sqlite in your data folder).",
    ),
]
HouseholdName = Annotated[
    str | None, _opt("--household", help="Which household (default: the only one).")
]
MemberName = Annotated[
    str | None, _opt("--as", help="Who is entering this (default: the household's first member).")
]
ChildName = Annotated[str | None, _opt("--child", help="Which child (default: the only one).")]
Notes = Annotated[str, typer.Option("--notes", help="Anything else worth writing down.")]

AUTO_HOUSEHOLD = "Home"
AUTO_MEMBER = "me"
"""The household made on first use, before anyone ran ``household init``."""

SIDES = ("left", "right")


def _local_zone() -> str:
    """The machine's IANA zone (TZ, then /etc/timezone), else UTC."""
    import os

    from letdown.journal.records import check_zone

    candidates = [os.environ.get("TZ", "").removeprefix(":")]
    with suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in candidates:
        with suppress(ValueError):
            return check_zone(name)
    return "UTC"


@contextmanager
def _guard() -> Iterator[None]:
    """Every journal error ends as one ``error:`` line and exit code 2, never a traceback."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from letdown.journal.records import describe_error

    try:
        yield
    except LetdownError as exc:
        raise _fail(str(exc)) from None
    except ValidationError as exc:
        raise _fail(describe_error(exc)) from None
    except SQLAlchemyError as exc:
        raise _fail(f"the journal database: {_db_problem(exc)}") from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise _fail(f"{where}{exc.strerror or exc}") from None


@dataclass(frozen=True)
class _Desk:
    """An open book with the household's zone and units, and the one "now" of a command."""

    book: Book
    zone: ZoneInfo
    now: datetime

    @property
    def units(self) -> Units:
        return self.book.household.units

    @property
    def word(self) -> str:
        return self.book.household.word.value

    def time(self, text: str) -> datetime:
        from letdown.journal.parse import parse_time

        return parse_time(text, self.zone, self.now)

    def amount(self, text: str, *, allow_zero: bool = False) -> float:
        from letdown.journal.parse import parse_amount_ml

        return parse_amount_ml(text, self.units, allow_zero=allow_zero)

    def show_amount(self, volume_ml: float) -> str:
        from letdown.journal.parse import format_amount

        return format_amount(volume_ml, self.units)

    def show_time(self, at: datetime) -> str:
        from letdown.journal.parse import format_time

        return format_time(at, self.zone)

    def side(self, side: str) -> str:
        return f"{side} {self.word}"

    def child(self, name: str | None) -> str:
        """The named child, or the only one; a clear error when there is none to pick."""
        from letdown.errors import InvalidEntryError, NotFoundError

        known = [child.name for child in self.book.children()]
        hint = "add one with `letdown household child NAME`"
        if name is not None:
            if name not in known:
                listed = ", ".join(known) or "none yet"
                raise NotFoundError(f"no child named {name!r} (children: {listed}); {hint}")
            return name
        if not known:
            raise InvalidEntryError(f"no child in {self.book.household.name} yet: {hint}")
        if len(known) > 1:
            raise InvalidEntryError(f"several children ({', '.join(known)}): pass --child NAME")
        return known[0]


def _now() -> datetime:
    """The one reading of the clock per command (tests replace it)."""
    from datetime import UTC

    return datetime.now(UTC)


@contextmanager
def _open_journal(db_url: str | None) -> Iterator[Journal]:
    from letdown.journal.book import Journal

    with _guard():
        journal = Journal.open(db_url)
        try:
            yield journal
        finally:
            journal.close()


@contextmanager
def _open_desk(db_url: str | None, household: str | None, member: str | None) -> Iterator[_Desk]:
    """The member's book of the household, made on first use (household "Home", member "me")."""
    from zoneinfo import ZoneInfo

    from letdown.errors import NotFoundError
    from letdown.journal.records import HouseholdInfo, MemberInfo, Role, validate

    with _open_journal(db_url) as journal:
        names = journal.household_names()
        if not names:
            book = journal.create_household(
                validate(
                    HouseholdInfo, {"name": household or AUTO_HOUSEHOLD, "time_zone": _local_zone()}
                ),
                validate(MemberInfo, {"name": member or AUTO_MEMBER, "role": Role.NURSING_PARENT}),
            )
            place = book.household
            err.print(
                f"created household {place.name} (zone {place.time_zone}, {place.units.value}, "
                f"{place.word.value}) with member {book.member.name} (nursing parent); set it up "
                "with `letdown household init --name NAME --member NAME --zone ZONE`",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
        else:
            if household is None and len(names) > 1:
                raise NotFoundError(f"several households ({', '.join(names)}): pass --household")
            try:
                book = journal.book(household, member)
            except NotFoundError as exc:
                if member is None or household not in (None, *names):
                    raise
                known = ", ".join(m.name for m in journal.book(household).members())
                raise NotFoundError(f"{exc} (members: {known})") from None
        yield _Desk(book, ZoneInfo(book.household.time_zone), _now())


def _choice(kind: type[_E], text: str, what: str) -> _E:
    from letdown.errors import InvalidEntryError

    try:
        return kind(text.strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidEntryError(f"{what} {text!r}: one of {allowed}") from None


def _say(message: str, *, markup: bool = False) -> None:
    """One line of output; markup only where asked, as names and notes may hold brackets."""
    console.print(message, highlight=False, soft_wrap=True, markup=markup)


def _span(seconds: float) -> str:
    """``45 s``, ``10 min``, ``1 h 5 min``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _when(record: Record, desk: _Desk) -> str:
    start = desk.show_time(record.start_at)
    end = record.end_time()
    if end is None:
        return start
    shown = desk.show_time(end)
    return f"{start}–{shown[11:] if shown[:10] == start[:10] else shown}"


def _describe(record: Record, desk: _Desk) -> str:
    """One line saying what an entry holds, in the household's units and words."""
    from letdown.journal.records import BottleFeed, Care, NurseFeed, PumpSession, Symptom

    parts: list[str] = []
    if isinstance(record, NurseFeed):
        for name, nursed in record.sides.items():
            extra = [
                f"{label} {value}"
                for label, value in (("latch", nursed.latch), ("pain", nursed.pain))
                if value is not None
            ]
            parts.append(
                f"{desk.side(name)} {_span(nursed.duration_s)}"
                + (f" ({', '.join(extra)})" if extra else "")
            )
        parts = [", ".join(parts), record.child]
    elif isinstance(record, PumpSession):
        sides = []
        for name, pumped in record.sides.items():
            extra = []
            if pumped.comfort_mmhg is not None:
                extra.append(f"comfort {pumped.comfort_mmhg:g} mmHg")
            if pumped.pain is not None:
                extra.append(f"pain {pumped.pain}")
            sides.append(
                f"{desk.side(name)} {desk.show_amount(pumped.volume_ml)}"
                + (f" ({', '.join(extra)})" if extra else "")
            )
        parts.append(", ".join(sides))
        if len(record.sides) > 1:
            parts.append(f"{desk.show_amount(record.volume_ml())} in all")
        parts.append(record.device)
        parts.extend(value for value in (record.program, record.milk) if value)
    elif isinstance(record, BottleFeed):
        parts.append(f"{desk.show_amount(record.amount_ml)} {record.content.value}")
        if record.bags:
            parts.append(
                "from "
                + ", ".join(
                    f"bag {use.bag} ({desk.show_amount(use.volume_ml)})" for use in record.bags
                )
            )
        if record.leftover_ml:
            parts.append(f"{desk.show_amount(record.leftover_ml)} left over")
        parts.append(record.child)
    elif isinstance(record, Care):
        parts.append(record.care.value + (f", {desk.side(record.side)}" if record.side else ""))
    elif isinstance(record, Symptom):
        for name, symptoms in record.sides.items():
            found = [
                flag
                for flag in ("cracked", "bleeding", "engorged", "lump", "redness")
                if getattr(symptoms, flag)
            ]
            if symptoms.pain is not None:
                found.insert(0, f"pain {symptoms.pain}")
            parts.append(f"{desk.side(name)}: {', '.join(found) or 'nothing'}")
        if record.fever_c is not None:
            parts.append(f"fever {record.fever_c:.1f} °C")
    if record.notes:
        parts.append(f'"{record.notes}"')
    return " · ".join(parts)


def _entry_json(entry: StoredEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "uid": entry.uid,
        "version": entry.version,
        "entered_by": entry.entered_by,
        "entered_at": entry.entered_at.isoformat(),
        "updated_by": entry.updated_by,
        "updated_at": entry.updated_at.isoformat(),
        "record": entry.record.model_dump(mode="json"),
    }


def _stored(entry: StoredEntry, desk: _Desk) -> None:
    _say(
        f"{entry.kind} #{entry.id} by {entry.entered_by}: {_when(entry.record, desk)}, "
        f"{_describe(entry.record, desk)}"
    )


# --- journal: the household ---------------------------------------------------------------


@household_app.command("init")
def household_init(
    name: Annotated[str, typer.Option("--name", help="The household's name.")],
    member: Annotated[str, typer.Option("--member", help="Your name in the journal.")],
    role: Annotated[
        str, typer.Option("--role", help="nursing-parent, partner, caregiver or viewer.")
    ] = "nursing-parent",
    zone: Annotated[
        str | None,
        _opt("--zone", help="IANA time zone, e.g. Europe/Paris (default: this machine's)."),
    ] = None,
    units: Annotated[str, typer.Option("--units", help="ml or floz (US fluid ounces).")] = "ml",
    word: Annotated[str, typer.Option("--word", help="breast or chest.")] = "breast",
    db_url: DbUrl = None,
) -> None:
    """Set up a household and its first member.

    Run after the journal made "Home" on first use, it renames that one and keeps its entries.
    """
    from letdown.journal.records import HouseholdInfo, MemberInfo, Role, Units, Word, validate

    with _open_journal(db_url) as journal:
        units_name = {"oz": "floz", "fl oz": "floz", "fl-oz": "floz", "ml": "ml"}.get(
            units.strip().lower(), units
        )
        info = validate(
            HouseholdInfo,
            {
                "name": name,
                "time_zone": zone or _local_zone(),
                "units": _choice(Units, units_name, "units"),
                "word": _choice(Word, word, "word"),
            },
        )
        first = validate(MemberInfo, {"name": member, "role": _choice(Role, role, "role")})
        if _set_up_auto_household(journal, info, first):
            _say(f"set up household {info.name} (made on first use; its entries are kept)")
        else:
            journal.create_household(info, first)
            _say(f"created household {info.name}")
        _say(
            f"zone {info.time_zone}, units {info.units.value}, word {info.word.value}; "
            f"member {first.name} ({first.role.value})"
        )


def _set_up_auto_household(journal: Journal, info: HouseholdInfo, first: MemberInfo) -> bool:
    """Rename the household made on first use, if it is all there is and still untouched.

    The book has no call to rename a household or a member, so this writes the two rows.
    """
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from letdown.journal import schema
    from letdown.journal.book import touch

    if journal.household_names() != [AUTO_HOUSEHOLD]:
        return False
    with Session(journal.engine) as session, session.begin():
        household = session.scalar(select(schema.Household).filter_by(name=AUTO_HOUSEHOLD))
        assert household is not None
        members = list(session.scalars(select(schema.Member).filter_by(household_id=household.id)))
        if [m.name for m in members] != [AUTO_MEMBER]:
            return False
        touch(session, household.id)
        household.name = info.name
        household.time_zone = info.time_zone
        household.units = info.units.value
        household.word = info.word.value
        members[0].name = first.name
        members[0].role = first.role.value
    return True


@household_app.command("show")
def household_show(
    db_url: DbUrl = None, household: HouseholdName = None, as_member: MemberName = None
) -> None:
    """The household: zone, units, word, members, children and pregnancies."""
    with _open_desk(db_url, household, as_member) as desk:
        place = desk.book.household
        _say(
            f"[bold]{escape(place.name)}[/]: zone {place.time_zone}, units {place.units.value}, "
            f"word {place.word.value}",
            markup=True,
        )
        _say("members: " + ", ".join(f"{m.name} ({m.role.value})" for m in desk.book.members()))
        children = desk.book.children()
        _say(
            "children: "
            + (
                ", ".join(
                    c.name + (f" (born {c.birth_date.isoformat()})" if c.birth_date else "")
                    for c in children
                )
                or "none yet"
            )
        )
        pregnancies = desk.book.pregnancies()
        if pregnancies:
            _say(
                "pregnancies: "
                + ", ".join(
                    f"due {p.due_date.isoformat()}" + (f" ({p.notes})" if p.notes else "")
                    for p in pregnancies
                )
            )


@household_app.command("member")
def household_member(
    name: Annotated[str, typer.Argument(help="The member's name.")],
    role: Annotated[
        str, typer.Option("--role", help="nursing-parent, partner, caregiver or viewer.")
    ],
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Add a member, or give an existing one another role."""
    from letdown.journal.records import MemberInfo, Role, validate

    with _open_desk(db_url, household, as_member) as desk:
        info = validate(MemberInfo, {"name": name, "role": _choice(Role, role, "role")})
        if any(m.name == info.name for m in desk.book.members()):
            _set_role(desk.book, info)
            _say(f"{info.name} is now {info.role.value} in {desk.book.household.name}")
        else:
            desk.book.add_member(info)
            _say(f"added {info.name} ({info.role.value}) to {desk.book.household.name}")


def _set_role(book: Book, info: MemberInfo) -> None:
    """The book can add members but not change a role, so this writes the member's row."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from letdown.journal import schema
    from letdown.journal.book import NotAllowedError, touch
    from letdown.journal.records import Role

    if book.member.role is Role.VIEWER:
        raise NotAllowedError(f"{book.member.name} is a viewer and cannot change the journal")
    with Session(book.engine) as session, session.begin():
        touch(session, book.household.id)
        row = session.scalar(
            select(schema.Member).filter_by(household_id=book.household.id, name=info.name)
        )
        assert row is not None
        row.role = info.role.value


def _date(text: str, what: str) -> date:
    from letdown.errors import InvalidEntryError

    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidEntryError(f"{what} {text!r}: give a date as 2026-09-01") from None


@household_app.command("child")
def household_child(
    name: Annotated[str, typer.Argument(help="The child's name.")],
    born: Annotated[str | None, _opt("--born", help="Birth date, e.g. 2026-09-01.")] = None,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Add a child (feeds and bottles name one)."""
    from letdown.journal.records import ChildInfo, validate

    with _open_desk(db_url, household, as_member) as desk:
        info = validate(
            ChildInfo, {"name": name, "birth_date": None if born is None else _date(born, "born")}
        )
        desk.book.add_child(info)
        _say(f"added child {info.name} to {desk.book.household.name}")


@household_app.command("pregnancy")
def household_pregnancy(
    due: Annotated[str, typer.Option("--due", help="Due date, e.g. 2027-05-01.")],
    notes: Notes = "",
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Note a pregnancy: nursing while pregnant often lowers supply."""
    from letdown.journal.records import PregnancyInfo, validate

    with _open_desk(db_url, household, as_member) as desk:
        info = validate(PregnancyInfo, {"due_date": _date(due, "due"), "notes": notes})
        desk.book.add_pregnancy(info)
        _say(f"noted a pregnancy due {info.due_date.isoformat()}")


# --- journal: log -------------------------------------------------------------------------

TimeOption = Annotated[
    str | None, _opt("--at", help="When: now, -20m, 07:30 or ISO (default: now).")
]
PainLeft = Annotated[
    int | None, _opt("--pain-left", min=0, max=10, help="Pain on the left, 0 (none) to 10.")
]
PainRight = Annotated[
    int | None, _opt("--pain-right", min=0, max=10, help="Pain on the right, 0 (none) to 10.")
]


def _span_times(
    desk: _Desk, start: str | None, end: str | None, length_s: float | None, what: str
) -> tuple[datetime, datetime]:
    """Start and end from any two of start, end and length (end alone means now)."""
    from datetime import timedelta

    from letdown.errors import InvalidEntryError
    from letdown.journal.parse import FUTURE_SLACK

    if start is not None and end is not None:
        start_at, end_at = desk.time(start), desk.time(end)
    elif length_s is None:
        if start is None:
            raise InvalidEntryError(f"say when the {what} started: --start TIME or --minutes N")
        start_at, end_at = desk.time(start), desk.now
    elif start is None:
        end_at = desk.time(end or "now")
        start_at = end_at - timedelta(seconds=length_s)
    else:
        start_at = desk.time(start)
        end_at = start_at + timedelta(seconds=length_s)
        if end_at > desk.now + FUTURE_SLACK:
            raise InvalidEntryError(
                f"a {what} from {desk.show_time(start_at)} lasting {_span(length_s)} ends in "
                "the future: give --end"
            )
    if end_at < start_at:
        raise InvalidEntryError(
            f"the end ({desk.show_time(end_at)}) is before the start ({desk.show_time(start_at)})"
        )
    return start_at, end_at


@log_app.command("nurse")
def log_nurse(
    left: Annotated[
        str | None, _opt("--left", help="Time on the left: 10m, 1h5m, 90s, 10 (minutes).")
    ] = None,
    right: Annotated[str | None, _opt("--right", help="Time on the right.")] = None,
    start: Annotated[
        str | None,
        _opt("--start", help="When the feed began (default: the end less both sides' times)."),
    ] = None,
    end: Annotated[
        str | None,
        _opt("--end", help="When it ended (default: now, or the start plus both sides' times)."),
    ] = None,
    latch_left: Annotated[
        int | None, _opt("--latch-left", min=0, max=10, help="Latch 0-10.")
    ] = None,
    latch_right: Annotated[
        int | None, _opt("--latch-right", min=0, max=10, help="Latch 0-10.")
    ] = None,
    pain_left: PainLeft = None,
    pain_right: PainRight = None,
    child: ChildName = None,
    notes: Notes = "",
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """A feed at the breast or chest: how long on each side.

    Give --start and --end, or one of them: the other is found from the sides' times.
    """
    from letdown.errors import InvalidEntryError
    from letdown.journal.parse import parse_duration_s
    from letdown.journal.records import NurseFeed, validate

    with _open_desk(db_url, household, as_member) as desk:
        given = {"left": (left, latch_left, pain_left), "right": (right, latch_right, pain_right)}
        sides: dict[str, dict[str, Any]] = {}
        for name, (duration, latch, pain) in given.items():
            if duration is None:
                if latch is not None or pain is not None:
                    raise InvalidEntryError(f"--{name}: give the time on the {name} too")
                continue
            sides[name] = {"duration_s": parse_duration_s(duration), "latch": latch, "pain": pain}
        if not sides:
            raise InvalidEntryError("give at least one side: --left 10m and/or --right 8m")
        length_s = sum(side["duration_s"] for side in sides.values())
        start_at, end_at = _span_times(desk, start, end, length_s, "feed")
        record = validate(
            NurseFeed,
            {
                "start_at": start_at,
                "end_at": end_at,
                "child": desk.child(child),
                "sides": sides,
                "notes": notes,
            },
        )
        _stored(desk.book.add(record), desk)


@log_app.command("pump")
def log_pump(
    left: Annotated[
        str | None,
        _opt(
            "--left",
            help="Pumped on the left: 60, 60ml, 2oz (a bare number is in the household's units).",
        ),
    ] = None,
    right: Annotated[str | None, _opt("--right", help="Pumped on the right.")] = None,
    start: Annotated[
        str | None, _opt("--start", help="When pumping began: -20m, 07:30 or ISO.")
    ] = None,
    end: Annotated[
        str | None, _opt("--end", help="When it ended (default: now, or the start plus --minutes).")
    ] = None,
    minutes: Annotated[
        float | None,
        _opt("--minutes", min=0, max=360, help="How long it lasted, instead of --start."),
    ] = None,
    device: Annotated[
        str, typer.Option("--device", help="The pump used (a hand entry is not letdown's).")
    ] = "other pump",
    program: Annotated[str | None, _opt("--program", help="The pump's program or mode.")] = None,
    milk: Annotated[str | None, _opt("--milk", help="colostrum, transitional or mature.")] = None,
    comfort_left: Annotated[
        float | None, _opt("--comfort-left", min=0, max=400, help="Comfortable vacuum, mmHg.")
    ] = None,
    comfort_right: Annotated[
        float | None, _opt("--comfort-right", min=0, max=400, help="Comfortable vacuum, mmHg.")
    ] = None,
    pain_left: PainLeft = None,
    pain_right: PainRight = None,
    stash: Annotated[
        str | None,
        _opt(
            "--stash",
            help="Also store the milk as one bag: fridge, freezer, deep-freezer, room or cooler.",
        ),
    ] = None,
    notes: Notes = "",
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """A pumping session on any pump, entered by hand.

    Say when: --start (to --end, default now), or --minutes up to --end or from --start.
    The length is never guessed: a made-up 15 minutes would pass for a real one.
    """
    from letdown.errors import InvalidEntryError, LetdownError
    from letdown.journal.records import MAX_VOLUME_ML, Location, MilkKind, PumpSession, validate

    with _open_desk(db_url, household, as_member) as desk:
        given = {
            "left": (left, comfort_left, pain_left),
            "right": (right, comfort_right, pain_right),
        }
        sides: dict[str, dict[str, Any]] = {}
        for name, (amount, comfort, pain) in given.items():
            if amount is None:
                if comfort is not None or pain is not None:
                    raise InvalidEntryError(f"--{name}: give the amount on the {name} too")
                continue
            sides[name] = {
                "volume_ml": desk.amount(amount, allow_zero=True),
                "comfort_mmhg": comfort,
                "pain": pain,
            }
        if not sides:
            raise InvalidEntryError("give at least one side: --left 60ml and/or --right 2oz")
        if start is not None and end is not None and minutes is not None:
            raise InvalidEntryError("give two of --start, --end and --minutes, not all three")
        start_at, end_at = _span_times(
            desk, start, end, None if minutes is None else minutes * 60.0, "session"
        )
        record = validate(
            PumpSession,
            {
                "start_at": start_at,
                "end_at": end_at,
                "sides": sides,
                "device": device,
                "program": program,
                "milk": None if milk is None else _choice(MilkKind, milk, "milk"),
                "notes": notes,
            },
        )
        where = None if stash is None else _choice(Location, stash, "stash")
        total_ml = record.volume_ml()
        if where is not None and not 0 < total_ml <= MAX_VOLUME_ML:
            raise InvalidEntryError(
                f"--stash: a bag holds more than 0 and at most {MAX_VOLUME_ML:g} mL, "
                f"not {desk.show_amount(total_ml)}"
            )
        entry = desk.book.add(record)
        _stored(entry, desk)
        if where is not None:
            try:
                bag = desk.book.stash_add(
                    total_ml,
                    expressed_at=start_at,
                    location=where,
                    stored_at=end_at,
                    sources=[entry.id],
                )
            except LetdownError:
                desk.book.delete(entry.id)
                raise
            _show_label(bag, desk)


@log_app.command("bottle")
def log_bottle(
    amount: Annotated[str, typer.Option("--amount", help="In the bottle: 120, 120ml, 4oz.")],
    at: TimeOption = None,
    content: Annotated[
        str, typer.Option("--content", help="expressed, donor or formula.")
    ] = "expressed",
    bags: Annotated[
        list[str] | None,
        _opt(
            "--bag",
            help="A stash bag it drew from: CODE (the rest of the bottle) or CODE:AMOUNT; "
            "repeat for more.",
        ),
    ] = None,
    leftover: Annotated[
        str | None, _opt("--leftover", help="Left in the bottle after the feed.")
    ] = None,
    child: ChildName = None,
    notes: Notes = "",
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """A bottle: how much, of what, and which stash bags it drew from."""
    from letdown.journal.records import BottleContent, BottleFeed, validate
    from letdown.journal.stash import LEFTOVER_LIMIT

    with _open_desk(db_url, household, as_member) as desk:
        amount_ml = desk.amount(amount)
        record = validate(
            BottleFeed,
            {
                "start_at": desk.time(at or "now"),
                "child": desk.child(child),
                "amount_ml": amount_ml,
                "content": _choice(BottleContent, content, "content"),
                "bags": _bag_uses(desk, bags or [], amount_ml),
                "leftover_ml": 0.0 if leftover is None else desk.amount(leftover, allow_zero=True),
                "notes": notes,
            },
        )
        entry = desk.book.add(record)
        _stored(entry, desk)
        if record.leftover_ml and record.content is not BottleContent.FORMULA:
            _say(
                f"the {desk.show_amount(record.leftover_ml)} left over keeps until "
                f"{desk.show_time(record.start_at + LEFTOVER_LIMIT)[11:]} (CDC: 2 hours after "
                "the feed), then throw it away"
            )
        for use in record.bags:
            bag = desk.book.bag(use.bag)
            _say(
                f"bag {bag.code}: {desk.show_amount(bag.remaining_ml)} left"
                if bag.status == "stored"
                else f"bag {bag.code}: {bag.status}"
            )


def _bag_uses(desk: _Desk, specs: list[str], amount_ml: float) -> list[dict[str, Any]]:
    """``CODE:AMOUNT`` as given; a bare ``CODE`` takes what the others leave of the bottle."""
    from letdown.errors import InvalidEntryError

    uses: list[dict[str, Any]] = []
    open_codes: list[int] = []
    for spec in specs:
        code, _, amount = spec.partition(":")
        code = code.strip().upper()
        if not code:
            raise InvalidEntryError(f"--bag {spec!r}: give the bag's code, as ACD or ACD:60ml")
        if amount.strip():
            uses.append({"bag": code, "volume_ml": desk.amount(amount)})
        else:
            open_codes.append(len(uses))
            uses.append({"bag": code, "volume_ml": None})
    rest_ml = amount_ml - sum(use["volume_ml"] or 0.0 for use in uses)
    if rest_ml < -0.05:
        raise InvalidEntryError(
            f"the bags give {desk.show_amount(amount_ml - rest_ml)}, more than the bottle's "
            f"{desk.show_amount(amount_ml)}"
        )
    for number, index in enumerate(open_codes):
        code = uses[index]["bag"]
        if rest_ml <= 0.05:
            raise InvalidEntryError(
                f"--bag {code}: the other bags fill the bottle already; give CODE:AMOUNT"
            )
        last = number == len(open_codes) - 1
        take_ml = rest_ml if last else min(rest_ml, desk.book.bag(code).remaining_ml)
        uses[index]["volume_ml"] = take_ml
        rest_ml -= take_ml
    return uses


@log_app.command("care")
def log_care(
    kind: Annotated[
        str,
        typer.Argument(
            help="salve, cold-compress, warm-compress, clinician-visit or "
            "lactation-consultant-visit."
        ),
    ],
    side: Annotated[str | None, _opt("--side", help="left or right.")] = None,
    at: TimeOption = None,
    notes: Notes = "",
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Care for comfort or healing: salve, a compress, a clinician's or consultant's visit."""
    from letdown.journal.records import Care, CareKind, validate

    with _open_desk(db_url, household, as_member) as desk:
        record = validate(
            Care,
            {
                "start_at": desk.time(at or "now"),
                "care": _choice(CareKind, kind, "care"),
                "side": None if side is None else _side(side),
                "notes": notes,
            },
        )
        _stored(desk.book.add(record), desk)


def _side(text: str) -> str:
    from letdown.errors import InvalidEntryError

    if text.strip().lower() not in SIDES:
        raise InvalidEntryError(f"side {text!r}: left or right")
    return text.strip().lower()


def _sides(text: str | None, what: str) -> tuple[str, ...]:
    from letdown.errors import InvalidEntryError

    if text is None:
        return ()
    value = text.strip().lower()
    if value == "both":
        return SIDES
    if value in SIDES:
        return (value,)
    raise InvalidEntryError(f"--{what} {text!r}: left, right or both")


SideFlag = Annotated[str | None, _opt(help="left, right or both.")]


@log_app.command("symptom")
def log_symptom(
    at: TimeOption = None,
    pain_left: PainLeft = None,
    pain_right: PainRight = None,
    cracked: SideFlag = None,
    bleeding: SideFlag = None,
    engorged: SideFlag = None,
    lump: SideFlag = None,
    redness: SideFlag = None,
    fever: Annotated[str | None, _opt("--fever", help="Temperature: 38.4 (°C) or 101.1F.")] = None,
    notes: Notes = "",
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """How each side is (pain, cracks, bleeding, engorgement, a lump, redness) and any fever."""
    from letdown.journal.parse import parse_fever_c
    from letdown.journal.records import Symptom, validate

    with _open_desk(db_url, household, as_member) as desk:
        sides: dict[str, dict[str, Any]] = {}
        for name, pain in (("left", pain_left), ("right", pain_right)):
            if pain is not None:
                sides.setdefault(name, {})["pain"] = pain
        flags = {
            "cracked": cracked,
            "bleeding": bleeding,
            "engorged": engorged,
            "lump": lump,
            "redness": redness,
        }
        for flag, where in flags.items():
            for name in _sides(where, flag):
                sides.setdefault(name, {})[flag] = True
        record = validate(
            Symptom,
            {
                "start_at": desk.time(at or "now"),
                "sides": sides,
                "fever_c": None if fever is None else parse_fever_c(fever),
                "notes": notes,
            },
        )
        _stored(desk.book.add(record), desk)


# --- journal: the stash -------------------------------------------------------------------


def _show_label(bag: BagView, desk: _Desk) -> None:
    from rich.text import Text

    console.print(Panel.fit(Text("  ".join(bag.code), style="bold"), title="label", padding=(1, 4)))
    _say(
        f"bag {bag.code}: {desk.show_amount(bag.remaining_ml)} in the {bag.location.value}, "
        f"expressed {desk.show_time(bag.expressed_at)}; use by "
        f"{desk.show_time(bag.expiry.use_by)} ({bag.expiry.rule})"
    )


@stash_app.command("add")
def stash_add(
    amount: Annotated[str, typer.Argument(help="How much: 120, 120ml, 4oz.")],
    expressed: Annotated[
        str, typer.Option("--expressed", help="When it was expressed (it is stored from then).")
    ] = "now",
    where: Annotated[
        str, typer.Option("--where", help="fridge, freezer, deep-freezer, room or cooler.")
    ] = "fridge",
    sources: Annotated[
        list[str] | None,
        _opt("--from", help="The pump session's entry id it came from; repeat for more."),
    ] = None,
    code: Annotated[
        str | None, _opt("--code", help="Your own label (default: a new short code).")
    ] = None,
    notes: Notes = "",
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Put a bag of expressed milk in the stash and print its label code."""
    from letdown.journal.records import Location

    with _open_desk(db_url, household, as_member) as desk:
        expressed_at = desk.time(expressed)
        bag = desk.book.stash_add(
            desk.amount(amount),
            expressed_at=expressed_at,
            location=_choice(Location, where, "where"),
            stored_at=expressed_at,
            sources=sources or [],
            code=code,
            notes=notes,
        )
        _show_label(bag, desk)


@stash_app.command("move")
def stash_move(
    code: Annotated[str, typer.Argument(help="The bag's label code.")],
    where: Annotated[str, typer.Argument(help="fridge, freezer, deep-freezer, room or cooler.")],
    at: TimeOption = None,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Move a bag (thawing counts: thawed milk never goes back to a freezer)."""
    from letdown.journal.records import Location

    with _open_desk(db_url, household, as_member) as desk:
        bag = desk.book.stash_move(code, _choice(Location, where, "where"), desk.time(at or "now"))
        _say(
            f"bag {bag.code} is in the {bag.location.value}: use by "
            f"{desk.show_time(bag.expiry.use_by)} ({bag.expiry.rule})"
        )


@stash_app.command("use")
def stash_use(
    code: Annotated[str, typer.Argument(help="The bag's label code.")],
    amount: Annotated[
        str | None, _opt("--amount", help="How much of it (default: all that is left).")
    ] = None,
    child: ChildName = None,
    at: TimeOption = None,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Feed from a bag: writes the bottle down and draws the bag."""
    with _open_desk(db_url, household, as_member) as desk:
        entry = desk.book.stash_use(
            code,
            child=desk.child(child),
            at=desk.time(at or "now"),
            volume_ml=None if amount is None else desk.amount(amount),
        )
        _stored(entry, desk)
        bag = desk.book.bag(code)
        _say(
            f"bag {bag.code}: {desk.show_amount(bag.remaining_ml)} left"
            if bag.status == "stored"
            else f"bag {bag.code}: used up"
        )


@stash_app.command("discard")
def stash_discard(
    code: Annotated[str, typer.Argument(help="The bag's label code.")],
    reason: Annotated[str, typer.Option("--reason", help="Why: expired, spilled, smelled off...")],
    at: TimeOption = None,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Throw a bag away, saying why."""
    with _open_desk(db_url, household, as_member) as desk:
        bag = desk.book.stash_discard(code, reason, desk.time(at or "now"))
        _say(f"bag {bag.code} discarded ({bag.reason}): {desk.show_amount(bag.remaining_ml)}")


@stash_app.command("list")
def stash_list(
    show_all: Annotated[bool, typer.Option("--all", help="Also bags used or discarded.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (volumes in mL, UTC times).")
    ] = False,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """The stash in the order to use it, with each bag's use-by and the rule behind it."""
    with _open_desk(db_url, household, as_member) as desk:
        bags = desk.book.stash(include_closed=show_all)
        if as_json:
            typer.echo(json.dumps([_bag_json(bag, desk.now) for bag in bags], indent=2))
            return
        if not bags:
            _say("the stash is empty")
            return
        today = desk.now.astimezone(desk.zone).date()
        table = Table(title=f"stash of {escape(desk.book.household.name)}, in the order to use it")
        for column in ("bag", "left", "where", "expressed", "use by", "rule"):
            table.add_column(column, overflow="fold")
        if show_all:
            table.add_column("status")
        warnings: list[str] = []
        for bag in bags:
            use_by = desk.show_time(bag.expiry.use_by)
            if bag.status != "stored":
                colour = "dim"
            elif bag.expired(desk.now):
                colour = "red"
                warnings.append(
                    f"[red]warning:[/] bag {escape(bag.code)} expired at {use_by}: discard it"
                )
            elif bag.expiry.use_by.astimezone(desk.zone).date() == today:
                colour = "yellow"
                warnings.append(
                    f"[yellow]warning:[/] bag {escape(bag.code)} must be used by "
                    f"{use_by[11:]} today"
                )
            else:
                colour = "green"
            left = desk.show_amount(bag.remaining_ml)
            if bag.remaining_ml < bag.volume_ml - 0.05:
                left += f" (of {desk.show_amount(bag.volume_ml)})"
            table.add_row(
                Text(bag.code),
                left,
                bag.location.value,
                desk.show_time(bag.expressed_at),
                f"[{colour}]{use_by}[/]",
                bag.expiry.rule,
                *([bag.status] if show_all else []),
            )
        console.print(table)
        stored = [bag for bag in bags if bag.status == "stored"]
        _say(f"{len(stored)} bags, {desk.show_amount(sum(b.remaining_ml for b in stored))}")
        for line in warnings:
            _say(line, markup=True)


def _bag_json(bag: BagView, now: datetime) -> dict[str, Any]:
    return {
        "code": bag.code,
        "uid": bag.uid,
        "volume_ml": bag.volume_ml,
        "remaining_ml": bag.remaining_ml,
        "location": bag.location.value,
        "status": bag.status,
        "expressed_at": bag.expressed_at.isoformat(),
        "use_by": bag.expiry.use_by.isoformat(),
        "best_by": None if bag.expiry.best_by is None else bag.expiry.best_by.isoformat(),
        "thawed_at": None if bag.expiry.thawed_at is None else bag.expiry.thawed_at.isoformat(),
        "rule": bag.expiry.rule,
        "expired": bag.expired(now),
        "sources": list(bag.sources),
        "closed_at": None if bag.closed_at is None else bag.closed_at.isoformat(),
        "reason": bag.reason,
        "notes": bag.notes,
    }


# --- journal: reading and changing entries ------------------------------------------------


@app.command("history")
def history(
    since: Annotated[
        str, typer.Option("--since", help="How far back: 7d, 24h, or a time (07:30, ISO).")
    ] = "7d",
    kind: Annotated[
        str | None,
        _opt(
            "--kind",
            help="Only these kinds, e.g. pump,nurse (of nurse, pump, bottle, care, symptom).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many entries.")] = 100,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (volumes in mL, UTC times).")
    ] = False,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """The journal, newest first, then the last 24 hours in figures."""
    from datetime import timedelta

    from letdown.errors import InvalidEntryError
    from letdown.journal.parse import parse_since
    from letdown.journal.records import KINDS

    with _open_desk(db_url, household, as_member) as desk:
        kinds = None
        if kind is not None:
            kinds = [name.strip().lower() for name in kind.split(",") if name.strip()]
            unknown = [name for name in kinds if name not in KINDS]
            if unknown or not kinds:
                raise InvalidEntryError(
                    f"--kind {kind!r}: use some of {', '.join(KINDS)}, comma-separated"
                )
        since_at = parse_since(since, desk.zone, desk.now)
        entries = desk.book.history(since=since_at, kinds=kinds, limit=limit)
        summary = desk.book.summary(desk.now - timedelta(hours=24), desk.now)
        if as_json:
            payload = {
                "entries": [_entry_json(entry) for entry in entries],
                "summary_24h": _summary_json(summary),
            }
            typer.echo(json.dumps(payload, indent=2))
            return
        if entries:
            table = Table(
                title=f"{escape(desk.book.household.name)} since {desk.show_time(since_at)}"
            )
            for column in ("#", "when", "kind", "what", "by", "v"):
                table.add_column(column, overflow="fold")
            for entry in entries:
                by = entry.entered_by
                if entry.updated_by != entry.entered_by:
                    by += f", edited by {entry.updated_by}"
                table.add_row(
                    str(entry.id),
                    _when(entry.record, desk),
                    entry.kind,
                    Text(_describe(entry.record, desk)),
                    Text(by),
                    f"v{entry.version}" if entry.version > 1 else "",
                )
            console.print(table)
        else:
            _say(f"nothing since {desk.show_time(since_at)}")
        for line in _summary_lines(summary, desk):
            _say(line, markup=True)


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}" + ("" if number == 1 else "s")


def _summary_lines(summary: Summary, desk: _Desk) -> list[str]:
    lines = ["[bold]last 24 hours[/]"]
    pumped = _count(summary.pump_sessions, "session")
    if summary.pump_sessions:
        sides = ", ".join(
            f"{desk.side(side)} {desk.show_amount(ml)}" for side, ml in summary.pumped_ml.items()
        )
        pumped += f", {sides} ({desk.show_amount(summary.pumped_total_ml)} in all)"
    lines.append(f"pumped: {pumped}")
    nursed = _count(summary.nurse_feeds, "feed")
    if summary.nurse_feeds:
        nursed += ", " + ", ".join(
            f"{desk.side(side)} {_span(s)}" for side, s in summary.nursed_s.items() if s
        )
    lines.append(f"nursed: {nursed}")
    given = ", ".join(
        f"{desk.show_amount(ml)} {content}" for content, ml in summary.bottle_ml.items() if ml
    )
    lines.append(f"bottles: {summary.bottles}" + (f", {given}" if given else ""))
    if summary.care or summary.symptoms:
        line = f"care: {summary.care}; symptoms: {summary.symptoms}"
        worst = ", ".join(
            f"{desk.side(side)} {pain}"
            for side, pain in summary.worst_pain.items()
            if pain is not None
        )
        if worst:
            line += f"; worst pain {worst}"
        if summary.highest_fever_c is not None:
            line += f"; fever up to {summary.highest_fever_c:.1f} °C"
        lines.append(line)
    return lines


def _summary_json(summary: Summary) -> dict[str, Any]:
    return {
        "since": summary.since.isoformat(),
        "until": summary.until.isoformat(),
        "pump_sessions": summary.pump_sessions,
        "pumped_ml": summary.pumped_ml,
        "nurse_feeds": summary.nurse_feeds,
        "nursed_s": summary.nursed_s,
        "bottles": summary.bottles,
        "bottle_ml": summary.bottle_ml,
        "care": summary.care,
        "symptoms": summary.symptoms,
        "worst_pain": summary.worst_pain,
        "highest_fever_c": summary.highest_fever_c,
    }


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and data:
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.removesuffix("."): data}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """``field: old → new`` for every leaf that differs."""
    old, new = _flatten(before), _flatten(after)
    return [
        f"{key}: {json.dumps(old.get(key))} → {json.dumps(new.get(key))}"
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    ]


@app.command("show")
def show(
    entry: Annotated[str, typer.Argument(help="The entry's number (or uid).")],
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """An entry and its history: who changed what, and when."""
    from letdown.errors import NotFoundError

    with _open_desk(db_url, household, as_member) as desk:
        revisions = desk.book.revisions(entry)
        try:
            stored = desk.book.get(entry)
        except NotFoundError:
            latest = revisions[-1]
            _say(
                f"entry {entry} ({latest.record.kind}) was deleted by {latest.changed_by} at "
                f"{desk.show_time(latest.changed_at)}"
            )
        else:
            _say(
                f"[bold]{stored.kind} #{stored.id}[/] (uid {stored.uid}), version {stored.version}",
                markup=True,
            )
            _say(f"{_when(stored.record, desk)}: {_describe(stored.record, desk)}")
            _say(
                f"entered by {stored.entered_by} at {desk.show_time(stored.entered_at)}, "
                f"last changed by {stored.updated_by} at {desk.show_time(stored.updated_at)}"
            )
            for key, value in _flatten(stored.record.model_dump(mode="json")).items():
                if value not in (None, "", [], {}):
                    _say(f"  {key} = {json.dumps(value, ensure_ascii=False)}")
        table = Table(title="history")
        for column in ("v", "what", "by", "when", "changes"):
            table.add_column(column, overflow="fold")
        previous: dict[str, Any] = {}
        for revision in revisions:
            data = revision.record.model_dump(mode="json")
            changed = "" if revision.action != "edited" else "\n".join(_changes(previous, data))
            table.add_row(
                str(revision.version),
                revision.action,
                Text(revision.changed_by),
                desk.show_time(revision.changed_at),
                Text(changed),
            )
            previous = data
        console.print(table)


@app.command("edit")
def edit(
    entry: Annotated[str, typer.Argument(help="The entry's number (or uid).")],
    assignments: Annotated[
        list[str],
        typer.Argument(
            help="field=value: notes=late, sides.left.volume_ml=70, start_at=07:30, amount_ml=4oz.",
            show_default=False,
        ),
    ],
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Change fields of an entry (the version before stays in its history).

    Values are read as JSON where they can be (70, true, null), else as text; fields ending
    in _at take any time (07:30, -20m, ISO), fields ending in _ml any amount (4oz).
    """
    import copy

    from letdown.errors import InvalidEntryError

    with _open_desk(db_url, household, as_member) as desk:
        current = desk.book.get(entry)
        before = current.record.model_dump(mode="json")
        after = copy.deepcopy(before)
        changed: set[str] = set()
        for assignment in assignments:
            path, sep, text = assignment.partition("=")
            keys = [key.strip() for key in path.split(".")]
            if not sep or not all(keys):
                raise InvalidEntryError(f"{assignment!r}: write field=value, as notes=late")
            target = after
            for key in keys[:-1]:
                inner = target.setdefault(key, {})
                if not isinstance(inner, dict):
                    raise InvalidEntryError(f"{path}: {key} holds no fields")
                target = inner
            target[keys[-1]] = _edit_value(desk, keys[-1], text, target.get(keys[-1]))
            changed.add(keys[0])
        updated = desk.book.edit(entry, {key: after[key] for key in changed})
        _say(f"{updated.kind} #{updated.id} is now version {updated.version}")
        for line in _changes(before, updated.record.model_dump(mode="json")):
            _say(f"  {line}")


def _edit_value(desk: _Desk, key: str, text: str, current: Any) -> Any:
    """JSON where it reads as JSON, else text; times and amounts as the log commands read them."""
    if text.strip() == "null":
        return None
    if isinstance(current, str) and not key.endswith("_at"):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if isinstance(value, str) and key.endswith("_at"):
        return desk.time(value).isoformat()
    if isinstance(value, str) and key.endswith("_ml"):
        from letdown.journal.parse import parse_amount_ml
        from letdown.journal.records import Units

        return parse_amount_ml(value, Units.ML, allow_zero=True)
    return value


@app.command("delete")
def delete(
    entry: Annotated[str, typer.Argument(help="The entry's number (or uid).")],
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Remove an entry (it stays in its history; a bottle's milk goes back to its bags)."""
    with _open_desk(db_url, household, as_member) as desk:
        stored = desk.book.get(entry)
        desk.book.delete(entry)
        _say(f"deleted {stored.kind} #{stored.id} ({_when(stored.record, desk)})")


# --- journal: the database, export and import ---------------------------------------------


def _db_problem(exc: Exception) -> str:
    """The driver's own words, without SQLAlchemy's link to its error pages."""
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


@db_app.command("status")
def db_status(db_url: DbUrl = None) -> None:
    """Which schema the journal database is at, and which this letdown wants."""
    from sqlalchemy.exc import SQLAlchemyError

    from letdown.journal import db

    with _guard():
        engine = db.make_engine(db_url)
        _say(f"database: {engine.url.render_as_string(hide_password=True)}")
        try:
            current = db.current_revision(engine)
        except SQLAlchemyError as exc:
            raise _fail(f"cannot reach the database: {_db_problem(exc)}") from None
        finally:
            engine.dispose()
        head = db.head_revision()
        if current is None:
            _say(f"schema: none yet (made on first use); this letdown: {head}")
        elif current == head:
            _say(f"schema: {current}, this letdown's: up to date")
        else:
            _say(
                f"schema: {current}, this letdown's is {head}: back the database up and run "
                "`letdown db upgrade` (if the database is the newer one, upgrade letdown)"
            )


@db_app.command("upgrade")
def db_upgrade(db_url: DbUrl = None) -> None:
    """Migrate the journal database to this letdown's schema (back it up first)."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from letdown.journal import db

    with _guard():
        engine = db.make_engine(db_url)
        where = engine.url.render_as_string(hide_password=True)
        try:
            before = db.current_revision(engine)
            after = db.upgrade(engine)
        except (SQLAlchemyError, CommandError) as exc:
            raise _fail(f"cannot upgrade {where}: {_db_problem(exc)}") from None
        finally:
            engine.dispose()
        if before == after:
            _say(f"{where} is at {after} already")
        else:
            _say(f"upgraded {where} from {before or 'nothing'} to {after}")


EXPORT_FORMATS = ("csv", "json")


def _babybuddy_import() -> Any:
    """``import_babybuddy``, loaded by name: a build without the Baby Buddy reader still runs."""
    import importlib

    from letdown.errors import JournalError

    name = "letdown.journal.babybuddy"
    try:
        return importlib.import_module(name).import_babybuddy
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise JournalError("Baby Buddy import is not in this build of letdown") from None


@app.command("export")
def export(
    fmt: Annotated[str, typer.Argument(metavar="csv|json", help="csv or json.")],
    out: Annotated[
        Path | None, _opt("--out", help="File to write (default: standard output).")
    ] = None,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """The household's whole journal, to read elsewhere or import again without loss."""
    import io
    import sys

    from letdown.errors import InvalidEntryError
    from letdown.journal.exchange import write_export

    with _guard():
        if fmt not in EXPORT_FORMATS:
            raise InvalidEntryError(f"format {fmt!r}: csv or json")
    with _open_desk(db_url, household, as_member) as desk:
        buffer = io.StringIO(newline="")
        count = write_export(desk.book, "csv" if fmt == "csv" else "json", buffer)
        if out is None:
            sys.stdout.write(buffer.getvalue())
            sys.stdout.flush()
            err.print(f"exported {count} records", highlight=False)
        else:
            with out.open("w", encoding="utf-8", newline="") as file:
                file.write(buffer.getvalue())
            _say(f"wrote {count} records to {out}")


@app.command("import")
def import_command(
    fmt: Annotated[
        str,
        typer.Argument(
            metavar="csv|json|babybuddy", help="csv or json (letdown's own export) or babybuddy."
        ),
    ],
    file: Annotated[Path, typer.Argument(help="The file to read.")],
    child: ChildName = None,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Bring in letdown's own export, or a Baby Buddy export; says what it skipped and why."""
    from letdown.errors import InvalidEntryError
    from letdown.journal.exchange import import_file

    with _guard():
        if fmt not in (*EXPORT_FORMATS, "babybuddy"):
            raise InvalidEntryError(f"format {fmt!r}: csv, json or babybuddy")
        if child is not None and fmt != "babybuddy":
            raise InvalidEntryError(
                "--child is for Baby Buddy imports: letdown's exports name theirs"
            )
        if not file.is_file():
            raise InvalidEntryError(f"{file}: no such file")
        import_babybuddy = _babybuddy_import() if fmt == "babybuddy" else None
    if import_babybuddy is not None:
        with _open_desk(db_url, household, as_member) as desk:
            report = import_babybuddy(desk.book, file, child=child)
    else:
        with _open_journal(db_url) as journal:
            report = import_file(
                journal,
                "csv" if fmt == "csv" else "json",
                file,
                household=household,
                member=as_member,
            )
    for line in report.lines():
        _say(line)


# --- the app: serve and demo -------------------------------------------------------------

DEMO_SPEED = 10.0
"""How fast the demo's simulated pump runs in the app (times real time)."""
TERMINAL_SPEED = 20.0
TERMINAL_ONLY = ("--profile", "--program", "--minutes")

Host = Annotated[
    str,
    typer.Option("--host", help="Address to listen on (0.0.0.0: every network of this machine)."),
]
Port = Annotated[
    int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one).")
]


@app.command("serve")
def serve(host: Host = "127.0.0.1", port: Port = 8000, db_url: DbUrl = None) -> None:
    """Run the web app: the household's journal and the live pump, for every phone at home."""
    from letdown.journal import Accounts
    from letdown.web.settings import Settings

    with _listening(host, port) as (sock, url), _open_journal(db_url) as journal:
        settings = Settings(db=db_url, host=host, port=sock.getsockname()[1])
        _say(f"letdown is at {url}  (journal: {_where(journal)})")
        if not Accounts(journal.engine).any():
            _say(f"first start: open {url}/setup to create your household")
        _run_app(settings, journal, sock, open_browser=None)


@app.command()
def demo(
    port: Port = 8000,
    host: Host = "127.0.0.1",
    speed: Annotated[
        float | None,
        _opt(
            "--speed",
            min=0,
            help=f"Times real time: the app's simulated pump (default {DEMO_SPEED:g}, at most "
            f"100); with --terminal, 0 runs as fast as possible (default {TERMINAL_SPEED:g}).",
        ),
    ] = None,
    db_url: DbUrl = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open the app in a browser.")
    ] = False,
    terminal: Annotated[
        bool,
        typer.Option("--terminal", help="Instead of the app, one session shown in the terminal."),
    ] = False,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Which generated parent (and demo history).")
    ] = 0,
    profile: Annotated[
        str | None, _opt("--profile", help="With --terminal: the parent's profile (typical).")
    ] = None,
    program_name: Annotated[
        str | None,
        _opt("--program", help="With --terminal: two-phase (the default) or constant."),
    ] = None,
    minutes: Annotated[
        float | None,
        _opt("--minutes", min=0.1, max=60, help="With --terminal: stop after this long."),
    ] = None,
) -> None:
    """The app with a simulated pump and a demo household: log in and try everything.

    The demo household ("Demo home", a few weeks of history) goes into the journal the
    first time, if it holds no household yet; a journal with a household is left alone.
    """
    if terminal:
        _terminal_demo(
            TERMINAL_SPEED if speed is None else speed,
            seed,
            profile or "typical",
            program_name or "two-phase",
            minutes,
        )
        return
    given = [
        flag
        for flag, value in zip(TERMINAL_ONLY, (profile, program_name, minutes), strict=True)
        if value is not None
    ]
    if given:
        raise _fail(f"{', '.join(given)}: only with --terminal (the session in the terminal)")
    speed = DEMO_SPEED if speed is None else speed
    if not 0 < speed <= 100:
        raise _fail(
            f"--speed {speed:g}: the app's simulated pump runs above 0 and at most 100 times "
            "real time (--terminal --speed 0 runs a session as fast as possible)"
        )
    from letdown.journal import Role
    from letdown.web.demo import ensure_demo_household
    from letdown.web.settings import Settings

    with _listening(host, port) as (sock, url), _open_journal(db_url) as journal:
        settings = Settings(
            db=db_url,
            host=host,
            port=sock.getsockname()[1],
            device="sim",
            sim_speed=speed,
            sim_seed=seed,
        )
        with err.status("setting up the demo household…"):
            made = ensure_demo_household(journal, seed=seed)
        _say(f"{made.message} (journal: {_where(journal)})")
        _say(f"[bold]letdown demo[/] is at [bold]{url}[/]", markup=True)
        if made.logins:
            table = Table(title=f"log in with the password {made.password}", title_justify="left")
            for column in ("login", "who", "may"):
                table.add_column(column)
            for login in made.logins:
                may = "look only" if login.role is Role.VIEWER else "run the pump, write"
                table.add_row(login.login, f"{login.member} ({login.role.value})", may)
            console.print(table)
        else:
            _say("log in with your own login (the demo logins are not in this journal)")
        _say(f"the simulated pump runs at {speed:g} times real time; Ctrl-C stops letdown")
        _run_app(settings, journal, sock, open_browser=None if no_browser else url)


def _where(journal: Journal) -> str:
    return journal.engine.url.render_as_string(hide_password=True)


@contextmanager
def _listening(host: str, port: int) -> Iterator[tuple[socket.socket, str]]:
    """The bound socket and its address, or a clear error (a busy port, say)."""
    from letdown.web.demo import address, listen

    with _guard():
        sock = listen(host, port)
    try:
        url = address(sock)
        if host in ("0.0.0.0", "::"):
            bound = sock.getsockname()[1]
            _say(f"listening on every network: phones at home open this machine's address:{bound}")
        yield sock, url
    finally:
        sock.close()


def _run_app(
    settings: Settings, journal: Journal, sock: socket.socket, *, open_browser: str | None
) -> None:
    """Uvicorn, one worker, on the bound socket until Ctrl-C."""
    import threading

    import uvicorn

    from letdown.web.app import create_app

    config = uvicorn.Config(
        create_app(settings, journal=journal), log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    if open_browser is not None and _has_browser():
        threading.Thread(
            target=_open_when_started, args=(server, open_browser), daemon=True
        ).start()
    with suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    if not server.started:
        raise _fail("the app did not start (see the log above)")
    _say("letdown stopped")


def _has_browser() -> bool:
    """A graphical browser to open, as far as can be told (never a text one in this terminal)."""
    import os
    import sys

    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _open_when_started(server: uvicorn.Server, url: str) -> None:
    import webbrowser

    for _ in range(200):
        if server.started:
            webbrowser.open(url)
            return
        if server.should_exit:
            return
        time.sleep(0.05)


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
