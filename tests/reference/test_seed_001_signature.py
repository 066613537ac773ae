"""seed-001-architecture.md, the signature table (code, config and input hash): what each
part's "Notes" column promises, one row each. The code-hash row (git commit, ``-dirty-``)
runs in a real repository in ``test_seed_001_caching.py``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from consist import Tracker


class Scenario(BaseModel):
    speed: int
    modes: list[str]


def _echo(config: Any = None) -> Path:
    path = Path("out.txt")
    path.write_text("same bytes every time")
    return path


def key_order(tracker: Any) -> None:
    """Config: normalised for key order."""
    tracker.run(_echo, config={"a": 1, "b": {"x": 1, "y": 2}})
    assert tracker.run(_echo, config={"b": {"y": 2, "x": 1}, "a": 1}).cache_hit


def numeric_types(tracker: Any) -> None:
    """Config: normalised for numeric types (1 == 1.0)."""
    tracker.run(_echo, config={"scale": 1, "rate": 2.0})
    assert tracker.run(_echo, config={"scale": 1.0, "rate": 2}).cache_hit
    assert not tracker.run(_echo, config={"scale": 1.5, "rate": 2}).cache_hit


def pydantic_model(tracker: Any) -> None:
    """Config: a pydantic model serialises deterministically (as its JSON-mode dump)."""
    tracker.run(_echo, config=Scenario(speed=2, modes=["car", "bus"]))
    assert tracker.run(_echo, config=Scenario(speed=2, modes=["car", "bus"])).cache_hit
    assert tracker.run(_echo, config={"modes": ["car", "bus"], "speed": 2}).cache_hit
    assert not tracker.run(_echo, config=Scenario(speed=3, modes=["car", "bus"])).cache_hit


def merkle_linking(tracker: Any) -> None:
    """Input of a Consist artifact: the producing run's signature, not the bytes."""

    def prepare(config: Any = None) -> Path:
        path = Path("prepared.csv")
        path.write_text("zone\n1\n")  # the same bytes whatever the config
        return path

    def use(prepared: Path) -> Path:
        path = Path("used.csv")
        path.write_text(Path(prepared).read_text())
        return path

    up = tracker.run(prepare, config={"label": "a"}, outputs=["prepared"])
    first = tracker.run(use, inputs={"prepared": up.outputs["prepared"]}, load_inputs=False)
    assert tracker.run(
        use, inputs={"prepared": up.outputs["prepared"]}, load_inputs=False
    ).cache_hit
    up2 = tracker.run(prepare, config={"label": "b"}, outputs=["prepared"])
    assert up2.outputs["prepared"].hash == up.outputs["prepared"].hash  # identical bytes
    second = tracker.run(use, inputs={"prepared": up2.outputs["prepared"]}, load_inputs=False)
    assert not second.cache_hit  # a different producing run: a different input identity
    assert first.run.signature.input_hash != second.run.signature.input_hash


def raw_file_bytes(tracker: Any) -> None:
    """Input of a raw file, hashing_strategy="full": its bytes (a new mtime alone is a hit)."""
    raw = Path("raw.csv")
    raw.write_text("zone\n1\n")
    tracker.run(_echo, inputs={"raw": raw}, load_inputs=False)
    os.utime(raw, (1_000_000_000, 1_000_000_000))
    assert tracker.run(_echo, inputs={"raw": raw}, load_inputs=False).cache_hit
    raw.write_text("zone\n2\n")
    assert not tracker.run(_echo, inputs={"raw": raw}, load_inputs=False).cache_hit


def raw_file_metadata(tracker: Any) -> None:
    """Input of a raw file, hashing_strategy="fast": its metadata (size + mtime)."""
    fast = Tracker(run_dir="./fast-runs", db_path="./fast.duckdb", hashing_strategy="fast")
    raw = Path("raw.csv")
    raw.write_text("zone\n1\n")
    fast.run(_echo, inputs={"raw": raw}, load_inputs=False)
    assert fast.run(_echo, inputs={"raw": raw}, load_inputs=False).cache_hit
    os.utime(raw, (1_000_000_000, 1_000_000_000))  # same bytes, other metadata
    assert not fast.run(_echo, inputs={"raw": raw}, load_inputs=False).cache_hit
    fast.close()


@pytest.mark.parametrize(
    "row",
    [key_order, numeric_types, pydantic_model, merkle_linking, raw_file_bytes, raw_file_metadata],
    ids=lambda f: f.__name__,
)
def test_signature_components(workdir: Path, row: Callable[[Any], None]) -> None:
    """Table of the signature's parts: config hash and input hash as the Notes describe."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    row(tracker)
    tracker.close()
