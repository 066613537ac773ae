"""The TableStore contract suite, shipped so table-store adapters can run it.

Subclass it and provide a ``tables`` fixture yielding an open store::

    class TestMyTables(TableStoreContract):
        @pytest.fixture
        def tables(self, tmp_path):
            store = MyTableStore(f"mydb://{tmp_path}/t.db")
            yield store
            store.close()
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from consist.domain.errors import CatalogError, InvalidInput, UnsafeIdentifier
from consist.domain.sql_names import table_name_for_key
from consist.ports import SupportsChangeToken

__all__ = ["TableStoreContract"]

NASTY = 'x"; DROP TABLE victims; --'


def _rows(store: Any, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    return list(store.query(sql, params).to_pylist())


class TableStoreContract:
    """What every TableStore must do. Needs a ``tables`` fixture."""

    def test_written_rows_read_back_with_their_artifact_id(self, tables: Any) -> None:
        """Rows go in as Arrow and come out of SQL unchanged, tagged with their artifact."""
        data = pa.table({"person_id": [1, 2, 3], "age": [30, 41, 7], "name": ["a", "b", "c"]})
        assert tables.write_rows("persons", data, artifact_id="art1") == 3
        got = _rows(tables, "SELECT * FROM persons ORDER BY person_id")
        assert [r["age"] for r in got] == [30, 41, 7]
        assert [r["name"] for r in got] == ["a", "b", "c"]
        assert {r["consist_artifact_id"] for r in got} == {"art1"}

    def test_query_returns_an_arrow_table_and_takes_parameters(self, tables: Any) -> None:
        """Values travel as parameters, quotes included."""
        tables.write_rows("t", pa.table({"v": [1]}), artifact_id="it's")
        result = tables.query("SELECT v FROM t WHERE consist_artifact_id = ?", ["it's"])
        assert isinstance(result, pa.Table)
        assert result.to_pylist() == [{"v": 1}]

    def test_rewriting_an_artifact_replaces_its_rows(self, tables: Any) -> None:
        """Ingesting the same artifact twice leaves one copy: the latest."""
        tables.write_rows("t", pa.table({"v": [1, 2]}), artifact_id="a")
        tables.write_rows("t", pa.table({"v": [9]}), artifact_id="b")
        assert tables.write_rows("t", pa.table({"v": [1, 2]}), artifact_id="a") == 2
        assert tables.write_rows("t", pa.table({"v": [5, 6, 7]}), artifact_id="a") == 3
        got = _rows(tables, "SELECT consist_artifact_id AS a, v FROM t ORDER BY a, v")
        assert [(r["a"], r["v"]) for r in got] == [("a", 5), ("a", 6), ("a", 7), ("b", 9)]

    def test_later_data_adds_columns_and_older_rows_read_null(self, tables: Any) -> None:
        """A new column is added; a column missing from new data reads NULL there."""
        tables.write_rows("t", pa.table({"v": [1], "old": ["x"]}), artifact_id="a")
        tables.write_rows("t", pa.table({"v": [2], "new": [2.5]}), artifact_id="b")
        got = _rows(tables, "SELECT v, old, new FROM t ORDER BY v")
        assert got == [{"v": 1, "old": "x", "new": None}, {"v": 2, "old": None, "new": 2.5}]

    def test_has_rows_tells_which_artifacts_are_ingested(self, tables: Any) -> None:
        assert tables.has_rows("t", "a") is False
        tables.write_rows("t", pa.table({"v": [1]}), artifact_id="a")
        assert tables.has_rows("t", "a") is True
        assert tables.has_rows("t", "b") is False

    def test_tables_lists_ingested_tables_not_views(self, tables: Any) -> None:
        assert tables.tables() == []
        tables.write_rows("zeta", pa.table({"v": [1]}), artifact_id="a")
        tables.write_rows("alpha", pa.table({"v": [1]}), artifact_id="a")
        tables.create_view("v_alpha", "SELECT * FROM alpha")
        assert tables.tables() == ["alpha", "zeta"]

    def test_artifact_column_the_caller_supplied_must_match(self, tables: Any) -> None:
        """Rows claiming another artifact are refused, not silently relabelled."""
        good = pa.table({"v": [1], "consist_artifact_id": ["a"]})
        assert tables.write_rows("t", good, artifact_id="a") == 1
        bad = pa.table({"v": [1, 2], "consist_artifact_id": ["a", "other"]})
        with pytest.raises(InvalidInput):
            tables.write_rows("t", bad, artifact_id="a")
        assert _rows(tables, "SELECT count(*) AS n FROM t") == [{"n": 1}]

    def test_non_arrow_data_is_refused(self, tables: Any) -> None:
        with pytest.raises(InvalidInput):
            tables.write_rows("t", [{"v": 1}], artifact_id="a")

    def test_unsafe_table_name_is_refused_and_never_executed(self, tables: Any) -> None:
        """A key full of SQL never reaches SQL as a name; table_name_for_key makes it safe."""
        tables.write_rows("victims", pa.table({"v": [1]}), artifact_id="keep")
        with pytest.raises(UnsafeIdentifier):
            tables.write_rows(NASTY, pa.table({"v": [1]}), artifact_id="a")
        with pytest.raises(UnsafeIdentifier):
            tables.has_rows(NASTY, "a")
        safe = table_name_for_key(NASTY)
        assert tables.write_rows(safe, pa.table({"v": [2]}), artifact_id=NASTY) == 1
        assert tables.has_rows(safe, NASTY)
        assert sorted(tables.tables()) == sorted(["victims", safe])
        assert _rows(tables, "SELECT v FROM victims") == [{"v": 1}]

    def test_table_without_ingested_rows_is_never_written(self, tables: Any) -> None:
        """A table made by other means (a catalog's own, a user's) is refused, and kept."""
        tables.query("CREATE TABLE mine AS SELECT 1 AS v")
        with pytest.raises(InvalidInput, match="holds no ingested rows"):
            tables.write_rows("mine", pa.table({"v": [2]}), artifact_id="a")
        assert _rows(tables, "SELECT * FROM mine") == [{"v": 1}]

    def test_view_is_created_replaced_and_queried(self, tables: Any) -> None:
        tables.write_rows("t", pa.table({"v": [1, 2, 3]}), artifact_id="a")
        tables.create_view("big", "SELECT * FROM t WHERE v > 1")
        assert _rows(tables, "SELECT count(*) AS n FROM big") == [{"n": 2}]
        tables.create_view("big", "SELECT * FROM t WHERE v > 2")
        assert _rows(tables, "SELECT count(*) AS n FROM big") == [{"n": 1}]

    def test_view_sees_rows_ingested_after_it_was_created(self, tables: Any) -> None:
        tables.write_rows("t", pa.table({"v": [1]}), artifact_id="a")
        tables.create_view("all_t", "SELECT * FROM t")
        tables.write_rows("t", pa.table({"v": [2]}), artifact_id="b")
        assert _rows(tables, "SELECT count(*) AS n FROM all_t") == [{"n": 2}]

    def test_unsafe_view_name_is_refused(self, tables: Any) -> None:
        tables.write_rows("victims", pa.table({"v": [1]}), artifact_id="keep")
        with pytest.raises(UnsafeIdentifier):
            tables.create_view(NASTY, "SELECT 1 AS x")
        assert tables.tables() == ["victims"]

    def test_failing_statement_raises_catalog_error(self, tables: Any) -> None:
        with pytest.raises(CatalogError):
            tables.query("SELECT * FROM no_such_table")
        with pytest.raises(CatalogError):
            tables.create_view("broken", "SELECT * FROM no_such_table")

    def test_refused_write_leaves_earlier_rows_intact(self, tables: Any) -> None:
        """A write DuckDB rejects (a column changing type) is all-or-nothing."""
        tables.write_rows("t", pa.table({"v": [1, 2]}), artifact_id="a")
        with pytest.raises(CatalogError):
            tables.write_rows("t", pa.table({"v": ["not a number"]}), artifact_id="a")
        assert _rows(tables, "SELECT v FROM t ORDER BY v") == [{"v": 1}, {"v": 2}]

    def test_change_token_moves_with_every_write(self, tables: Any) -> None:
        """Optional capability: ingesting or (re)creating a view changes the token."""
        token = tables.change_token if isinstance(tables, SupportsChangeToken) else None
        if token is None:
            pytest.skip(f"{type(tables).__name__} offers no change token (optional)")
        before = token()
        tables.write_rows("persons", pa.table({"v": [1]}), artifact_id="a1")
        ingested = token()
        tables.create_view("v_persons", "SELECT * FROM persons")
        assert len({before, ingested, token()}) == 3

    def test_close_is_safe_twice(self, tables: Any) -> None:
        tables.close()
        tables.close()
