"""The container tests use the shared Docker engine fixture from tests/support."""

from __future__ import annotations

import sys
from pathlib import Path

# pytest runs in importlib mode, which puts nothing on sys.path; the shared
# support package lives at the repository root, three levels up.
_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.support.docker_engine import (  # noqa: E402
    docker_engine,
    pytest_terminal_summary,
)

__all__ = ["docker_engine", "pytest_terminal_summary"]
