"""``consist demo``: run the demo workflow and show what the cache did."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from consist.cli._common import JsonOption, console, emit_json, reports_errors, table

app = typer.Typer()


def _print_report(report: Any) -> None:
    from consist.demo import DemoReport

    assert isinstance(report, DemoReport)
    rows = [
        [
            row.demo_pass,
            row.step,
            row.scenario,
            row.year,
            "[green]hit[/green]" if row.cache_hit else "[yellow]miss[/yellow]",
            f"{row.seconds:.2f} s",
        ]
        for row in report.steps
    ]
    steps = table("what ran", ["pass", "step", "scenario", "year", "cache", "time"], [])
    for row in rows:
        steps.add_row(*(str(v) if v is not None else "-" for v in row))
    console.print(steps)
    first, second = report.pass_seconds
    n1, n2 = len(report.steps_in(1)), len(report.steps_in(2))
    console.print(
        f"pass 1: {n1} steps, {report.hits(1)} cache hits, {first:.1f} s\n"
        f"pass 2: {n2} steps, {report.hits(2)} cache hits, {second:.1f} s "
        f"({second / first:.0%} of pass 1)"
    )
    query = [
        [r["step"], r["runs"], r["cache_hits"], r["recorded_seconds"]] for r in report.query_rows
    ]
    console.print(
        table(
            "cross-run query: every demo run in the catalog, by step",
            ["step", "runs", "cache hits", "recorded seconds"],
            query,
        )
    )
    results = [
        [
            f"{r['fuel_price']:g}",
            r["year"],
            f"{r['trips']:,}",
            f"{r['km']:,}",
            f"{r['fuel_cost']:,}",
        ]
        for r in report.results
    ]
    console.print(
        table(
            "results across scenarios (each scenario's summary output)",
            ["fuel price", "year", "trips", "km", "fuel cost"],
            results,
        )
    )
    console.print(
        f"run directory: {escape(str(report.run_dir))}\n"
        f"catalog:       {escape(str(report.catalog))}\n"
        f"next: cd {escape(str(report.workdir))} && consist runs   "
        "(or consist --help for every command)"
    )


@app.command("demo")
@reports_errors
def demo_command(
    workdir: Annotated[
        Path, typer.Option("--workdir", "-w", help="Folder for inputs, runs and the catalog.")
    ] = Path("consist-demo"),
    as_json: JsonOption = False,
) -> None:
    """Run a small multi-year scenario sweep twice: the second pass is served from the cache."""
    from consist.demo import run_demo

    if as_json:
        emit_json(run_demo(workdir).to_dict())
        return
    console.print(f"consist demo in {escape(str(workdir.resolve()))}")
    with console.status("running the sweep") as status:

        def progress(row: Any) -> None:
            year = f" {row.year}" if row.year else ""
            cache = "hit" if row.cache_hit else "miss"
            status.update(f"pass {row.demo_pass}: {row.step} {row.scenario}{year} ({cache})")

        report = run_demo(workdir, on_step=progress)
    _print_report(report)
