"""Trackers over every catalog adapter, for the integration tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import consist

CATALOGS = {
    "memory": "memory://",
    "duckdb": "duckdb:///{tmp}/catalog/provenance.duckdb",
    "sqlite": "sqlite:///{tmp}/catalog/provenance.sqlite",
}


@pytest.fixture(params=sorted(CATALOGS))
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    (tmp_path / "catalog").mkdir(exist_ok=True)
    return CATALOGS[request.param].format(tmp=tmp_path)


@pytest.fixture
def make_tracker(tmp_path: Path, catalog_url: str) -> Iterator[Callable[..., Any]]:
    """Build trackers on one run directory and one catalog; all closed at the end."""
    made: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("catalog", catalog_url)
        options.setdefault("code_identity", "function")
        tracker = consist.Tracker(options.pop("run_dir", tmp_path / "runs"), **options)
        made.append(tracker)
        return tracker

    yield make
    for tracker in made:
        tracker.close()


@pytest.fixture
def tracker(make_tracker: Callable[..., Any]) -> Any:
    return make_tracker()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "raw.csv").write_text("value,group\n0.1,a\n0.6,b\n0.9,a\n")
    return folder
