"""Facets as a wide table: one row per run (or artifact), one typed column per facet key.

The catalogs store facets as key/value rows (``run_config_kv``,
``artifact_kv``) with one column per value type. :func:`pivot_facets` turns
those rows into a SQLAlchemy subquery with a column per requested key, read
from the value column that matches the key's stored type, so it composes with
``consist.run_query`` and joins with the ``runs`` table on ``run_id``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from consist.domain.errors import InvalidInput, NoActiveTracker, NotFound
from consist.ports import SupportsSQL
from consist.services.current import current_tracker

if TYPE_CHECKING:
    from consist.services.tracker import Tracker

VALUE_COLUMNS = {
    "str": "value_str",
    "int": "value_int",
    "float": "value_float",
    "bool": "value_bool",
    "json": "value_json",
}
# An int/float mix reads both columns as one floating-point value.
NUMBER = "number"
_OWNERS = {"run": ("run_config_kv", "run_id"), "artifact": ("artifact_kv", "artifact_id")}


def pivot_facets(
    tracker: Tracker | None,
    namespace: str,
    keys: Sequence[str],
    value_columns: Mapping[str, str] | None = None,
    *,
    of: str = "run",
    name: str = "facets",
) -> Any:
    """A subquery ``(run_id, <key>, ...)`` over the facets of one namespace.

    Parameters
    ----------
    tracker
        Its catalog must answer SQL (DuckDB or SQLite). ``None`` defers reading
        the stored types (which pick each key's value column) to the tracker
        that runs the statement: ``consist.run_query(..., tracker=...)``.
    namespace
        For run facets the run's model (a scenario step's name); for artifact
        facets the artifact key.
    keys
        Flattened facet keys (``"cost.fuel"`` for ``{"cost": {"fuel": ...}}``).
    value_columns
        ``{key: "value_str"}`` (or ``"str"``) to read a key from one value column
        instead of the one matching its stored type.
    of
        ``"run"`` (``run_config_kv``, id column ``run_id``) or ``"artifact"``
        (``artifact_kv``, id column ``artifact_id``).
    name
        Name of the subquery in the generated SQL.

    Returns
    -------
    sqlalchemy.Subquery
        With ``.c.run_id`` (or ``.c.artifact_id``) and ``.c[key]`` for each key.

    Raises
    ------
    NotFound
        If a key has no value in the namespace (the message lists the keys it has).
    InvalidInput
        For an unknown value column, a key stored with incompatible types (pick
        one with ``value_columns``), or a catalog that cannot answer SQL.
    """
    if of not in _OWNERS:
        raise InvalidInput(f"of= must be 'run' or 'artifact', not {of!r}")
    kv_name, id_name = _OWNERS[of]
    keys = _check_keys(keys, id_name)
    overrides = {key: _column_of(key, column) for key, column in (value_columns or {}).items()}
    stray = sorted(set(overrides) - set(keys))
    if stray:
        raise InvalidInput(f"value_columns names {stray}, which are not among keys {keys}")
    chosen: dict[str, str | None] = {key: overrides.get(key) for key in keys}
    if tracker is not None:
        stored = _stored_types(tracker, kv_name, namespace)
        chosen = {
            key: column or _column_for(key, stored, namespace) for key, column in chosen.items()
        }
    return _statement(kv_name, id_name, namespace, chosen).subquery(name)


def _check_keys(keys: Sequence[str], id_name: str) -> list[str]:
    if isinstance(keys, str):
        keys = [keys]
    keys = list(keys)
    if not keys:
        raise InvalidInput("pivot_facets needs at least one key")
    bad = [k for k in keys if not isinstance(k, str) or not k or k == id_name]
    if bad:
        raise InvalidInput(f"facet keys must be non-empty strings other than {id_name!r}: {bad}")
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise InvalidInput(f"facet keys given twice: {duplicates}")
    return keys


def _column_of(key: str, column: str) -> str:
    name = column if column.startswith("value_") else f"value_{column}"
    if name not in VALUE_COLUMNS.values():
        raise InvalidInput(
            f"value_columns[{key!r}] = {column!r}; choose one of {sorted(VALUE_COLUMNS.values())}"
        )
    return name


def _stored_types(tracker: Tracker, kv_name: str, namespace: str) -> dict[str, set[str]]:
    if not isinstance(tracker.catalog, SupportsSQL):
        raise InvalidInput(
            f"pivot_facets reads the catalog's facet tables, which {type(tracker.catalog).__name__}"
            " cannot query; use a DuckDB or SQLite catalog (db_path=... or catalog='duckdb:///...')"
        )
    table = tracker.sql(
        f"SELECT DISTINCT key, value_type FROM {kv_name} WHERE namespace = ?", [namespace]
    )
    types: dict[str, set[str]] = {}
    for key, value_type in zip(
        table.column("key").to_pylist(), table.column("value_type").to_pylist(), strict=True
    ):
        types.setdefault(str(key), set()).add(str(value_type))
    return types


def _column_for(key: str, stored: Mapping[str, set[str]], namespace: str) -> str:
    if key not in stored:
        known = ", ".join(sorted(stored)) or "(none: no facet was logged in it)"
        raise NotFound(f"no facet key {key!r} in namespace {namespace!r}; its keys are: {known}")
    types = stored[key] - {"null"}
    if not types:
        return "value_str"  # only nulls: any column reads as NULL
    if len(types) == 1:
        return VALUE_COLUMNS[next(iter(types))]
    if types == {"int", "float"}:
        return NUMBER
    raise InvalidInput(
        f"facet key {key!r} in namespace {namespace!r} holds values of types {sorted(types)}; "
        f"choose one with value_columns={{{key!r}: 'value_str'}} (or another value column)"
    )


def _statement(kv_name: str, id_name: str, namespace: str, chosen: Mapping[str, str | None]) -> Any:
    # One LEFT JOIN per key rather than MAX(CASE ...): no aggregate, so every
    # column keeps its catalog type (BOOLEAN, JSON) on every backend.
    try:
        from sqlalchemy import column, select, table
    except ImportError:  # pragma: no cover - sqlalchemy comes with sqlmodel
        raise InvalidInput("pivot_facets needs SQLAlchemy: pip install sqlalchemy") from None

    def kv_table() -> Any:
        columns = [id_name, "namespace", "key", *VALUE_COLUMNS.values()]
        return table(kv_name, *(column(c) for c in columns))

    base = kv_table()
    ids = select(base.c[id_name]).where(base.c.namespace == namespace).distinct().subquery("ids")
    selected = [ids.c[id_name].label(id_name)]
    joined: Any = ids
    for position, (key, value_column) in enumerate(chosen.items()):
        kv = kv_table().alias(f"k{position}")
        joined = joined.outerjoin(
            kv,
            (kv.c[id_name] == ids.c[id_name]) & (kv.c.namespace == namespace) & (kv.c.key == key),
        )
        if value_column is None:
            value = _deferred_value()(kv, kv_name, namespace, key)
        else:
            value = _value(kv, value_column)
        selected.append(value.label(key))
    return select(*selected).select_from(joined)


def _value(kv: Any, value_column: str) -> Any:
    from sqlalchemy import Float, cast, func

    if value_column == NUMBER:
        return func.coalesce(kv.c.value_float, cast(kv.c.value_int, Float))
    return kv.c[value_column]


@functools.cache
def _deferred_value() -> Any:
    """The SQL element of a facet column whose type is read when the statement runs.

    ``pivot_facets`` without a tracker cannot know which value column holds a
    key; ``consist.run_query`` compiles the statement with its tracker active,
    and this element then asks that tracker's catalog. Defined on first use so
    that importing Consist does not import SQLAlchemy.
    """
    from sqlalchemy import String, cast, func
    from sqlalchemy.ext.compiler import compiles
    from sqlalchemy.sql.expression import ColumnElement
    from sqlalchemy.types import NullType

    class FacetValue(ColumnElement[Any]):
        inherit_cache = False  # resolved per compile, against the tracker running it
        type = NullType()

        def __init__(self, kv: Any, kv_name: str, namespace: str, key: str) -> None:
            self.kv, self.kv_name, self.namespace, self.facet_key = kv, kv_name, namespace, key

    @compiles(FacetValue)
    def _compile(element: FacetValue, compiler: Any, **kw: Any) -> str:
        try:
            tracker = current_tracker(None, "consist.run_query")
        except NoActiveTracker:
            # Printed outside run_query: show every value column as text.
            columns = [cast(element.kv.c[c], String) for c in VALUE_COLUMNS.values()]
            return str(compiler.process(func.coalesce(*columns), **kw))
        stored = _stored_types(tracker, element.kv_name, element.namespace)
        column = _column_for(element.facet_key, stored, element.namespace)
        return str(compiler.process(_value(element.kv, column), **kw))

    return FacetValue
