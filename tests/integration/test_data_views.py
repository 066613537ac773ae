"""Views across runs: hot and cold rows, system columns, drift, SQLAlchemy, unsafe keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlmodel import Field, SQLModel, func, select

import consist
from consist.domain.errors import UnsafeIdentifier


class Person(SQLModel, table=True):
    person_id: int = Field(primary_key=True)
    age: int
    number_of_trips: int


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Trackers on one on-disk DuckDB catalog (data tables in the same file)."""
    made: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("db_path", tmp_path / "provenance.duckdb")
        options.setdefault("code_identity", "function")
        tracker = consist.Tracker(tmp_path / "runs", **options)
        made.append(tracker)
        return tracker

    yield make
    for tracker in made:
        tracker.close()


def _people(seed: int, rows: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": range(rows),
            "age": [20 + seed + i for i in range(rows)],
            "number_of_trips": [seed] * rows,
        }
    )


SCENARIOS = ["baseline", "baseline", "high_gas", "high_gas", "baseline"]
YEARS = [2030, 2040, 2030, 2040, 2030]


def _five_runs(tracker: Any) -> list[str]:
    """Five runs; even ones ingest their output, odd ones leave it as a file only."""
    ids = []
    for i in range(5):
        with tracker.start_run(
            f"run{i}", model="demand", year=YEARS[i], iteration=i % 2,
            parent_run_id=SCENARIOS[i],
        ):  # fmt: skip
            artifact = tracker.log_dataframe(_people(i, rows=i + 1), "person", schema=Person)
            if i % 2 == 0:
                tracker.ingest(artifact)
        ids.append(f"run{i}")
    return ids


def test_one_view_over_ingested_and_file_only_outputs_of_five_runs(duck: Any) -> None:
    """Hot and cold rows come together once each, with the catalog's system columns."""
    tracker = duck(schemas=[Person])
    _five_runs(tracker)
    tracker.views.Person  # noqa: B018 - builds the view
    df = consist.run_query(
        "SELECT consist_run_id, consist_scenario_id, consist_year, consist_iteration, "
        "count(*) AS n, min(number_of_trips) AS trips FROM v_person GROUP BY ALL ORDER BY 1",
        tracker=tracker,
    )
    assert df["consist_run_id"].tolist() == [f"run{i}" for i in range(5)]
    assert df["n"].tolist() == [1, 2, 3, 4, 5]
    assert df["trips"].tolist() == [0, 1, 2, 3, 4]
    assert df["consist_scenario_id"].tolist() == SCENARIOS
    assert df["consist_year"].tolist() == YEARS
    assert df["consist_iteration"].tolist() == [0, 1, 0, 1, 0]
    hot = consist.run_query("SELECT count(*) AS n FROM hot_person", tracker=tracker)
    assert hot["n"].item() == 1 + 3 + 5


def test_view_joins_catalog_tables_in_one_statement(duck: Any) -> None:
    """run_query sees the catalog's runs table and the view together."""
    tracker = duck(schemas=[Person])
    _five_runs(tracker)
    df = consist.run_query(
        "SELECT r.model, count(*) AS n FROM v_person v JOIN runs r ON r.id = v.consist_run_id "
        "GROUP BY r.model",
        tracker=tracker,
        as_="arrow",
    )
    assert df.to_pylist() == [{"model": "demand", "n": 15}]


def test_sqlalchemy_select_as_in_the_usage_guide(duck: Any) -> None:
    """select(VPerson.consist_scenario_id, func.avg(...)).where(VPerson.consist_year == 2030)."""
    tracker = duck(schemas=[Person])
    _five_runs(tracker)
    VPerson = tracker.views.Person
    query = (
        select(
            VPerson.consist_scenario_id,
            VPerson.consist_year,
            func.avg(VPerson.number_of_trips).label("avg_trips"),
        )
        .where(VPerson.consist_scenario_id.in_(["baseline", "high_gas"]))
        .where(VPerson.consist_year == 2030)
        .group_by(VPerson.consist_scenario_id, VPerson.consist_year)
        .order_by(VPerson.consist_scenario_id)
    )
    df = consist.run_query(query, tracker=tracker)
    # baseline 2030: run0 (1 row, 0 trips) + run4 (5 rows, 4 trips); high_gas 2030: run2.
    assert df["consist_scenario_id"].tolist() == ["baseline", "high_gas"]
    assert df["avg_trips"].tolist() == pytest.approx([(0 + 4 * 5) / 6, 2.0])
    whole = consist.run_query(select(VPerson).where(VPerson.consist_year == 2040), tracker=tracker)
    assert sorted(whole["consist_run_id"].unique()) == ["run1", "run3"]
    assert {"person_id", "age", "consist_artifact_id"} <= set(whole.columns)


def test_view_reflects_runs_added_after_it_was_built(duck: Any) -> None:
    """A view built earlier shows rows of a run finished later, from a fresh tracker too."""
    tracker = duck(schemas=[Person])
    _five_runs(tracker)
    count = "SELECT count(*) AS n FROM v_person"
    assert consist.run_query(count, tracker=tracker)["n"].item() == 15
    with tracker.start_run("run5", model="demand", year=2050):
        tracker.log_dataframe(_people(5, rows=2), "person", schema=Person)
    assert consist.run_query(count, tracker=tracker)["n"].item() == 17
    tracker.close()
    again = duck(schemas=[Person])
    assert consist.run_query(count, tracker=again)["n"].item() == 17


def test_rows_ingested_inside_an_active_run_are_queryable_at_once(duck: Any) -> None:
    """Ingest during the run; the view has the rows before the run ends."""
    tracker = duck()
    with tracker.start_run("live", year=2030, parent_run_id="sc"):
        artifact = tracker.log_dataframe(_people(1), "trips")
        result = tracker.ingest(artifact)
        tracker.create_view("v_trips", "trips")
        df = consist.run_query(
            "SELECT DISTINCT consist_run_id, consist_scenario_id, consist_year FROM v_trips",
            tracker=tracker,
        )
    assert result.rows == 4
    assert df.to_dict("records") == [
        {"consist_run_id": "live", "consist_scenario_id": "sc", "consist_year": 2030}
    ]


def test_schema_drift_between_runs_reads_null(duck: Any) -> None:
    """Missing and extra columns across runs become NULLs, hot and cold alike."""
    tracker = duck()
    frames = [
        pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}),
        pd.DataFrame({"a": [3], "c": [0.5]}),  # no b, new c
        pd.DataFrame({"b": ["z"], "d": [True]}),  # no a
    ]
    for i, frame in enumerate(frames):
        with tracker.start_run(f"d{i}", year=2030 + i):
            artifact = tracker.log_dataframe(frame, "drifty")
            if i == 1:
                tracker.ingest(artifact)
    tracker.create_view("v_drifty", "drifty")
    df = consist.run_query(
        "SELECT consist_run_id, a, b, c, d FROM v_drifty ORDER BY consist_run_id, a",
        tracker=tracker,
    )
    assert len(df) == 4
    rows = df.astype(object).where(df.notna(), None).to_dict("records")
    assert rows[0] == {"consist_run_id": "d0", "a": 1, "b": "x", "c": None, "d": None}
    assert rows[2] == {"consist_run_id": "d1", "a": 3, "b": None, "c": 0.5, "d": None}
    assert rows[3] == {"consist_run_id": "d2", "a": None, "b": "z", "c": None, "d": True}


def test_reingesting_is_idempotent(duck: Any) -> None:
    """Ingesting the same artifact twice leaves one copy of its rows."""
    tracker = duck()
    with tracker.start_run("once"):
        artifact = tracker.log_dataframe(_people(0, rows=3), "people")
    tracker.ingest(artifact)
    tracker.ingest(artifact)
    tracker.create_view("v_people", "people")
    assert consist.run_query("SELECT count(*) n FROM v_people", tracker=tracker)["n"].item() == 3
    assert consist.run_query("SELECT count(*) n FROM hot_people", tracker=tracker)["n"].item() == 3


def test_views_work_on_every_catalog(make_tracker: Callable[..., Any]) -> None:
    """Memory and SQLite catalogs get an in-memory table store; views still answer."""
    tracker = make_tracker(schemas=[Person])
    _five_runs(tracker)
    VPerson = tracker.views.Person
    df = consist.run_query(
        select(VPerson.consist_run_id, func.count().label("n")).group_by(VPerson.consist_run_id),
        tracker=tracker,
    )
    assert sorted(df["n"].tolist()) == [1, 2, 3, 4, 5]


def test_injection_key_is_stored_and_queried_safely(duck: Any) -> None:
    """A key full of SQL is a quoted table name and a literal; the catalog survives."""
    tracker = duck()
    key = 'x"; DROP TABLE runs; --'
    with tracker.start_run("evil"):
        artifact = tracker.log_dataframe(pd.DataFrame({"v": [1, 2]}), key)
    stored = tracker.ingest(artifact)
    assert stored.table.startswith("hot_x_drop_table_runs__")
    with tracker.start_run("evil2"):
        tracker.log_dataframe(pd.DataFrame({"v": [3]}), key)
    tracker.create_view("v_evil", key)
    df = consist.run_query("SELECT sum(v) AS s FROM v_evil", tracker=tracker)
    assert df["s"].item() == 6
    runs = consist.run_query("SELECT count(*) AS n FROM runs", tracker=tracker)
    assert runs["n"].item() == 2
    with pytest.raises(UnsafeIdentifier, match="not a safe table or view name"):
        tracker.create_view(key, key)


def test_unknown_view_names_the_remedy(duck: Any) -> None:
    tracker = duck(schemas=[Person])
    with pytest.raises(LookupError, match="register its schema"):
        tracker.views.Household  # noqa: B018


@pytest.mark.parametrize(
    "catalog_url",
    ["duckdb:///{tmp}/provenance.duckdb?keep_open=60", "sqlite:///{tmp}/provenance.sqlite"],
    ids=["duckdb", "sqlite"],
)
def test_unchanged_catalog_is_checked_without_a_query(tmp_path: Path, catalog_url: str) -> None:
    """Between writes, the freshness check before each query reads no catalog rows."""
    url = catalog_url.format(tmp=tmp_path)
    tracker = consist.Tracker(tmp_path / "runs", catalog=url, code_identity="function")
    try:
        _five_runs(tracker)
        tracker.create_view("v_person", "person")
        count = "SELECT count(*) AS n FROM v_person"
        assert consist.run_query(count, tracker=tracker)["n"].item() == 15
        durable, sql_of_catalog = tracker.catalog, tracker.catalog.query_sql

        def refuse(*_: Any, **__: Any) -> Any:
            raise AssertionError("the freshness check queried the catalog")

        durable.query_sql = refuse
        assert tracker.views.refresh() == []
        assert consist.run_query(count, tracker=tracker)["n"].item() == 15
        durable.query_sql = sql_of_catalog
        with tracker.start_run("run5", year=2050):
            tracker.log_dataframe(_people(5, rows=2), "person")
        assert consist.run_query(count, tracker=tracker)["n"].item() == 17
    finally:
        tracker.close()


ANOTHER_PROCESS = """
import sys
import pandas as pd
import consist

tracker = consist.Tracker(sys.argv[1], db_path=sys.argv[2], code_identity="function")
with tracker.start_run("elsewhere", year=2060):
    tracker.log_dataframe(pd.DataFrame({"person_id": [1, 2, 3]}), "person")
tracker.close()
"""


def test_view_sees_a_run_another_process_recorded(duck: Any, tmp_path: Path) -> None:
    """A tracker that stays open still picks up runs written by another process."""
    import subprocess
    import sys

    tracker = duck()
    _five_runs(tracker)
    tracker.create_view("v_person", "person")
    count = "SELECT count(*) AS n FROM v_person"
    assert consist.run_query(count, tracker=tracker)["n"].item() == 15
    done = subprocess.run(
        [sys.executable, "-c", ANOTHER_PROCESS, str(tmp_path / "runs"),
         str(tmp_path / "provenance.duckdb")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert consist.run_query(count, tracker=tracker)["n"].item() == 18


EXIT_WHILE_IDLE_CLOSE = """
import sys, time
import pandas as pd
import consist

tracker = consist.Tracker(sys.argv[1], code_identity="function")
with tracker.start_run("r", year=2030):
    tracker.log_dataframe(pd.DataFrame({"v": [1, 2]}), "things")
tracker.create_view("v_things", "things")
consist.run_query("SELECT count(*) FROM v_things", tracker=tracker)
time.sleep(float(sys.argv[2]))  # exit just as the idle connection is being closed
"""


@pytest.mark.parametrize("delay", [0.09, 0.1, 0.11, 0.12])
def test_exiting_without_close_while_the_catalog_goes_idle_is_clean(
    tmp_path: Path, delay: float
) -> None:
    """A script that ends without tracker.close() exits 0 with its runs in the catalog
    (this used to abort inside DuckDB when the exit met the idle close)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", EXIT_WHILE_IDLE_CLOSE, str(tmp_path / "runs"), str(delay)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    reopened = consist.Tracker(tmp_path / "runs")
    assert [r.id for r in reopened.find_runs()] == ["r"]
    reopened.close()


def test_a_cold_file_replaced_with_other_columns_is_read_by_name(duck: Any) -> None:
    """Files of one schema share a scan; when one is rewritten with other columns
    the view is rebuilt, so the changed file neither fails nor loses columns."""
    tracker = duck()
    paths = []
    for i in range(3):
        with tracker.start_run(f"s{i}", year=2030 + i):
            artifact = tracker.log_dataframe(pd.DataFrame({"a": [i], "b": [i * 10]}), "same")
            paths.append(tracker.resolve_path(artifact))
    tracker.create_view("v_same", "same")
    before = consist.run_query("SELECT b FROM v_same ORDER BY consist_run_id", tracker=tracker)
    assert before["b"].tolist() == [0, 10, 20]
    # Outside Consist, a run's output is rewritten without b and with a new c.
    pd.DataFrame({"a": [1], "c": ["new"]}).to_parquet(paths[1])
    df = consist.run_query(
        "SELECT consist_run_id AS run, a, b, c FROM v_same ORDER BY run", tracker=tracker
    )
    rows = df.astype(object).where(df.notna(), None).to_dict("records")
    assert rows == [
        {"run": "s0", "a": 0, "b": 0, "c": None},
        {"run": "s1", "a": 1, "b": None, "c": "new"},
        {"run": "s2", "a": 2, "b": 20, "c": None},
    ]
