"""Strict-mode validation against pydantic / SQLModel models, and their Arrow schemas."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import pyarrow as pa
import pytest
from pydantic import BaseModel, ConfigDict
from sqlmodel import Field, SQLModel

from consist.domain.errors import InvalidInput, SchemaValidationError
from consist.services.data.validation import arrow_schema_for, validate_rows


class Person(BaseModel):
    person_id: int
    age: int
    name: str | None = None


class Household(SQLModel, table=True):
    __tablename__ = "test_validation_household"
    id: int | None = Field(default=None, primary_key=True)
    size: int
    income: float


class Mode(enum.StrEnum):
    car = "car"
    bus = "bus"


class Everything(BaseModel):
    i: int
    f: float
    s: str
    b: bool
    when: dt.datetime
    day: dt.date
    maybe: int | None
    mode: Mode


def test_fitting_rows_pass_silently() -> None:
    rows = pa.table({"person_id": [1, 2], "age": [30, 40], "consist_run_id": ["r", "r"]})
    assert validate_rows(rows, Person) is None
    assert validate_rows([{"person_id": 1, "age": 3}], Person) is None


def test_bad_row_is_named_by_index_field_and_value() -> None:
    rows = pa.table({"person_id": [1, 2, 3], "age": ["30", "forty", "50"]})
    with pytest.raises(SchemaValidationError) as caught:
        validate_rows(rows, Person)
    err = caught.value
    assert (err.row_index, err.field, err.value) == (1, "age", "forty")
    assert "row 1" in str(err) and "'age'" in str(err) and "'forty'" in str(err)
    assert isinstance(err, InvalidInput) and isinstance(err, ValueError)


def test_missing_required_field_is_reported() -> None:
    with pytest.raises(SchemaValidationError, match="row 0: field 'age'"):
        validate_rows([{"person_id": 1}], Person)


def test_sqlmodel_table_classes_are_really_validated() -> None:
    """SQLModel table=True skips validation in __init__; model_validate must still catch this."""
    validate_rows([{"size": 2, "income": 10.5}], Household)
    with pytest.raises(SchemaValidationError, match="'size'"):
        validate_rows([{"size": 2, "income": 1.0}, {"size": "big", "income": 1.0}], Household)


def test_strict_mode_refuses_coercion() -> None:
    validate_rows([{"person_id": 1, "age": "30"}], Person)
    with pytest.raises(SchemaValidationError, match="'age'"):
        validate_rows([{"person_id": 1, "age": "30"}], Person, strict=True)


def test_model_forbidding_extra_fields_refuses_extra_columns() -> None:
    class Closed(BaseModel):
        model_config = ConfigDict(extra="forbid")
        a: int

    with pytest.raises(SchemaValidationError, match="'b'"):
        validate_rows([{"a": 1, "b": 2}], Closed)


def test_late_bad_row_in_a_large_table_is_found() -> None:
    ages: list[Any] = list(range(200_000))
    ages[199_999] = -1
    rows = pa.table({"person_id": list(range(200_000)), "age": ages})

    class Adult(BaseModel):
        person_id: int
        age: int

        def model_post_init(self, _: Any) -> None:
            if self.age < 0:
                raise ValueError("age must not be negative")

    with pytest.raises(SchemaValidationError, match="row 199999"):
        validate_rows(rows, Adult)


@pytest.mark.parametrize("rows", ["text", 42, {"a": 1}, [1, 2]])
def test_unreadable_rows_are_invalid_input(rows: Any) -> None:
    with pytest.raises(InvalidInput):
        validate_rows(rows, Person)


def test_arrow_schema_maps_every_supported_type() -> None:
    schema = arrow_schema_for(Everything)
    assert schema == pa.schema(
        [
            pa.field("i", pa.int64(), nullable=False),
            pa.field("f", pa.float64(), nullable=False),
            pa.field("s", pa.string(), nullable=False),
            pa.field("b", pa.bool_(), nullable=False),
            pa.field("when", pa.timestamp("us"), nullable=False),
            pa.field("day", pa.date32(), nullable=False),
            pa.field("maybe", pa.int64(), nullable=True),
            pa.field("mode", pa.string(), nullable=False),
        ]
    )


def test_arrow_schema_of_sqlmodel_class() -> None:
    assert arrow_schema_for(Household) == pa.schema(
        [
            pa.field("id", pa.int64(), nullable=True),
            pa.field("size", pa.int64(), nullable=False),
            pa.field("income", pa.float64(), nullable=False),
        ]
    )


def test_validated_rows_cast_to_the_schema() -> None:
    """The schema is usable: rows that validate can be cast to it."""
    rows = pa.table({"person_id": [1], "age": [30], "name": [None]})
    validate_rows(rows, Person)
    assert rows.cast(arrow_schema_for(Person)).num_rows == 1


def test_unmappable_field_type_is_named() -> None:
    class Odd(BaseModel):
        tags: list[str]

    with pytest.raises(InvalidInput, match=r"Odd\.tags"):
        arrow_schema_for(Odd)


def test_union_of_two_types_is_refused() -> None:
    class Either(BaseModel):
        x: int | str

    with pytest.raises(InvalidInput, match=r"Either\.x"):
        arrow_schema_for(Either)
