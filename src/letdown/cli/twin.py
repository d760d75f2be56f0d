"""``letdown twin``: generated cohorts, the twin's fixed parameters, its calibration."""

# Each command imports what it needs when it runs, so that `letdown --help` starts fast.

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from letdown.cli import _common
from letdown.cli._common import _fail, _ProgressBar, _write_json
from letdown.errors import LetdownError

app = typer.Typer(help="The physiological twin: cohorts and calibration.", no_args_is_help=True)


@app.command("cohort")
def twin_cohort(
    n: Annotated[int, typer.Option("--n", min=1, max=100_000, help="Number of parents.")],
    out: Annotated[Path, typer.Option("--out", help="Cohort file to write (JSON).")],
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of every draw.")] = 0,
    profile: Annotated[
        str,
        typer.Option(
            "--profile", help="typical, sensitive, low-supply, late-let-down or oversupply."
        ),
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
    _common.console.print(
        f"wrote {out}: {len(cohort.parents)} parents, profile {profile}, seed {seed}"
    )


@app.command("params")
def twin_params() -> None:
    """Every fixed parameter of the twin, with its unit and source."""
    from letdown.twin.cohort import PROFILES
    from letdown.twin.model import PARAMETERS, PneumaticsSpec, pneumatics_parameters

    table = Table(title="twin parameters")
    for column in ("parameter", "value", "unit", "source"):
        table.add_column(column, overflow="fold")
    for parameter in (*PARAMETERS, *pneumatics_parameters(PneumaticsSpec())):
        table.add_row(parameter.name, f"{parameter.value:g}", parameter.unit, str(parameter.source))
    _common.console.print(table)
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
    _common.console.print(profiles)


@app.command("calibrate")
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
    _common.console.print(table)
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
    _common.console.print("[green]every row passes[/]" if ok else "[bold red]some rows fail[/]")
    raise typer.Exit(0 if ok else 1)
