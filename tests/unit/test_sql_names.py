"""Identifier and literal quoting: any text names exactly itself, never runs as SQL."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consist.domain.errors import UnsafeIdentifier
from consist.domain.sql_names import (
    quote_identifier,
    quote_literal,
    table_name_for_key,
    validate_view_name,
)

NASTY = 'x"; DROP TABLE runs; --'
# Text DuckDB can store: no NUL, no lone surrogates (quote_identifier refuses both).
names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1
)


@settings(max_examples=200, deadline=None)
@given(name=names)
def test_any_quoted_name_creates_exactly_that_one_table(name: str) -> None:
    sentinel = "other" if name.lower() == "runs" else "runs"
    con = duckdb.connect()
    con.execute(f"CREATE TABLE {sentinel} (x INTEGER)")
    con.execute(f"CREATE TABLE {quote_identifier(name)} (v INTEGER)")
    con.execute(f"INSERT INTO {quote_identifier(name)} VALUES (1)")
    listed = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert listed == {sentinel, name}
    assert con.execute(f"SELECT v FROM {quote_identifier(name)}").fetchall() == [(1,)]
    con.close()


@settings(max_examples=200, deadline=None)
@given(value=names | st.just(""))
def test_any_quoted_literal_reads_back_as_itself(value: str) -> None:
    con = duckdb.connect()
    assert con.execute(f"SELECT {quote_literal(value)}").fetchone() == (value,)
    con.close()


@settings(max_examples=300, deadline=None)
@given(key=st.text(min_size=1))
def test_table_name_for_any_key_is_a_valid_view_name_and_stable(key: str) -> None:
    name = table_name_for_key(key)
    assert validate_view_name(name) == name
    assert name == name.lower()
    assert table_name_for_key(key) == name


@settings(max_examples=300, deadline=None)
@given(a=st.text(min_size=1), b=st.text(min_size=1))
def test_different_keys_get_different_table_names(a: str, b: str) -> None:
    if a != b:
        assert table_name_for_key(a) != table_name_for_key(b)


def test_plain_lower_case_key_is_its_own_table_name() -> None:
    assert table_name_for_key("persons") == "persons"


def test_keys_differing_only_in_case_get_different_names() -> None:
    """DuckDB folds case, so 'Persons' must not land in the 'persons' table."""
    assert table_name_for_key("Persons") != table_name_for_key("persons")
    assert table_name_for_key("Persons").lower() != "persons"


def test_hostile_key_becomes_a_sanitised_name_with_hash() -> None:
    name = table_name_for_key(NASTY)
    assert name.startswith("x_drop_table_runs__")
    assert len(name) == len("x_drop_table_runs__") + 12


def test_key_starting_with_a_digit_gets_a_prefix() -> None:
    assert validate_view_name(table_name_for_key("2030 persons")).startswith("t_2030_persons__")


@pytest.mark.parametrize("bad", ["", "1abc", "a-b", "a b", NASTY, "a\n", "é", "a;"])
def test_validate_view_name_refuses_and_names_unsafe_text(bad: str) -> None:
    with pytest.raises(UnsafeIdentifier, match="not a safe"):
        validate_view_name(bad)


@pytest.mark.parametrize("bad", ["", "a\x00b", "\ud800"])
def test_quote_identifier_refuses_unstorable_names(bad: str) -> None:
    with pytest.raises(UnsafeIdentifier):
        quote_identifier(bad)


def test_quote_identifier_doubles_inner_quotes() -> None:
    assert quote_identifier('a"b') == '"a""b"'
    assert quote_literal("it's") == "'it''s'"
