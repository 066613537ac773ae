"""``consist runs``, ``show``, ``artifacts`` and ``why``: what ran, with what, and why."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape

from consist.cli._common import (
    CatalogOption,
    JsonOption,
    RunArgument,
    RunDirOption,
    cell_text,
    console,
    emit_json,
    get_run_or_fail,
    human_size,
    reports_errors,
    seconds_text,
    short,
    tracker_for,
)
from consist.cli._fit import Col, fitted_table, key_values
from consist.cli._run_ids import scenario_id
from consist.domain import Artifact, Run, RunQuery, RunStatus

app = typer.Typer()


def run_row(run: Run) -> list[str]:
    # One column for status and cache: a completed run either executed or was a hit.
    status = "hit" if run.cache_hit and run.status is RunStatus.COMPLETED else str(run.status)
    return [
        run.id,
        cell_text(run.model),
        status,
        cell_text(run.parent_run_id),
        cell_text(run.year),
        run.created_at.astimezone().strftime("%m-%d %H:%M"),
        seconds_text(run.duration_seconds),
    ]


# Ids (run, scenario) are never cut; duration, step, started and then scenario give way.
RUN_COLUMNS = [
    Col("run", whole=True),
    Col("step", drop=3),
    Col("status"),
    Col("scenario", whole=True, drop=1),
    Col("year"),
    Col("started", drop=2),
    Col("duration", drop=4),
]


@app.command("runs")
@reports_errors
def runs_command(
    model: Annotated[str | None, typer.Option(help="Only runs of this step/model.")] = None,
    scenario: Annotated[
        str | None,
        typer.Option(help="Only children of this scenario (parent run id, or its beginning)."),
    ] = None,
    year: Annotated[int | None, typer.Option(help="Only runs of this year.")] = None,
    status: Annotated[RunStatus | None, typer.Option(help="running, completed or failed.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="Only runs with this tag (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs.")] = 50,
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first, filtered by step, scenario, year, status and tags."""
    with tracker_for(catalog, run_dir) as tracker:  # redacted again: records older than redaction
        if scenario:
            scenario = scenario_id(tracker, scenario)
        query = RunQuery(
            parent_run_id=scenario,
            model=model,
            year=year,
            status=status,
            tags=tag or (),
            limit=limit,
        )
        found = [tracker.redactor.run(run) for run in tracker.find_runs(query)]
    if as_json:
        emit_json([run.to_dict() | {"duration_seconds": run.duration_seconds} for run in found])
        return
    if not found:
        console.print("no runs match")
        return
    title = f"{len(found)} run(s), newest first"
    rows = [run_row(r) for r in found]
    console.print(fitted_table(title, RUN_COLUMNS, rows, console.width))


def artifact_dict(tracker: Any, artifact: Artifact) -> dict[str, Any]:
    data: dict[str, Any] = tracker.redactor.artifact(artifact).to_dict()
    try:
        path = tracker.resolve_path(artifact)
    except Exception:  # an URI this machine cannot map is reported, not raised
        path = None
    data["local_path"] = str(path) if path is not None else None
    data["on_disk"] = bool(path is not None and path.exists())
    return data


def _artifact_rows(artifacts: dict[str, dict[str, Any]]) -> list[list[str]]:
    return [
        [
            key,
            data["driver"],
            human_size(data["size"]),
            cell_text(data["on_disk"]),
            short(data["content_hash"]),
            cell_text(data["producer_run_id"]),
            data["uri"],
            data["id"],
        ]
        for key, data in sorted(artifacts.items())
    ]


# The producer is a run id: never cut. The artifact id and driver give way first.
ARTIFACT_COLUMNS = [
    Col("key"),
    Col("driver", drop=2),
    Col("size", drop=3),
    Col("on disk", drop=4),
    Col("hash", drop=5),
    Col("producer", whole=True),
    Col("uri", keep=32),
    Col("id", whole=True, drop=6),
]


def print_artifacts(artifacts: dict[str, dict[str, dict[str, Any]]], of: str = "") -> None:
    """The inputs, then the outputs, each as a table (or a line saying there are none)."""
    for direction in ("inputs", "outputs"):
        title = f"{direction}{of}"
        rows = _artifact_rows(artifacts[direction])
        if rows:
            console.print(fitted_table(title, ARTIFACT_COLUMNS, rows, console.width))
        else:
            console.print(f"no {title}")


def _run_artifacts(tracker: Any, run_id: str) -> dict[str, dict[str, dict[str, Any]]]:
    found = tracker.get_artifacts_for_run(run_id)
    return {
        "inputs": {k: artifact_dict(tracker, a) for k, a in found.inputs.items()},
        "outputs": {k: artifact_dict(tracker, a) for k, a in found.outputs.items()},
    }


@app.command("show")
@reports_errors
def show_command(
    run_id: RunArgument,
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """One run in full: config, signature parts, inputs, outputs, timings, cache source."""
    with tracker_for(catalog, run_dir) as tracker:
        run = tracker.redactor.run(get_run_or_fail(tracker, run_id))
        artifacts = _run_artifacts(tracker, run.id)
    if as_json:
        emit_json({"run": run.to_dict(), "duration_seconds": run.duration_seconds, **artifacts})
        return
    sig = run.signature
    facts = [
        ("run", run.id),
        ("step", run.model),
        ("status", str(run.status)),
        ("scenario", run.parent_run_id),
        ("year", run.year),
        ("iteration", run.iteration),
        ("tags", ", ".join(run.tags) or None),
        ("started", run.created_at),
        ("ended", run.ended_at),
        ("duration", seconds_text(run.duration_seconds)),
        ("cache", "hit" if run.cache_hit else "miss (executed)"),
        ("cached from", run.cached_from),
        ("signature", run.signature_digest),
        ("  code", sig.code_hash if sig else None),
        ("  config", sig.config_hash if sig else None),
        ("  inputs", sig.input_hash if sig else None),
    ]
    if run.error_type:
        facts.append(("error", f"{run.error_type}: {run.error_message}"))
    console.print(key_values([(label, cell_text(value)) for label, value in facts]))
    console.print("[bold]config[/bold]")
    console.print(escape(json.dumps(dict(run.config), indent=2, default=str)))
    print_artifacts(artifacts)


@app.command("artifacts")
@reports_errors
def artifacts_command(
    run_id: RunArgument,
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """The inputs and outputs of a run, and whether each file is on this machine."""
    with tracker_for(catalog, run_dir) as tracker:
        run_id = get_run_or_fail(tracker, run_id).id
        artifacts = _run_artifacts(tracker, run_id)
    if as_json:
        emit_json(artifacts)
        return
    print_artifacts(artifacts, f" of {run_id}")


def _plain(value: Any) -> Any:
    # explain() marks an absent config key with a private sentinel object.
    return None if type(value) is object else value


@app.command("why")
@reports_errors
def why_command(
    run_id: RunArgument,
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Why a run was not a cache hit: what differs from the closest earlier run of its step."""
    with tracker_for(catalog, run_dir) as tracker:
        run = get_run_or_fail(tracker, run_id)
        explanation = tracker.explain(run)
    if as_json:
        emit_json(
            {
                "run": run.id,
                "cache_hit": run.cache_hit,
                "compared_with": explanation.compared_with.id
                if explanation.compared_with
                else None,
                "changed_parts": list(explanation.changed_parts),
                "code_change": list(explanation.code_change) if explanation.code_change else None,
                "config_changes": [
                    {"key": c.key, "old": _plain(c.old), "new": _plain(c.new)}
                    for c in explanation.config_changes
                ],
                "input_changes": [
                    {"key": c.key, "reason": c.reason} for c in explanation.input_changes
                ],
                "text": str(explanation),
            }
        )
        return
    if run.cache_hit:
        console.print(
            f"run {escape(run.id)} was a cache hit (reused {escape(str(run.cached_from))})"
        )
    console.print(escape(str(explanation)))
