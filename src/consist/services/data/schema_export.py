"""Schema export: an editable pydantic (or SQLModel) class from a key's observed columns.

The columns come from the ingested table when the key was ingested, else from
the schema profile the catalog keeps (``log_artifact(profile_file_schema=True)``,
the ``file_schemas`` table), else from the newest file's own header.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from typing import TYPE_CHECKING

from consist.domain.errors import InvalidInput, NotFound
from consist.domain.sql_names import (
    quote_identifier,
    table_name_for_key,
    validate_view_name,
)
from consist.services.data.hybrid_views import SYSTEM_COLUMNS
from consist.services.data.ingestion import ingestions

if TYPE_CHECKING:
    from consist.services.data.tracker_data import DataVirtualization

__all__ = ["export_schema", "observed_columns", "render_model"]

_NOT_WORD = re.compile(r"[^0-9a-zA-Z_]+")
# Names pydantic reserves or warns about on a BaseModel (and SQLModel's own).
_RESERVED = {"model_config", "model_fields", "schema", "json", "dict", "copy", "construct",
             "validate", "fields", "metadata", "registry"}  # fmt: skip
_TYPES = [
    (("BOOL",), "bool"),
    (("INT", "UINT", "HUGEINT", "BIGINT", "SMALLINT", "TINYINT"), "int"),
    (("DOUBLE", "FLOAT", "REAL", "HALF_FLOAT"), "float"),
    (("DECIMAL",), "Decimal"),
    (("TIMESTAMP", "DATETIME"), "datetime"),
    (("DATE",), "date"),
    (("TIME",), "time"),
    (("VARCHAR", "STRING", "LARGE_STRING", "UTF8", "TEXT"), "str"),
    (("BLOB", "BINARY", "LARGE_BINARY"), "bytes"),
]


def python_type(column_type: str | None) -> str:
    """A Python annotation for a DuckDB or Arrow type name (``Any`` when unknown)."""
    upper = (column_type or "").upper()
    for prefixes, name in _TYPES:
        if any(upper.startswith(p) for p in prefixes):
            return name
    return "Any"


def observed_columns(dv: DataVirtualization, key: str) -> tuple[list[tuple[str, str]], str]:
    """The ``(name, type)`` columns seen for ``key`` and where they were seen.

    Raises
    ------
    NotFound
        Nothing is known about ``key``'s columns.
    """
    store = dv.tables
    if store is not None:
        found = [i for i in ingestions(store) if i.key == key]
        if found:
            newest = max(found, key=lambda i: i.ingested_at)
            table = quote_identifier(validate_view_name(newest.table))
            described = store.query(f"DESCRIBE SELECT * FROM {table}").to_pylist()
            types = {r["column_name"]: r["column_type"] for r in described}
            names = [c for f in found for c in f.columns]
            ordered = list(dict.fromkeys(c for c in names if c not in SYSTEM_COLUMNS))
            return [(c, types.get(c, "")) for c in ordered], f"ingested table {newest.table}"
    artifacts = sorted(dv.find_artifacts(key=key), key=lambda a: a.created_at, reverse=True)
    for artifact in artifacts:
        profile = artifact.meta.get("file_schema")
        if isinstance(profile, list | tuple) and profile:
            return [(str(c["name"]), str(c.get("type"))) for c in profile], "file schema profile"
    for artifact in artifacts:
        if artifact.driver not in ("parquet", "csv"):
            continue
        try:
            path = dv.artifact_path(artifact)
        except NotFound:
            continue
        from consist.services.data.table_files import profile_schema

        profile = profile_schema(path, artifact.driver, None)
        return [(c["name"], c["type"]) for c in profile], f"file {path.name}"
    raise NotFound(
        f"nothing is known about the columns of {key!r}: ingest it (tracker.ingest), log it "
        "with profile_file_schema=True, or keep one of its Parquet/CSV files"
    )


def _identifier(name: str, taken: set[str]) -> str:
    ident = _NOT_WORD.sub("_", name).strip("_").lower() or "column"
    if ident[0].isdigit():
        ident = "col_" + ident
    if keyword.iskeyword(ident) or ident in _RESERVED or ident.startswith("model_"):
        ident += "_"
    base, n = ident, 2
    while ident in taken:
        ident, n = f"{base}_{n}", n + 1
    taken.add(ident)
    return ident


def _class_name(key: str) -> str:
    words = [w for w in _NOT_WORD.sub(" ", key).split() if w]
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Exported"
    return name if name[0].isalpha() else "T" + name


def render_model(
    key: str, columns: list[tuple[str, str]], source: str, *, sqlmodel: bool = False
) -> str:
    """Python source of a class with one optional field per column.

    Awkward column names get valid identifiers and keep their own name as
    the field's alias (``Field(alias=...)``), so data keyed by the original
    names validates unchanged.
    """
    class_name = _class_name(key)
    tablename = key if validate_key_is_plain(key) else table_name_for_key(key)
    taken: set[str] = set()
    lines: list[str] = []
    types: set[str] = set()
    pk_done = False
    for name, column_type in columns:
        ident = _identifier(name, taken)
        annotation = python_type(column_type)
        types.add(annotation)
        args = ["default=None"]
        if ident != name:
            args.append(f"alias={name!r}")
            if sqlmodel:
                args.append(f"sa_column_kwargs={{'name': {name!r}}}")
        if sqlmodel and not pk_done and (ident == "id" or ident.endswith("_id")):
            args.append("primary_key=True")
            pk_done = True
        comment = f"  # observed: {column_type}" if column_type else ""
        lines.append(f"    {ident}: {annotation} | None = Field({', '.join(args)}){comment}")
    imports = ["from __future__ import annotations", ""]
    stdlib = {"datetime": "datetime", "date": "datetime", "time": "datetime", "Decimal": "decimal"}
    for module in sorted({stdlib[t] for t in types if t in stdlib}):
        names = sorted(t for t in types if stdlib.get(t) == module)
        imports.append(f"from {module} import {', '.join(names)}")
    if "Any" in types:
        imports.append("from typing import Any")
    if sqlmodel:
        imports += ["", "from pydantic import ConfigDict", "from sqlmodel import Field, SQLModel"]
        table = "table=True" if pk_done else ""
        header = f"class {class_name}(SQLModel{', ' + table if table else ''}):"
        extra = [f"    __tablename__ = {tablename!r}"]
        if not pk_done:
            extra.insert(
                0, "    # No id-like column was seen: mark a primary key, then add table=True."
            )
    else:
        imports += ["", "from pydantic import BaseModel, ConfigDict, Field"]
        header = f"class {class_name}(BaseModel):"
        extra = [f"    __tablename__ = {tablename!r}  # the artifact key views match"]
    body = [
        header,
        f'    """Columns of {key!r} as observed ({source}). Edit freely: tighten types,',
        '    drop "| None", add constraints, then register it with Tracker(schemas=[...])."""',
        "",
        *extra,
        "    model_config = ConfigDict(populate_by_name=True)",
        "",
        *lines,
    ]
    header_doc = f'"""Schema of artifact {key!r}, exported by Consist."""'
    return "\n".join([header_doc, "", *imports, "", "", *body, ""])


def validate_key_is_plain(key: str) -> bool:
    """True if ``key`` is a plain identifier that can be a table name as it is."""
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) is not None


def export_schema(
    dv: DataVirtualization, key: str, path: str | Path | None = None, sqlmodel: bool = False
) -> str:
    """Python source of a model for ``key``; also written to ``path`` when given."""
    if not isinstance(key, str) or not key:
        raise InvalidInput("export_schema needs an artifact key")
    columns, source = observed_columns(dv, key)
    source_text = render_model(key, columns, source, sqlmodel=sqlmodel)
    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source_text)
    return source_text
