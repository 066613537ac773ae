"""The container tests use the shared Docker engine fixture from tests/support."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest runs in importlib mode, which puts nothing on sys.path; the shared
# support package lives at the repository root, three levels up.
_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


def pytest_configure(config: pytest.Config) -> None:
    # What `pytest_plugins` in tests/conftest.py does, which pytest honours only in
    # top-level conftests; a no-op when that one has registered it already, so a
    # whole-suite run still has one fixture and at most one private dockerd.
    config.pluginmanager.import_plugin("tests.support.docker_engine")
