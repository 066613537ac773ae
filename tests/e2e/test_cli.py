"""The `consist` CLI on a small DuckDB catalog built here: every command, good and bad input."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import consist
from consist.cli import app

runner = CliRunner()


def make_table(seed: Any, rows: int, config: dict[str, Any]) -> dict[str, Any]:
    frame = pd.DataFrame({"i": range(rows), "value": [config["scale"] * i for i in range(rows)]})
    return {"table": frame}


def double(table: Any) -> dict[str, Any]:
    return {"doubled": table.assign(value=table["value"] * 2), "grid": np.arange(12.0)}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A catalog with: a superseded step, a current one, a reader of it, and a cache hit."""
    root = tmp_path_factory.mktemp("cli")
    seed = root / "seed.csv"
    seed.write_text("a\n1\n")
    ids: dict[str, Any] = {"root": root}
    with consist.Tracker(
        root / "runs", db_path=root / "provenance.duckdb", code_identity="function"
    ) as tracker:
        old = tracker.run(
            make_table, inputs={"seed": seed}, config={"scale": 1}, runtime_kwargs={"rows": 5}
        )
        new = tracker.run(
            make_table, inputs={"seed": seed}, config={"scale": 2}, runtime_kwargs={"rows": 5}
        )
        reader = tracker.run(double, inputs={"table": new.outputs["table"]}, year=2030)
        hit = tracker.run(double, inputs={"table": new.outputs["table"]}, year=2030)
        with tracker.start_run("scenario-a", "scenario", tags=["study"]):
            child = tracker.run(
                double, inputs={"table": new.outputs["table"]}, parent_run_id="scenario-a"
            )
        assert hit.cache_hit and not old.cache_hit
        ids.update(
            old=old.run_id,
            new=new.run_id,
            reader=reader.run_id,
            hit=hit.run_id,
            child=child.run_id,
            old_table=old.outputs["table"],
            new_table=new.outputs["table"],
            grid=reader.outputs["grid"],
        )
    return ids


@pytest.fixture
def copy(built: dict[str, Any], tmp_path: Path) -> Iterator[Path]:
    """A private copy of the built folder, for commands that change files."""
    target = tmp_path / "copy"
    shutil.copytree(built["root"], target)
    yield target


def cli(root: Path, *args: str) -> Any:
    return runner.invoke(
        app, [*args, "--catalog", str(root / "provenance.duckdb"), "--run-dir", str(root / "runs")]
    )


def as_json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_every_command_has_help() -> None:
    """`--help` works for every command and sub-command."""
    commands = [
        ["runs"], ["show"], ["artifacts"], ["lineage"], ["why"], ["query"], ["views"],
        ["preview"], ["gc"], ["demo"], ["db"], ["db", "sync"], ["db", "rebuild"],
        ["db", "check"], ["db", "vacuum"], ["schema"], ["schema", "export"], ["push"],
        ["pull"],
    ]  # fmt: skip
    for command in commands:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "Usage" in result.output


def test_runs_lists_newest_first_and_filters(built: dict[str, Any]) -> None:
    """`runs` is newest first; --model, --year, --tag, --status and --limit filter."""
    rows = as_json(cli(built["root"], "runs", "--json"))
    assert [r["id"] for r in rows][:3] == [built["child"], "scenario-a", built["hit"]]
    by_model = as_json(cli(built["root"], "runs", "--model", "make_table", "--json"))
    assert {r["id"] for r in by_model} == {built["old"], built["new"]}
    assert len(as_json(cli(built["root"], "runs", "--year", "2030", "--json"))) == 2
    assert [r["id"] for r in as_json(cli(built["root"], "runs", "--tag", "study", "--json"))] == [
        "scenario-a"
    ]
    assert len(as_json(cli(built["root"], "runs", "--limit", "1", "--json"))) == 1
    completed = as_json(cli(built["root"], "runs", "--status", "completed", "--json"))
    assert len(completed) == 6
    table = cli(built["root"], "runs")
    assert table.exit_code == 0 and "newest first" in table.stdout


def test_runs_scenario_filter_selects_children(built: dict[str, Any]) -> None:
    """`--scenario` selects the runs whose parent run is that scenario."""
    children = as_json(cli(built["root"], "runs", "--scenario", "scenario-a", "--json"))
    assert [r["id"] for r in children] == [built["child"]]
    assert as_json(cli(built["root"], "runs", "--scenario", "other", "--json")) == []


def test_bad_arguments_exit_2(built: dict[str, Any]) -> None:
    """A wrong option value is a usage error (exit 2) with a message, not a traceback."""
    result = cli(built["root"], "runs", "--status", "sleeping")
    assert result.exit_code == 2
    assert "sleeping" in result.output
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2
    lineage = cli(built["root"], "lineage", built["new"], "--format", "png")
    assert lineage.exit_code == 2 and "must be one of" in lineage.stderr


@pytest.mark.parametrize("command", ["show", "artifacts", "why", "lineage"])
def test_unknown_run_is_one_line_error(built: dict[str, Any], command: str) -> None:
    """An unknown run id exits 1 with one clear line on stderr and no traceback."""
    result = cli(built["root"], command, "no-such-run")
    assert result.exit_code == 1
    assert "no-such-run" in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_catalog_is_reported(tmp_path: Path) -> None:
    """Pointing at a catalog that does not exist says so, and creates nothing."""
    result = cli(tmp_path, "runs")
    assert result.exit_code == 1
    assert "no catalog at" in result.stderr
    assert not (tmp_path / "provenance.duckdb").exists()


def test_show_has_config_signature_artifacts_and_cache_source(built: dict[str, Any]) -> None:
    """`show` on a cache hit names its source, signature parts, inputs and outputs."""
    data = as_json(cli(built["root"], "show", built["hit"], "--json"))
    assert data["run"]["cached_from"] == built["reader"]
    assert data["run"]["config_hash"] and data["run"]["input_hash"]
    assert set(data["inputs"]) == {"table"} and set(data["outputs"]) == {"doubled", "grid"}
    text = cli(built["root"], "show", built["new"])
    assert text.exit_code == 0
    assert '"scale": 2' in text.stdout and "signature" in text.stdout


def test_artifacts_lists_inputs_and_outputs_with_disk_state(built: dict[str, Any]) -> None:
    """`artifacts` shows both directions and whether each file is on disk."""
    data = as_json(cli(built["root"], "artifacts", built["reader"], "--json"))
    assert data["inputs"]["table"]["id"] == built["new_table"].id
    assert data["outputs"]["doubled"]["on_disk"] is True
    assert cli(built["root"], "artifacts", built["reader"]).exit_code == 0


def test_lineage_tree_mermaid_dot_and_json(built: dict[str, Any]) -> None:
    """Upstream of the reader reaches the producer; downstream of the table reaches readers."""
    up = as_json(cli(built["root"], "lineage", built["reader"], "--json"))
    ids = json.dumps(up)
    assert built["new"] in ids and built["old"] not in ids
    mermaid = cli(built["root"], "lineage", built["reader"], "--format", "mermaid")
    assert mermaid.stdout.startswith("flowchart LR") and "-->" in mermaid.stdout
    dot = cli(built["root"], "lineage", built["new_table"].id, "-d", "downstream", "-f", "dot")
    assert dot.stdout.startswith("digraph lineage") and built["reader"] in dot.stdout
    tree = cli(built["root"], "lineage", built["reader"])
    assert tree.exit_code == 0 and built["new"] in tree.stdout


def test_why_names_the_changed_config_key(built: dict[str, Any]) -> None:
    """`why` on the second make_table run names config key 'scale' (1 -> 2)."""
    data = as_json(cli(built["root"], "why", built["new"], "--json"))
    assert data["compared_with"] == built["old"]
    assert data["config_changes"] == [{"key": "scale", "old": 1, "new": 2}]
    text = cli(built["root"], "why", built["new"])
    assert "scale" in text.stdout


def test_query_runs_sql_and_reports_bad_sql(built: dict[str, Any]) -> None:
    """`query` returns rows; bad SQL is a one-line error with exit code 1."""
    rows = as_json(
        cli(built["root"], "query", "SELECT model, count(*) AS n FROM runs GROUP BY model "
            "ORDER BY model", "--json")
    )  # fmt: skip
    assert {r["model"]: r["n"] for r in rows} == {"double": 3, "make_table": 2, "scenario": 1}
    bad = cli(built["root"], "query", "SELECT * FROM no_such_table")
    assert bad.exit_code == 1 and "no_such_table" in bad.stderr


def test_views_lists_catalog_tables_without_registered_views(built: dict[str, Any]) -> None:
    """Without registered views, `views` lists the catalog's own tables."""
    names = {r["name"] for r in as_json(cli(built["root"], "views", "--json"))}
    assert {"runs", "artifacts", "run_artifact_links"} <= names


def test_preview_table_array_and_errors(built: dict[str, Any]) -> None:
    """`preview` shows first rows of a table, a summary of an array; bad refs exit 1."""
    table = as_json(cli(built["root"], "preview", f"{built['new']}:table", "-n", "2", "--json"))
    assert table["columns"] == ["i", "value"] and table["rows"] == [[0, 0], [1, 2]]
    assert table["shape"] == [5, 2]
    grid = as_json(cli(built["root"], "preview", built["grid"].id, "--json"))
    assert grid["kind"] == "array" and grid["shape"] == [12] and grid["max"] == 11.0
    by_uri = cli(built["root"], "preview", built["new_table"].uri)
    assert by_uri.exit_code == 0 and "5 rows" in by_uri.stdout
    missing_key = cli(built["root"], "preview", f"{built['new']}:nope")
    assert missing_key.exit_code == 1 and "table" in missing_key.stderr
    assert cli(built["root"], "preview", "no-such-artifact").exit_code == 1


def test_db_sync_check_vacuum(copy: Path) -> None:
    """A snapshot the catalog lacks makes `check` fail; `sync` indexes it; vacuum works."""
    healthy = as_json(cli(copy, "db", "check", "--json"))
    assert healthy["healthy"] is True and healthy["integrity_checked"] is True
    extra = json.loads((copy / "runs" / "scenario-a" / "consist.json").read_text())
    extra["run"]["id"] = "copied-run"
    (copy / "runs" / "copied-run").mkdir()
    (copy / "runs" / "copied-run" / "consist.json").write_text(json.dumps(extra))
    check = cli(copy, "db", "check")
    assert check.exit_code == 1 and "copied-run" in check.stdout
    assert as_json(cli(copy, "db", "sync", "--json"))["synced"] == ["copied-run"]
    assert cli(copy, "db", "check").exit_code == 0
    vacuum = as_json(cli(copy, "db", "vacuum", "--json"))
    assert vacuum["bytes_after"] > 0


def test_db_rebuild_keeps_a_backup_and_restores_every_run(copy: Path) -> None:
    """`rebuild` moves the old catalog aside and reindexes every snapshot."""
    before = as_json(cli(copy, "runs", "--json"))
    data = as_json(cli(copy, "db", "rebuild", "--json"))
    assert data["runs"] == len(before) == 6
    assert Path(data["backup"]).exists()
    after = as_json(cli(copy, "runs", "--json"))
    assert [r["id"] for r in after] == [r["id"] for r in before]


def test_gc_lists_then_deletes_only_superseded_unused_outputs(
    copy: Path, built: dict[str, Any]
) -> None:
    """Only the superseded make_table output goes; provenance and used files stay."""
    listed = as_json(cli(copy, "gc", "--json"))
    assert [(f["run_id"], f["key"]) for f in listed["files"]] == [(built["old"], "table")]
    assert listed["deleted"] is False
    target = Path(listed["files"][0]["path"])
    assert target.exists()
    deleted = as_json(cli(copy, "gc", "--yes", "--json"))
    assert deleted["deleted"] is True and not target.exists()
    assert (copy / "runs" / built["old"] / "consist.json").exists()
    assert as_json(cli(copy, "show", built["old"], "--json"))["run"]["id"] == built["old"]
    kept = as_json(cli(copy, "artifacts", built["reader"], "--json"))
    assert kept["inputs"]["table"]["on_disk"] is True
    assert "nothing to collect" in cli(copy, "gc").stdout


def test_schema_export_prints_a_model_and_reports_unknown_keys(
    built: dict[str, Any], tmp_path: Path
) -> None:
    """`schema export KEY` prints a class for the columns; an unknown key exits 1."""
    target = tmp_path / "table_schema.py"
    result = cli(built["root"], "schema", "export", "table", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert "class " in result.stdout and "value" in result.stdout
    assert target.read_text().strip() == result.stdout.strip()
    unknown = cli(built["root"], "schema", "export", "no_such_key")
    assert unknown.exit_code == 1 and "no_such_key" in unknown.stderr


def test_environment_variables_and_demo_folder_are_found(
    built: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CONSIST_CATALOG/CONSIST_RUN_DIR are used; so is ./consist-demo when nothing else is."""
    monkeypatch.setenv("CONSIST_CATALOG", str(built["root"] / "provenance.duckdb"))
    monkeypatch.setenv("CONSIST_RUN_DIR", str(built["root"] / "runs"))
    assert len(as_json(runner.invoke(app, ["runs", "--json"]))) == 6
    monkeypatch.delenv("CONSIST_CATALOG")
    monkeypatch.delenv("CONSIST_RUN_DIR")
    shutil.copytree(built["root"], tmp_path / "consist-demo")
    monkeypatch.chdir(tmp_path)
    assert len(as_json(runner.invoke(app, ["runs", "--json"]))) == 6
