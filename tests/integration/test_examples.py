"""The runnable examples under docs/examples/ do what their docstrings say."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def test_travel_demand_example_second_pass_calls_no_model(tmp_path: Path) -> None:
    """The sweep runs every model once; the same study again is all cache hits."""
    example = runpy.run_path(str(EXAMPLES / "travel_demand_scenario.py"))
    result = example["main"](tmp_path)
    first, second = result["passes"]
    # One population and one skim per year are shared by every fuel price; mode
    # choice runs per (fuel price, year).
    assert first["calls"] == 1 + 3 + 3 * 3
    assert first["hits"]["fuel_1_5"] == [False] * 7
    assert first["hits"]["fuel_2_5"] == [True, True, False, True, False, True, False]
    assert second["calls"] == 0
    assert all(all(flags) for flags in second["hits"].values())
    shares = result["car_share"]
    assert len(shares) == 9
    assert sorted(set(shares["scenario"])) == ["fuel_1_5", "fuel_2_5", "fuel_3_5"]
    by_price = shares.groupby("fuel_price")["car_share"].mean()
    assert by_price.is_monotonic_decreasing  # dearer fuel, fewer car trips


def test_travel_demand_example_runs_as_a_script(tmp_path: Path) -> None:
    """``python docs/examples/travel_demand_scenario.py WORKDIR`` exits 0 and reports."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "travel_demand_scenario.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "pass 2: 0 model calls" in done.stdout
    assert (tmp_path / "provenance.duckdb").exists()
