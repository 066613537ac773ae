"""The reference suite: the examples of ../shared/reference/ run as written.

Each test runs in its own empty working directory (``workdir``), as a user who
copied the example into a fresh script would. Fixtures here supply only the
context an example assumes (the CSV it reads, a DataFrame it names); the calls
themselves stay exactly as the documents write them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty folder that is the working directory, as for a fresh script."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.fixture(autouse=True)
def _sqlmodel_tables_per_example() -> Iterator[None]:
    """Several documents define ``class Person(SQLModel, table=True)``, and SQLModel keeps
    one global table registry: each example starts with it empty, as a fresh script does,
    and the tables defined before (at import) are put back afterwards."""
    from sqlmodel import SQLModel

    metadata = SQLModel.metadata
    before = list(metadata.tables.values())
    metadata.clear()
    yield
    metadata.clear()
    for table in before:
        metadata._add_table(table.name, table.schema, table)
