"""The CLI at an 80-column terminal: whole ids, id prefixes, --version, completion, -c alone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import consist
from consist.cli import app

runner = CliRunner()
CONSIST = Path(sys.executable).with_name("consist")
LONG_STEP = "synthesize_population_for_every_zone"


def produce(config: dict[str, Any]) -> dict[str, Any]:
    return {"table": pd.DataFrame({"scale": [config["scale"]]})}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Runs with long ids, two sharing a prefix, under a scenario with a long name."""
    root = tmp_path_factory.mktemp("everyday")
    ids: dict[str, Any] = {"root": root}
    with consist.Tracker(root / "runs", db_path=root / "provenance.duckdb") as tracker:
        with tracker.start_run("fuel-price-sweep-high-2030", "scenario"):
            first = tracker.run(
                produce,
                name=LONG_STEP,
                run_id=f"{LONG_STEP}-aaaa1111",
                config={"scale": 1},
                parent_run_id="fuel-price-sweep-high-2030",
                year=2030,
            )
            second = tracker.run(
                produce,
                name=LONG_STEP,
                inputs={"before": first.outputs["table"]},
                run_id=f"{LONG_STEP}-aaaa2222",
                config={"scale": 2},
                parent_run_id="fuel-price-sweep-high-2030",
                year=2035,
            )
        ids.update(first=first.run_id, second=second.run_id)
    return ids


def cli(root: Path, *args: str) -> Any:
    return runner.invoke(app, [*args, "--catalog", str(root / "provenance.duckdb")])


def at_80(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real `consist` script in a fresh process, as in an 80-column terminal."""
    env = {"COLUMNS": "80", "LINES": "50", "PATH": str(CONSIST.parent), "HOME": str(cwd)}
    return subprocess.run(
        [str(CONSIST), *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )


def test_run_ids_stay_whole_on_one_line_at_80_columns(
    study: dict[str, Any], tmp_path: Path
) -> None:
    """`runs`, `show` and `artifacts` at 80 columns: every line fits, every id is on one line."""
    catalog = str(study["root"] / "provenance.duckdb")
    scenario, first, second = "fuel-price-sweep-high-2030", study["first"], study["second"]
    expected = {
        ("runs",): [scenario, first, second],
        ("show", first): [scenario, first],
        ("artifacts", second): [second, first],  # the input's producer is the first run
    }
    for args, ids in expected.items():
        done = at_80(*args, "-c", catalog, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert all(len(line.rstrip()) <= 80 for line in lines), done.stdout
        for run_id in ids:
            assert any(run_id in line for line in lines), (args, run_id, done.stdout)
    runs = at_80("runs", "-c", catalog, cwd=tmp_path).stdout
    row = next(line for line in runs.splitlines() if study["first"] in line)
    assert row.split() == [study["first"], "completed", "2030"]
    # A 46-character id leaves no room for the scenario: the columns left out are named.
    assert "hidden at this width: step, scenario, started, duration" in runs


def test_wide_terminal_shows_every_column(study: dict[str, Any]) -> None:
    """With room enough, no column is left out."""
    result = runner.invoke(
        app, ["runs", "-c", str(study["root"] / "provenance.duckdb")], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if line.startswith("run "))
    assert header.split() == ["run", "step", "status", "scenario", "year", "started", "duration"]
    assert "hidden" not in result.stdout


@pytest.mark.parametrize("command", ["show", "artifacts", "why", "lineage"])
def test_a_unique_prefix_names_a_run(study: dict[str, Any], command: str) -> None:
    """Each command that takes a run id accepts a unique beginning of it."""
    result = cli(study["root"], command, f"{LONG_STEP}-aaaa1", "--json")
    assert result.exit_code == 0, result.output
    assert study["first"] in result.stdout


@pytest.mark.parametrize("command", ["show", "artifacts", "why", "lineage"])
def test_an_ambiguous_prefix_lists_the_candidates(study: dict[str, Any], command: str) -> None:
    """A prefix of two runs is an error (exit 1) naming both, one id a line."""
    result = cli(study["root"], command, f"{LONG_STEP}-aaaa")
    assert result.exit_code == 1
    assert "matches 2 runs" in result.stderr
    lines = [line.strip() for line in result.stderr.splitlines()]
    assert study["first"] in lines and study["second"] in lines
    assert "Traceback" not in result.output


def test_preview_and_scenario_filter_take_prefixes(study: dict[str, Any]) -> None:
    """RUN:KEY in preview, and --scenario, resolve a unique prefix too."""
    children = cli(study["root"], "runs", "--scenario", "fuel-price", "--json")
    assert children.exit_code == 0, children.output
    assert {study["first"], study["second"]} <= set(children.stdout.split('"'))
    missing = cli(study["root"], "preview", f"{LONG_STEP}-aaaa2:nothing")
    assert missing.exit_code == 1
    assert study["second"] in missing.stderr  # the prefix was resolved, then the key refused


def test_bad_format_and_direction_exit_2_as_documented(study: dict[str, Any]) -> None:
    """`--format svg` and `-d sideways` are usage errors: exit code 2, the option named."""
    fmt = cli(study["root"], "lineage", study["first"], "--format", "svg")
    assert fmt.exit_code == 2 and "--format" in fmt.output and "svg" in fmt.output
    way = cli(study["root"], "lineage", study["first"], "-d", "sideways")
    assert way.exit_code == 2 and "--direction" in way.output and "sideways" in way.output


def test_version_is_printed(tmp_path: Path) -> None:
    """`consist --version` prints the package's version and exits 0."""
    done = at_80("--version", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == f"consist {consist.__version__}"


def test_shell_completion_is_offered_and_completes_run_ids(
    study: dict[str, Any], tmp_path: Path
) -> None:
    """`--show-completion bash` prints a script; the completion hook completes commands and ids."""
    script = at_80("--show-completion", "bash", cwd=tmp_path)
    assert script.returncode == 0, script.stderr
    assert "_CONSIST_COMPLETE" in script.stdout and "complete" in script.stdout
    env = {
        **os.environ,
        "_CONSIST_COMPLETE": "complete_bash",
        "COMP_WORDS": f"consist show -c {study['root'] / 'provenance.duckdb'} {LONG_STEP}-aaaa",
        "COMP_CWORD": "4",
    }
    done = subprocess.run(
        [str(CONSIST)], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    assert set(done.stdout.split()) == {study["first"], study["second"]}, done.stderr
    env |= {"COMP_WORDS": "consist sh", "COMP_CWORD": "1"}
    done = subprocess.run(
        [str(CONSIST)], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    assert "show" in done.stdout.split()


def test_catalog_alone_finds_the_run_directory(study: dict[str, Any], tmp_path: Path) -> None:
    """From another folder, `-c path/provenance.duckdb` alone is enough: no --run-dir."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = at_80(
        "show", study["first"], "-c", str(study["root"] / "provenance.duckdb"), cwd=elsewhere
    )
    assert done.returncode == 0, done.stderr
    assert study["first"] in done.stdout
    assert not (elsewhere / "runs").exists()  # nothing invented where the command ran


@pytest.mark.parametrize("name", ["c.duckdb", "c.sqlite"])
def test_catalog_alone_uses_the_recorded_run_directory_even_when_not_beside_it(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run directory comes from what the catalog recorded, wherever it is (DuckDB, SQLite)."""
    monkeypatch.chdir(tmp_path)  # no ./runs here to fall back on
    catalog = tmp_path / "db" / name
    catalog.parent.mkdir()
    with consist.Tracker(tmp_path / "work" / "my-runs", db_path=catalog) as tracker:
        tracker.run(produce, name="step", config={"scale": 1})
    result = runner.invoke(app, ["runs", "--json", "-c", str(catalog)])
    assert result.exit_code == 0, result.output
    assert '"step"' in result.stdout
    # The environment variable counts as the catalog too.
    from_env = runner.invoke(app, ["runs", "--json"], env={"CONSIST_CATALOG": str(catalog)})
    assert from_env.exit_code == 0 and '"step"' in from_env.stdout
    # With the recorded folder gone, an honest error names where it looked.
    (tmp_path / "work" / "my-runs").rename(tmp_path / "work" / "moved")
    gone = runner.invoke(app, ["runs", "-c", str(catalog)])
    assert gone.exit_code == 1 and "no run directory" in gone.stderr


def test_help_names_prefixes_and_completion() -> None:
    """The help says a unique beginning of a run id is enough, and offers completion."""
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert "--install-completion" in top.output and "--version" in top.output
    show = runner.invoke(app, ["show", "--help"], env={"COLUMNS": "200"})
    assert re.search(r"unique beginning", show.output)


def test_a_query_too_wide_for_80_columns_prints_one_field_per_line(
    study: dict[str, Any], tmp_path: Path
) -> None:
    """A wide `query` result becomes records with whole values; a narrow one stays a table."""
    catalog = str(study["root"] / "provenance.duckdb")
    sql = (
        "SELECT id, model, status, parent_run_id, config_hash FROM runs "
        "WHERE parent_run_id IS NOT NULL ORDER BY id"
    )
    wide = at_80("query", sql, "-c", catalog, cwd=tmp_path)
    assert wide.returncode == 0, wide.stderr
    lines = wide.stdout.splitlines()
    assert "one field per line" in lines[0]
    assert all(len(line.rstrip()) <= 80 for line in lines), wide.stdout
    assert [line.split()[1] for line in lines if line.startswith("id ")] == [
        study["first"],
        study["second"],
    ]
    assert sum(line.startswith("config_hash ") for line in lines) == 2
    narrow = at_80("query", "SELECT id FROM runs ORDER BY id", "-c", catalog, cwd=tmp_path)
    assert "one field per line" not in narrow.stdout and "┃ id" in narrow.stdout
    assert study["first"] in narrow.stdout
