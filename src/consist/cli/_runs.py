"""``consist runs``, ``show``, ``artifacts`` and ``why``: what ran, with what, and why."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape

from consist.cli._common import (
    CatalogOption,
    JsonOption,
    RunDirOption,
    console,
    emit_json,
    get_run_or_fail,
    human_size,
    reports_errors,
    seconds_text,
    short,
    table,
    tracker_for,
)
from consist.domain import Artifact, Run, RunQuery, RunStatus

app = typer.Typer()


def run_row(run: Run) -> list[Any]:
    hit = "hit" if run.cache_hit else ("miss" if run.status is RunStatus.COMPLETED else "-")
    return [
        run.id,
        run.model,
        str(run.status),
        run.parent_run_id,
        run.year,
        hit,
        run.created_at,
        seconds_text(run.duration_seconds),
    ]


RUN_COLUMNS = ["run", "step", "status", "scenario", "year", "cache", "started", "duration"]


@app.command("runs")
@reports_errors
def runs_command(
    model: Annotated[str | None, typer.Option(help="Only runs of this step/model.")] = None,
    scenario: Annotated[
        str | None, typer.Option(help="Only children of this scenario (parent run id).")
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
    query = RunQuery(
        parent_run_id=scenario, model=model, year=year, status=status, tags=tag or (), limit=limit
    )
    with tracker_for(catalog, run_dir) as tracker:  # redacted again: records older than redaction
        found = [tracker.redactor.run(run) for run in tracker.find_runs(query)]
    if as_json:
        emit_json([run.to_dict() | {"duration_seconds": run.duration_seconds} for run in found])
        return
    if not found:
        console.print("no runs match")
        return
    console.print(
        table(f"{len(found)} run(s), newest first", RUN_COLUMNS, [run_row(r) for r in found])
    )


def artifact_dict(tracker: Any, artifact: Artifact) -> dict[str, Any]:
    data: dict[str, Any] = tracker.redactor.artifact(artifact).to_dict()
    try:
        path = tracker.resolve_path(artifact)
    except Exception:  # an URI this machine cannot map is reported, not raised
        path = None
    data["local_path"] = str(path) if path is not None else None
    data["on_disk"] = bool(path is not None and path.exists())
    return data


def _artifact_rows(artifacts: dict[str, dict[str, Any]], direction: str) -> list[list[Any]]:
    return [
        [
            direction,
            key,
            data["driver"],
            human_size(data["size"]),
            data["on_disk"],
            short(data["content_hash"]),
            data["producer_run_id"],
            data["uri"],
            data["id"],
        ]
        for key, data in sorted(artifacts.items())
    ]


ARTIFACT_COLUMNS = [
    "direction",
    "key",
    "driver",
    "size",
    "on disk",
    "hash",
    "producer",
    "uri",
    "id",
]


def _run_artifacts(tracker: Any, run_id: str) -> dict[str, dict[str, dict[str, Any]]]:
    get_run_or_fail(tracker, run_id)
    found = tracker.get_artifacts_for_run(run_id)
    return {
        "inputs": {k: artifact_dict(tracker, a) for k, a in found.inputs.items()},
        "outputs": {k: artifact_dict(tracker, a) for k, a in found.outputs.items()},
    }


@app.command("show")
@reports_errors
def show_command(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id.")],
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """One run in full: config, signature parts, inputs, outputs, timings, cache source."""
    with tracker_for(catalog, run_dir) as tracker:
        run = tracker.redactor.run(get_run_or_fail(tracker, run_id))
        artifacts = _run_artifacts(tracker, run_id)
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
    console.print(table(None, ["field", "value"], facts))
    console.print("[bold]config[/bold]")
    console.print(escape(json.dumps(dict(run.config), indent=2, default=str)))
    rows = _artifact_rows(artifacts["inputs"], "input")
    rows += _artifact_rows(artifacts["outputs"], "output")
    console.print(table("artifacts", ARTIFACT_COLUMNS, rows) if rows else "no artifacts")


@app.command("artifacts")
@reports_errors
def artifacts_command(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id.")],
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """The inputs and outputs of a run, and whether each file is on this machine."""
    with tracker_for(catalog, run_dir) as tracker:
        artifacts = _run_artifacts(tracker, run_id)
    if as_json:
        emit_json(artifacts)
        return
    rows = _artifact_rows(artifacts["inputs"], "input")
    rows += _artifact_rows(artifacts["outputs"], "output")
    if not rows:
        console.print(f"run {escape(run_id)} has no artifacts")
        return
    console.print(table(f"artifacts of {run_id}", ARTIFACT_COLUMNS, rows))


def _plain(value: Any) -> Any:
    # explain() marks an absent config key with a private sentinel object.
    return None if type(value) is object else value


@app.command("why")
@reports_errors
def why_command(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id.")],
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
