"""Canonical JSON: one encoding per meaning, clear errors for the rest."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import math
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from consist.domain import canonical
from consist.domain.errors import ConfigNotSerializable

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_key_order_never_changes_the_digest(mapping: dict) -> None:
    """Two dicts with the same items hash alike whatever their insertion order."""
    reordered = dict(reversed(list(mapping.items())))
    assert canonical.digest(mapping) == canonical.digest(reordered)


@given(st.integers(min_value=-(2**53), max_value=2**53))
def test_integral_floats_hash_like_ints(number: int) -> None:
    """1 and 1.0 are the same configuration value."""
    assert canonical.digest({"x": number}) == canonical.digest({"x": float(number)})


@given(json_values)
def test_canonical_text_round_trips_to_an_equal_normal_form(value: object) -> None:
    """Parsing the canonical text and encoding it again gives the same text."""
    text = canonical.dumps(value)
    assert canonical.dumps(json.loads(text)) == text


@given(json_values)
def test_normalize_is_idempotent(value: object) -> None:
    once = canonical.normalize(value)
    assert canonical.normalize(once) == once


def test_bool_is_not_an_int() -> None:
    assert canonical.digest({"x": True}) != canonical.digest({"x": 1})


def test_fractional_floats_stay_floats() -> None:
    assert canonical.dumps({"x": 0.5}) == '{"x":0.5}'


class Mode(enum.Enum):
    FAST = "fast"


class Inner(BaseModel):
    path: Path
    when: dt.datetime


class Outer(BaseModel):
    name: str
    inner: Inner
    rate: float = 2.0


def test_pydantic_models_dump_in_json_mode_and_match_dicts() -> None:
    when = dt.datetime(2030, 1, 1, 12, 0)
    model = Outer(name="a", inner=Inner(path=Path("/x/y"), when=when))
    as_dict = {"name": "a", "rate": 2, "inner": {"path": "/x/y", "when": when}}
    assert canonical.digest(model) == canonical.digest(as_dict)


def test_standard_types_are_deterministic() -> None:
    @dataclass
    class DC:
        a: int

    @attrs.define
    class AC:
        b: str

    value = {
        "path": PurePosixPath("a/b"),
        "date": dt.date(2030, 1, 2),
        "mode": Mode.FAST,
        "ids": {3, 1, 2},
        "frozen": frozenset({"b", "a"}),
        "tuple": (1, 2),
        "uuid": uuid.UUID(int=1),
        "dec": decimal.Decimal("2.50"),
        "decint": decimal.Decimal("3.0"),
        "dc": DC(1),
        "ac": AC("x"),
        5: "int key",
    }
    assert json.loads(canonical.dumps(value)) == {
        "path": "a/b",
        "date": "2030-01-02",
        "mode": "fast",
        "ids": [1, 2, 3],
        "frozen": ["a", "b"],
        "tuple": [1, 2],
        "uuid": "00000000-0000-0000-0000-000000000001",
        "dec": 2.5,
        "decint": 3,
        "dc": {"a": 1},
        "ac": {"b": "x"},
        "5": "int key",
    }


@pytest.mark.parametrize(
    ("value", "key_path"),
    [
        ({"solver": {"callback": print}}, "config.solver.callback"),
        ({"items": [1, object()]}, "config.items[1]"),
        ({"x": math.nan}, "config.x"),
        ({"x": math.inf}, "config.x"),
        ({"x": b"bytes"}, "config.x"),
    ],
)
def test_unserialisable_values_name_their_key_path(value: object, key_path: str) -> None:
    """The error says exactly which value to fix."""
    with pytest.raises(ConfigNotSerializable) as raised:
        canonical.dumps(value)
    assert raised.value.key_path == key_path
    assert key_path in str(raised.value)
    assert isinstance(raised.value, TypeError)


def test_colliding_keys_are_refused() -> None:
    """{1: a, "1": b} would silently lose a value; refuse it instead."""
    with pytest.raises(ConfigNotSerializable):
        canonical.dumps({1: "a", "1": "b"})
