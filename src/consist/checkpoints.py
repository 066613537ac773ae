"""``consist.CheckpointStore``: restart-from-checkpoint for long data pipelines.

Each checkpoint is a named table in a TableStore (DuckDB by default) plus a
row of metadata: when it was written, how many rows, and the code version and
config hash of the process that wrote it.
"""

from __future__ import annotations

import builtins
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from consist.container import build_tables
from consist.domain import canonical, utcnow
from consist.domain.errors import InvalidInput
from consist.domain.sql_names import quote_identifier, table_name_for_key
from consist.services.data.query import convert

INDEX_TABLE = "consist_checkpoints"
_FORMATS = ("polars", "pandas", "arrow")


def _arrow(data: Any) -> Any:
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        return pa.Table.from_pandas(data, preserve_index=False)
    if module == "polars":
        return data.to_arrow()
    raise InvalidInput(f"save takes a pandas, polars or pyarrow table, not {type(data).__name__}")


class CheckpointStore:
    """Named DataFrame checkpoints in one database file.

    Parameters
    ----------
    db_path
        A DuckDB file (created if missing), or ``":memory:"``.
    tables
        Any TableStore adapter instead of the DuckDB default.
    config
        The pipeline config; its hash is recorded with every checkpoint.
    code_version
        Recorded with every checkpoint (default: the git identity of the working directory).
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] = ":memory:",
        *,
        tables: Any = None,
        config: Any = None,
        code_version: str | None = None,
    ) -> None:
        if tables is None:
            location = os.fspath(db_path)
            url = (
                "duckdb://:memory:"
                if location == ":memory:"
                else (f"duckdb://{Path(location).absolute().as_posix()}")
            )
            if location != ":memory:":
                Path(location).absolute().parent.mkdir(parents=True, exist_ok=True)
            tables = build_tables(url)
        self._tables = tables
        self._config_hash = canonical.digest(config if config is not None else {})
        if code_version is None:
            from consist.services.identity.code_identity import git_identity

            code_version = git_identity(Path.cwd())
        self._code_version = code_version
        self._closed = False

    @staticmethod
    def _table(name: str) -> str:
        if not isinstance(name, str) or not name:
            raise InvalidInput("a checkpoint needs a non-empty name")
        return table_name_for_key(f"checkpoint_{name}")

    def save(self, df: Any, name: str, description: str = "", replace: bool = True) -> int:
        """Store ``df`` (pandas, polars or Arrow) as checkpoint ``name``; returns its row count.

        Raises
        ------
        InvalidInput
            If the checkpoint exists and ``replace`` is False.
        """
        import pyarrow as pa

        table = self._table(name)
        if not replace and self.has(name):
            raise InvalidInput(f"checkpoint {name!r} exists; pass replace=True to overwrite it")
        data = _arrow(df)
        self._tables.query(f"DROP TABLE IF EXISTS {quote_identifier(table)}")
        rows = self._tables.write_rows(table, data, artifact_id=name)
        entry = pa.Table.from_pylist(
            [
                {
                    "name": name,
                    "table_name": table,
                    "created_at": utcnow(),
                    "row_count": rows,
                    "description": description,
                    "code_version": self._code_version,
                    "config_hash": self._config_hash,
                    "host": socket.gethostname(),
                }
            ]
        )
        self._tables.write_rows(INDEX_TABLE, entry, artifact_id=name)
        return int(rows)

    def has(self, name: str) -> bool:
        return INDEX_TABLE in self._tables.tables() and self._tables.has_rows(INDEX_TABLE, name)

    def load(self, name: str, as_: str = "polars") -> Any:
        """The checkpoint as polars (default), pandas or Arrow; None if there is none."""
        if as_ not in _FORMATS:
            raise InvalidInput(f"as_ must be one of {_FORMATS}, not {as_!r}")
        if not self.has(name):
            return None
        table = quote_identifier(self._table(name))
        data = self._tables.query(f"SELECT * EXCLUDE (consist_artifact_id) FROM {table}")
        return convert(data, as_)

    def list(self) -> list[dict[str, Any]]:
        """name, created_at, row_count, description (+ code_version, config_hash) per checkpoint."""
        if INDEX_TABLE not in self._tables.tables():
            return []
        rows = self._tables.query(
            "SELECT name, created_at, row_count, description, code_version, config_hash "
            f"FROM {quote_identifier(INDEX_TABLE)} ORDER BY created_at, name"
        )
        listed: list[dict[str, Any]] = rows.to_pylist()
        return listed

    def delete(self, name: str) -> None:
        """Drop the checkpoint; deleting an unknown name is not an error."""
        self._tables.query(f"DROP TABLE IF EXISTS {quote_identifier(self._table(name))}")
        if INDEX_TABLE in self._tables.tables():
            self._tables.query(
                f"DELETE FROM {quote_identifier(INDEX_TABLE)} WHERE consist_artifact_id = ?",
                [name],
            )

    def export_parquet(self, name: str, path: str | os.PathLike[str]) -> Path:
        """Write the checkpoint to a Parquet file (parent folders created).

        Raises
        ------
        InvalidInput
            If there is no checkpoint called ``name``.
        """
        import pyarrow.parquet as pq

        data = self.load(name, as_="arrow")
        if data is None:
            raise InvalidInput(f"no checkpoint named {name!r}; saved: {self.names()}")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data, target)
        return target

    def names(self) -> builtins.list[str]:
        return [row["name"] for row in self.list()]

    def query(self, sql: str, params: Sequence[Any] | None = None, as_: str = "polars") -> Any:
        """Run SQL against the store (checkpoint tables are named ``checkpoint_<name>``)."""
        return convert(self._tables.query(sql, params), as_)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._tables.close()

    def __enter__(self) -> CheckpointStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
