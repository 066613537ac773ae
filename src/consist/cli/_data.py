"""``consist query``, ``views``, ``preview`` and ``schema export``: the data side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from consist.cli._common import (
    CatalogOption,
    CliError,
    JsonOption,
    RunDirOption,
    console,
    emit_json,
    get_run_or_fail,
    reports_errors,
    table,
    table_or_records,
    tracker_for,
)
from consist.domain import Artifact
from consist.domain.errors import ArtifactNotFound, InvalidInput

app = typer.Typer()
schema_app = typer.Typer(help="Schemas of tabular outputs.", no_args_is_help=True)


@app.command("query")
@reports_errors
def query_command(
    sql: Annotated[str, typer.Argument(metavar="SQL", help="A SQL statement over the catalog.")],
    limit: Annotated[int, typer.Option(min=1, help="Rows shown in the table (JSON: all).")] = 100,
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
    as_json: JsonOption = False,
    write: Annotated[
        bool,
        typer.Option(
            "--write", help="Allow statements that change the database (DDL, DML, ATTACH, ...)."
        ),
    ] = False,
) -> None:
    """Run SQL against the catalog (runs, artifacts, run_artifact_links, ...) and its views.

    Read-only unless --write is given.
    """
    import consist

    with tracker_for(catalog, run_dir) as tracker:
        result = consist.run_query(sql, tracker=tracker, as_="arrow", allow_write=write)
    rows = result.to_pylist()
    if as_json:
        emit_json(rows)
        return
    shown = rows[:limit]
    more = f" (first {limit} shown)" if len(rows) > limit else ""
    title = f"{len(rows)} row(s){more}"
    console.print(table_or_records(title, result.column_names, [list(r.values()) for r in shown]))


def _catalog_tables(tracker: Any) -> list[dict[str, Any]]:
    if tracker.sql_dialect == "sqlite":
        sql = (
            "SELECT name, type AS kind FROM sqlite_master "
            "WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    else:
        sql = (
            "SELECT table_name AS name, lower(table_type) AS kind "
            "FROM information_schema.tables ORDER BY table_name"
        )
    rows: list[dict[str, Any]] = tracker.sql(sql).to_pylist()
    return rows


@app.command("views")
@reports_errors
def views_command(
    catalog: CatalogOption = None, run_dir: RunDirOption = None, as_json: JsonOption = False
) -> None:
    """Views over run outputs, and the catalog's own tables, with their kind."""
    with tracker_for(catalog, run_dir) as tracker:
        # Views made with tracker.create_view live in the database file (DuckDB
        # keeps ingested tables beside the catalog); schema views of this process too.
        factory = getattr(tracker, "views", None)
        names = getattr(factory, "names", ())
        registered = set(names() if callable(names) else names)
        rows = _catalog_tables(tracker)
    known = {r["name"] for r in rows}
    rows += [{"name": n, "kind": "registered view"} for n in sorted(registered - known)]
    if as_json:
        emit_json(rows)
        return
    views = sum(1 for r in rows if "view" in str(r["kind"]))
    title = f"{views} view(s); the catalog's tables too"
    console.print(table(title, ["name", "kind"], [[r["name"], r["kind"]] for r in rows]))


def find_artifact(tracker: Any, ref: str) -> Artifact:
    """An artifact by id, by URI (newest first), or as ``RUN:KEY`` (an output, else input)."""
    if "://" in ref:
        found = tracker.find_artifacts(uri=ref)
        if not found:
            raise ArtifactNotFound(ref)
        return found[0]  # type: ignore[no-any-return]
    if ":" in ref:
        run_id, _, key = ref.partition(":")
        run_id = get_run_or_fail(tracker, run_id).id
        both = tracker.get_artifacts_for_run(run_id)
        artifact = both.outputs.get(key) or both.inputs.get(key)
        if artifact is None:
            keys = sorted({*both.outputs, *both.inputs})
            raise ArtifactNotFound(f"{ref} (run {run_id!r} has keys {keys})")
        return artifact  # type: ignore[no-any-return]
    return tracker.get_artifact(ref)  # type: ignore[no-any-return]


def describe(value: Any, rows: int) -> dict[str, Any]:
    """A small JSON-able picture of loaded data: first rows, or an array summary."""
    module = type(value).__module__.split(".")[0]
    if module in ("polars", "pyarrow") and hasattr(value, "to_pandas"):
        value, module = value.to_pandas(), "pandas"
    if module == "pandas" and hasattr(value, "head"):
        named = [name for name in value.index.names if name is not None]
        if named:  # a groupby key is data; row positions are not
            value = value.reset_index(level=named)
        head = value.head(rows)
        return {
            "kind": "table",
            "shape": list(value.shape),
            "columns": [str(c) for c in value.columns],
            "rows": [list(r) for r in head.itertuples(index=False, name=None)],
        }
    if module == "xarray":
        dataset = (
            value.to_dataset()
            if hasattr(value, "to_dataset") and not hasattr(value, "data_vars")
            else value
        )
        return {
            "kind": "dataset",
            "dims": {str(k): int(v) for k, v in dataset.sizes.items()},
            "coords": [str(c) for c in dataset.coords],
            "variables": {
                str(name): {"dims": list(map(str, var.dims)), "dtype": str(var.dtype)}
                for name, var in dataset.data_vars.items()
            },
        }
    if module == "numpy" and hasattr(value, "shape"):
        summary: dict[str, Any] = {
            "kind": "array",
            "shape": list(value.shape),
            "dtype": str(value.dtype),
        }
        if value.size and value.dtype.kind in "iuf":
            summary.update(min=float(value.min()), max=float(value.max()), mean=float(value.mean()))
        return summary
    raise InvalidInput(f"cannot preview a {type(value).__name__}")


@app.command("preview")
@reports_errors
def preview_command(
    ref: Annotated[str, typer.Argument(metavar="ARTIFACT", help="Artifact id, URI, or RUN:KEY.")],
    rows: Annotated[int, typer.Option("--rows", "-n", min=1, help="Rows to show.")] = 10,
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """First rows of a tabular artifact, or a summary of an array/dataset artifact."""
    import consist

    with tracker_for(catalog, run_dir) as tracker:
        artifact = find_artifact(tracker, ref)
        picture = describe(consist.load(artifact, tracker=tracker), rows)
    picture = {"artifact": artifact.id, "key": artifact.key, "uri": artifact.uri, **picture}
    if as_json:
        emit_json(picture)
        return
    title = f"{artifact.key} ({artifact.uri})"
    if picture["kind"] == "table":
        shape = picture["shape"]
        # Above the table, not as its title: a title wraps to a narrow table's width.
        console.print(escape(f"{title}: {shape[0]} rows x {shape[1]} columns"), soft_wrap=True)
        console.print(table_or_records(None, picture["columns"], picture["rows"]))
    elif picture["kind"] == "dataset":
        variables = [
            [name, ", ".join(v["dims"]), v["dtype"]] for name, v in picture["variables"].items()
        ]
        console.print(f"{title}\ndims: {picture['dims']}\ncoords: {picture['coords']}")
        console.print(table("variables", ["name", "dims", "dtype"], variables))
    else:
        facts = [[k, v] for k, v in picture.items() if k not in ("kind",)]
        console.print(table(title, ["field", "value"], facts))


@schema_app.command("export")
@reports_errors
def schema_export_command(
    key: Annotated[str, typer.Argument(help="Artifact key whose columns to export.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the source to this file.")
    ] = None,
    sqlmodel: Annotated[
        bool, typer.Option("--sqlmodel", help="A SQLModel class, not a pydantic model.")
    ] = False,
    catalog: CatalogOption = None,
    run_dir: RunDirOption = None,
) -> None:
    """Print Python source of a pydantic (or SQLModel) class for an artifact key's columns."""
    import consist

    exporter = getattr(consist, "export_schema", None) if "export_schema" in dir(consist) else None
    if exporter is None:
        raise CliError(
            "schema export is not available in this version of Consist "
            "(consist.export_schema is missing)"
        )
    with tracker_for(catalog, run_dir) as tracker:
        text = exporter(key, tracker=tracker, path=output, sqlmodel=sqlmodel)
    typer.echo(str(text))
