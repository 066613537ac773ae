"""The fuzz suite's Hypothesis profile and its per-catalog summary at the end of the run."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from tests.fuzz.tally import TALLIES

# Fixed examples (derandomize) so a CI failure reproduces locally; no deadline:
# a catalog write may take a while on a busy machine without being a bug.
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("CONSIST_FUZZ_EXAMPLES", "230")),
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    # No "explain" phase: it re-runs a failing example many times, and this
    # world is stateful (a replay meets the runs of earlier examples).
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLIES:
        return
    terminalreporter.section("fuzz: calls into the public API, per catalog")
    for catalog, tally in sorted(TALLIES.items()):
        terminalreporter.write_line(tally.summary(catalog))


@pytest.fixture
def fuzz_settings() -> Any:
    return settings.get_profile("fuzz")
