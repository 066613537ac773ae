"""Strict-mode ingestion: rows checked against a pydantic or SQLModel model; its Arrow schema."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from consist.domain.errors import InvalidInput, SchemaColumnError, SchemaValidationError

__all__ = ["arrow_schema_for", "check_columns", "validate_rows"]

SYSTEM_PREFIX = "consist_"

_BATCH_ROWS = 65_536


def _rows_of(data: Any) -> Iterator[Mapping[str, Any]]:
    """Rows as dicts, an Arrow batch at a time so a large table is never all in Python at once."""
    if hasattr(data, "to_batches"):
        for batch in data.to_batches(max_chunksize=_BATCH_ROWS):
            yield from batch.to_pylist()
    elif hasattr(data, "__arrow_c_stream__"):
        import pyarrow as pa

        yield from _rows_of(pa.table(data))
    elif isinstance(data, Iterable) and not isinstance(data, str | bytes | Mapping):
        for row in data:
            if not isinstance(row, Mapping):
                raise InvalidInput(f"rows must be mappings of column to value, got {type(row)}")
            yield row
    else:
        raise InvalidInput(
            f"cannot read rows from {type(data).__name__}; pass a pyarrow.Table, "
            "an Arrow stream (polars, pandas via pyarrow) or a list of dicts"
        )


def validate_rows(rows: Any, model: type[Any], *, strict: bool = False) -> None:
    """Check every row against ``model``; return nothing when all fit.

    Stops at the first row that does not fit. Writing nothing when this
    raises is the caller's job: validate before calling ``write_rows``.
    Columns the model does not declare (the ``consist_*`` system columns, for
    one) are ignored unless the model forbids extra fields.

    Parameters
    ----------
    rows
        A ``pyarrow.Table`` or ``RecordBatch``, anything exporting an Arrow
        stream, or an iterable of dicts.
    model
        A pydantic model class, SQLModel table classes included (validated with
        ``model.model_validate``, which SQLModel's ``__init__`` skips).
    strict
        Use pydantic's strict mode (no ``"5"`` -> ``5`` coercion).

    Raises
    ------
    SchemaValidationError
        A row does not fit; the error names the row index, field and value.
    InvalidInput
        ``rows`` is not something rows can be read from.
    """
    from pydantic import ValidationError

    name = getattr(model, "__name__", repr(model))
    for index, row in enumerate(_rows_of(rows)):
        try:
            model.model_validate(row, strict=strict)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "(row)"
            value = row.get(str(first["loc"][0])) if first["loc"] else row
            raise SchemaValidationError(index, field, value, first["msg"], name) from None


def _arrow_type(annotation: Any, where: str) -> tuple[Any, bool]:
    """The Arrow type of one annotation, and whether it admits None."""
    import pyarrow as pa

    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            raise InvalidInput(
                f"{where}: a union of {members} has no single Arrow type; use one type or X | None"
            )
        arrow_type, _ = _arrow_type(members[0], where)
        return arrow_type, True
    if origin is typing.Annotated:
        return _arrow_type(typing.get_args(annotation)[0], where)
    # bool before int, datetime before date: each is a subclass of the other.
    simple: list[tuple[type[Any], Any]] = [
        (bool, pa.bool_()),
        (int, pa.int64()),
        (float, pa.float64()),
        (str, pa.string()),
        (bytes, pa.binary()),
        (dt.datetime, pa.timestamp("us")),
        (dt.date, pa.date32()),
        (dt.time, pa.time64("us")),
        (decimal.Decimal, pa.decimal128(38, 10)),
    ]
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            base = pa.string() if issubclass(annotation, str) else pa.int64()
            if not issubclass(annotation, str | int):
                raise InvalidInput(f"{where}: enum {annotation.__name__} must subclass str or int")
            return base, False
        for py_type, arrow_type in simple:
            if issubclass(annotation, py_type):
                return arrow_type, False
    raise InvalidInput(
        f"{where}: type {annotation!r} has no Arrow column type; use int, float, str, bool, "
        "bytes, datetime, date, time, Decimal, a str/int Enum, or one of these | None"
    )


def arrow_schema_for(model: type[Any]) -> Any:
    """The ``pyarrow.Schema`` of a pydantic (or SQLModel) model's fields, in declaration order.

    ``X | None`` fields are nullable; others are not. ``datetime`` maps to
    ``timestamp[us]`` and ``Decimal`` to ``decimal128(38, 10)``.

    Raises
    ------
    InvalidInput
        A field's type has no Arrow counterpart; the message names the field.
    """
    import pyarrow as pa

    name = getattr(model, "__name__", repr(model))
    fields = []
    for field_name, info in model.model_fields.items():
        arrow_type, nullable = _arrow_type(info.annotation, f"{name}.{field_name}")
        fields.append(pa.field(field_name, arrow_type, nullable=nullable))
    return pa.schema(fields)


def check_columns(table: Any, model: type[Any]) -> None:
    """Check an Arrow table's columns against ``model``'s fields, a column at a time.

    Every column must be a field of the model (``consist_*`` system columns
    aside), every required field must be a column, and each column's values
    must convert to the field's Arrow type without loss (``3.5`` is not an int)
    and hold no nulls unless the field admits None. Fields whose type has no
    Arrow counterpart are left to :func:`validate_rows`.

    Raises
    ------
    SchemaColumnError
        Naming the first column that does not fit.
    """
    import pyarrow as pa

    name = getattr(model, "__name__", repr(model))
    fields = getattr(model, "model_fields", None)
    if not isinstance(fields, Mapping):
        raise InvalidInput(f"schema={name} is not a pydantic or SQLModel class")
    declared = {field for field in fields} | {
        info.alias for info in fields.values() if isinstance(info.alias, str)
    }
    for column in table.column_names:
        if column not in declared and not column.startswith(SYSTEM_PREFIX):
            raise SchemaColumnError(column, "is not a field", name)
    for field, info in fields.items():
        column = field if field in table.column_names else info.alias
        if column not in table.column_names:
            if info.is_required():
                raise SchemaColumnError(field, "is required but missing", name)
            continue
        try:
            wanted, nullable = _arrow_type(info.annotation, f"{name}.{field}")
        except InvalidInput:
            continue
        values = table.column(column)
        if values.null_count and not nullable:
            raise SchemaColumnError(
                column, f"holds {values.null_count} null(s) for a required", name
            )
        if values.type == wanted:
            continue
        try:
            values.cast(wanted, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise SchemaColumnError(
                column, f"holds {values.type} values that are not {wanted} ({exc})", name
            ) from None
