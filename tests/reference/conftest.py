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
