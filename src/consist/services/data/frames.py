"""DataFrames in and out of Parquet without losing what they were: index, and library.

A table a step returns (or ``log_dataframe`` writes) is stored through Arrow
with its pandas index kept (a grouped frame keeps its group keys) and the
name of its library in the file's own metadata, so the file says what to
give back. A caller can always ask for another kind with ``as_=``, or with a
type hint on a step's parameter. pandas, polars and pyarrow are imported only
when a table of their kind is handled.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from pathlib import Path
from types import UnionType
from typing import Any, Union

from consist.domain.errors import InvalidInput

KINDS = ("pandas", "polars", "arrow")
# Key in the Parquet schema metadata naming the library the table came from.
FRAME_KEY = b"consist.frame"
_ALIASES = {"pandas": "pandas", "pd": "pandas", "polars": "polars", "pl": "polars"}
_ALIASES |= {"arrow": "arrow", "pyarrow": "arrow", "pa": "arrow"}
# (module, class name) of each kind's table types, for hints given as classes or text.
_CLASSES = {
    ("pandas", "DataFrame"): "pandas",
    ("polars", "DataFrame"): "polars",
    ("pyarrow", "Table"): "arrow",
}


def kind_of(value: Any) -> str | None:
    """``pandas``/``polars``/``arrow`` for a table of that library, else None."""
    module = type(value).__module__.split(".")[0]
    return _CLASSES.get((module, type(value).__name__))


def requested_kind(as_: Any) -> str | None:
    """Normalise ``as_``: a name (``"polars"``, ``"pyarrow"``, ...), a class, or None.

    Raises
    ------
    InvalidInput
        For anything else, listing what is accepted.
    """
    if as_ is None:
        return None
    if isinstance(as_, str) and as_.lower() in _ALIASES:
        return _ALIASES[as_.lower()]
    if isinstance(as_, type):
        module = as_.__module__.split(".")[0]
        kind = _CLASSES.get((module, as_.__name__))
        if kind is not None:
            return kind
    raise InvalidInput(
        f"as_ must be one of {KINDS} (or pandas.DataFrame, polars.DataFrame, "
        f"pyarrow.Table), not {as_!r}"
    )


def hinted_kinds(fn: Callable[..., Any]) -> dict[str, str]:
    """Parameters of ``fn`` annotated with a table type, and the kind each wants."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable string annotations: read their names instead
        hints = dict(getattr(fn, "__annotations__", None) or {})
    kinds = {}
    for name, hint in hints.items():
        kind = _kind_of_hint(hint)
        if name != "return" and kind is not None:
            kinds[name] = kind
    return kinds


def _kind_of_hint(hint: Any) -> str | None:
    if isinstance(hint, str):
        words = [w.strip() for w in hint.replace("Optional[", "").rstrip("]").split("|")]
        for word in words:
            head, _, tail = word.rpartition(".")
            module = {"pd": "pandas", "pl": "polars", "pa": "pyarrow"}.get(head, head)
            kind = _CLASSES.get((module.split(".")[0], tail))
            if kind is not None:
                return kind
        return None
    if typing.get_origin(hint) in (Union, UnionType):
        for choice in typing.get_args(hint):
            kind = _kind_of_hint(choice)
            if kind is not None:
                return kind
        return None
    if isinstance(hint, type):
        return _CLASSES.get((hint.__module__.split(".")[0], hint.__name__))
    return None


def convert(value: Any, kind: str) -> Any:
    """``value`` (a pandas, polars or Arrow table) as ``kind``; a pandas index is kept."""
    have = kind_of(value)
    if have is None or have == kind:
        return value
    if kind == "pandas":
        return value.to_pandas()
    if kind == "arrow":
        return _to_arrow(value)
    import polars as pl

    if have == "pandas":
        value = _to_arrow(value)  # index levels become columns, as in Arrow
    return pl.from_arrow(value)


def _to_arrow(value: Any) -> Any:
    import pyarrow as pa

    if kind_of(value) == "pandas":
        # preserve_index=None: a RangeIndex is kept as metadata, any other index
        # (a groupby key, a MultiIndex) as columns that pandas turns back into it.
        return pa.Table.from_pandas(value, preserve_index=None)
    if kind_of(value) == "polars":
        return value.to_arrow()
    return value


def pandas_rows(df: Any) -> Any:
    """A pandas frame as Arrow rows for a SQL table: named index levels (a groupby
    key) become columns, an unnamed index (row positions) is left out."""
    import pyarrow as pa

    named = [name for name in df.index.names if name is not None]
    if named:
        df = df.reset_index(level=named)
    return pa.Table.from_pandas(df, preserve_index=False)


def without_position_columns(table: Any) -> Any:
    """``table`` without the ``__index_level_N__`` columns an unnamed pandas index
    leaves in a Parquet file; named index levels are kept as columns."""
    drop = [n for n in table.column_names if re.fullmatch(r"__index_level_\d+__", n)]
    return table.drop_columns(drop) if drop else table


def write_parquet(df: Any, path: Path) -> None:
    """Write a pandas, polars or pyarrow table to Parquet, recording its library.

    Raises
    ------
    InvalidInput
        For anything that is not one of these tables.
    """
    import pyarrow.parquet as pq

    kind = kind_of(df)
    if kind is None:
        raise InvalidInput(
            f"log_dataframe takes a pandas, polars or pyarrow table, not {type(df).__name__}"
        )
    table = _to_arrow(df)
    metadata = {**(table.schema.metadata or {}), FRAME_KEY: kind.encode()}
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(metadata), path)


def read_parquet(path: Path, as_: Any = None, **options: Any) -> Any:
    """A Parquet file as the table kind asked for, else the kind it was written from.

    Files Consist did not write come back as pandas, as before.
    """
    import pyarrow.parquet as pq

    kind = requested_kind(as_) or _written_kind(path) or "pandas"
    if kind == "pandas":
        import pandas as pd

        return pd.read_parquet(path, **options)
    table = pq.read_table(path, **options)
    metadata = dict(table.schema.metadata or {})
    metadata.pop(FRAME_KEY, None)
    table = table.replace_schema_metadata(metadata or None)
    if kind == "arrow":
        return table
    import polars as pl

    return pl.from_arrow(table)


def _written_kind(path: Path) -> str | None:
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, ValueError):
        return None  # the reader reports the problem
    recorded = metadata.get(FRAME_KEY, b"").decode()
    return recorded if recorded in KINDS else None
