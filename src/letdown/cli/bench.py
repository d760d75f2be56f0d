"""``letdown bench``: speed, efficacy, faults, the journal and the app under load."""

# Each command imports what it needs when it runs, so that `letdown --help` starts fast.

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from letdown.cli import _common
from letdown.cli._common import _fail, _guard, _ProgressBar, _say, _write_json
from letdown.errors import LetdownError

app = typer.Typer(help="Benchmarks.", no_args_is_help=True)

FiguresJson = Annotated[Path | None, typer.Option("--json", help="Write the figures as JSON.")]


@app.command("speed")
def bench_speed(
    json_out: FiguresJson = None,
    minutes: Annotated[float, typer.Option("--minutes", min=0.1, max=120)] = 15.0,
    repeat: Annotated[int, typer.Option("--repeat", min=1, max=20)] = 3,
    fail_under: Annotated[
        float | None,
        typer.Option(
            "--fail-under",
            min=1.0,
            max=1e9,
            help="Exit with status 1 when the fastest run is below this many times real time"
            " (on a quiet machine: other processes on the cores slow every run).",
        ),
    ] = None,
) -> None:
    """Real-time factor of the closed loop (twin + 100 Hz controller, under the safety
    core) on one core."""
    from letdown.bench.speed import compiled_modules, measure_speed

    result = measure_speed(minutes=minutes, repeat=repeat)
    compiled = compiled_modules()
    _common.console.print(
        f"{result.simulated_s / 60:g}-minute double-pump session in {result.wall_s:.3f} s:"
        f" [bold]{result.realtime_factor:.0f}x[/] real time"
        f" (tick p50 {result.tick_us_p50:.1f} us, p99 {result.tick_us_p99:.1f} us,"
        f" {result.ticks} ticks; issue 9's target >= 1000x on a quiet machine)"
    )
    _common.console.print(
        "hot modules compiled (mypyc): " + ", ".join(compiled)
        if compiled
        else "hot modules interpreted (LETDOWN_COMPILE=1 at install compiles them)"
    )
    if json_out:
        payload = asdict(result)
        _write_json(
            json_out,
            {key: payload[key] for key in ("realtime_factor", "tick_us_p50", "tick_us_p99")},
        )
    if fail_under is not None and result.realtime_factor < fail_under:
        _common.err.print(
            f"[bold red]below target:[/] {result.realtime_factor:.0f}x real time,"
            f" under the {fail_under:g}x asked for"
        )
        raise typer.Exit(1)


@app.command("efficacy")
def bench_efficacy(
    cohort_file: Annotated[Path, typer.Option("--cohort", help="Cohort file (twin.md §4).")],
    controllers: Annotated[
        str,
        typer.Option(
            "--controllers",
            help="Comma-separated: letdown,two-phase,two-phase-sides,constant,oracle.",
        ),
    ] = "letdown,two-phase,two-phase-sides,constant,oracle",
    minutes: Annotated[float, typer.Option("--minutes", min=0.5, max=120)] = 15.0,
    sessions: Annotated[
        int,
        typer.Option(
            "--sessions",
            min=1,
            max=2,
            help="2: each parent twice, letdown's second session with what it learned.",
        ),
    ] = 1,
    json_out: FiguresJson = None,
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
        results = run_efficacy(
            cohort, names, minutes, sessions=sessions, jobs=jobs or None, progress=step
        )
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
        "above comfort s (mean / median)",
        "felt s",
        "too-much presses",
        "length s",
    ):
        table.add_column(column, justify="right")
    rows = []
    for name, row in summary["controllers"].items():
        label = f"{name} (zero-pain limit)" if name == "oracle" else name
        rows.append((label, row))
        if "learned" in row:
            rows.append((f"{name}, 2nd session", row["learned"]))
    for name, row in rows:
        table.add_row(
            name,
            f"{row['yield_pct']:.1f}",
            "-" if row["t80_s"] is None else f"{row['t80_s']:.0f}",
            "-" if row["reach_baseline_s"] is None else f"{row['reach_baseline_s']:.0f}",
            f"{row['above_ceiling_s']:.1f} / {row['above_ceiling_s_median']:.1f}",
            f"{row['noticed_pain_s']:.1f}",
            f"{row['presses']:.2f}",
            f"{row['length_s']:.0f}",
        )
    _common.console.print(table)
    if "oracle" in summary["controllers"]:
        _common.console.print(
            "oracle: the zero-pain limit, the most milk removed with no time above comfort,"
            " knowing each side's hidden comfortable maximum (no real controller can know it);"
            " felt: seconds with pain at the first noticeable discomfort or more, what a"
            " parent could say"
        )
    if json_out:
        _write_json(json_out, summary)


@app.command("faults")
def bench_faults(
    sessions: Annotated[int, typer.Option("--sessions", min=1, max=1_000_000)] = 2000,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 1,
    json_out: FiguresJson = None,
    jobs: Annotated[int, typer.Option("--jobs", min=0, help="Processes (0: one per core).")] = 0,
) -> None:
    """Random faults of every kind (hardware and software) at random times; how the safety
    core copes (in the twin)."""
    from letdown.bench.faults import run_faults, summarise_faults

    with _ProgressBar(f"{sessions} fault sessions") as step:
        runs = run_faults(sessions, seed, jobs=jobs or None, progress=step)
    summary = summarise_faults(runs)
    table = Table(title=f"fault campaign: {sessions} sessions, seed {seed} (in the twin)")
    for column in (
        "fault",
        "count",
        "detected",
        "max ms over the cap",
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
    _common.console.print(table)
    if json_out:
        _write_json(json_out, summary)


@app.command("hil")
def bench_hil(
    sessions: Annotated[int, typer.Option("--sessions", min=1, max=100_000)] = 200,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 1,
    json_out: FiguresJson = None,
    yield_sessions: Annotated[
        int, typer.Option("--yield-sessions", min=0, max=100, help="Fault-free pairs.")
    ] = 2,
    minutes: Annotated[
        float, typer.Option("--minutes", min=0.1, max=60, help="Length of a fault-free pair.")
    ] = 3.0,
    jobs: Annotated[int, typer.Option("--jobs", min=1, max=16, help="Sessions at once.")] = 2,
) -> None:
    """Firmware in the loop with link faults: the host, the serial link, the firmware's
    core and the twin (each session a peer process on a pseudo-terminal)."""
    from letdown.bench.hil import run_hil

    with _ProgressBar(f"{sessions} firmware-in-the-loop sessions") as step:
        summary = run_hil(
            sessions, seed, yield_sessions=yield_sessions, minutes=minutes, jobs=jobs, progress=step
        )
    table = Table(
        title=f"firmware in the loop: {sessions} sessions, seed {seed} (twin behind the firmware)"
    )
    for column in ("link fault", "count", "detected", "p99 ms fault to safe outputs"):
        table.add_column(column, justify="right")
    for kind, row in summary["kinds"].items():
        table.add_row(kind, str(row["count"]), str(row["detected"]), f"{row['safe_ms_p99']:.0f}")
    _common.console.print(table)
    _common.console.print(
        f"max ms over the cap: {summary['over_cap_ms_max']:.0f};"
        f" milk removed vs the simulated pump directly: {summary['yield_ratio_vs_direct']:.3f}"
        f" ({yield_sessions} fault-free sessions of {minutes:g} min);"
        f" frame round trip p99: {summary['frame_rtt_ms_p99']:.1f} ms"
    )
    if json_out:
        _write_json(json_out, summary)


@app.command("journal")
def bench_journal(
    json_out: FiguresJson = None,
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
    _common.console.print(table)
    _common.console.print(f"{result['insert_per_s']:.0f} single inserts a second")
    if json_out:
        _write_json(json_out, result)


@app.command("web")
def bench_web(
    json_out: FiguresJson = None,
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
    with _guard(), _common.err.status("starting") as status:
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
    _common.console.print(table)
    errors = result["errors"]
    _common.console.print(
        f"{result['requests_per_s']:.0f} requests a second; "
        + ("no errors" if not errors else f"[red]{errors} errors[/]: {result['error_examples']}")
    )
    if json_out:
        _write_json(json_out, result)


@app.command("forecast")
def bench_forecast(
    journal: Annotated[Path, typer.Option("--journal", help="A `letdown export json` file.")],
    holdout_days: Annotated[
        int, typer.Option("--holdout-days", min=1, max=60, help="Days held out at the end.")
    ] = 7,
    json_out: FiguresJson = None,
) -> None:
    """The supply model against two plain baselines on the journal's last days."""
    from letdown.bench.forecast import load_export, run_forecast

    try:
        records, zone = load_export(journal)
        result = run_forecast(records, zone, holdout_days)
    except LetdownError as exc:
        raise _fail(str(exc)) from exc
    mae = result["mae_ml"]
    best = min(mae["last_week_mean"], mae["time_of_day_mean"])
    table = Table(title=f"forecast: {result['sessions']} held-out pump sessions ({journal.name})")
    for column in ("predictor", "MAE mL (per side)"):
        table.add_column(column, justify="right")
    for name, value in mae.items():
        table.add_row(name, f"{value:.1f}")
    _common.console.print(table)
    ratio = mae["model"] / best if best else float("nan")
    _common.console.print(
        f"model ÷ better baseline {ratio:.2f} (target ≤ 0.85); "
        f"80 % interval held {result['coverage_80'] * 100:.0f} % (target 70-90 %)"
    )
    if json_out:
        _write_json(json_out, result)


@app.command("journals")
def bench_journals(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the journals in.")],
    kinds: Annotated[
        str,
        typer.Option(
            "--kinds",
            help="Comma-separated: steady,frequent,sparse,pregnant,patchy,exclusive or random-N.",
        ),
    ] = "steady,frequent,sparse,pregnant,patchy,exclusive",
    seed: Annotated[int, typer.Option("--seed", min=0)] = 1,
) -> None:
    """Made-up journals with a known truth (export json files) for `bench forecast`."""
    from letdown.bench.journals import spec_named, write_journal

    try:
        specs = [spec_named(name.strip()) for name in kinds.split(",") if name.strip()]
        out_dir.mkdir(parents=True, exist_ok=True)
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from exc
    for spec in specs:
        path = out_dir / f"{spec.name}-{seed}.json"
        write_journal(path, spec, seed)
        _say(f"wrote {path}")
