"""Step functions for the URL-artifact fan-out tests, importable by Dask worker processes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def scale_zones(zones: Any, config: dict[str, Any], output_paths: dict[str, Path]) -> None:
    """Write the zones table with ``pop`` times ``config["factor"]`` to the ``out`` output,
    noting the worker's pid in a column."""
    scaled = zones.assign(pop=zones["pop"] * config["factor"], pid=os.getpid())
    scaled.to_parquet(output_paths["out"], index=False)
