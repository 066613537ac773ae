"""`import consist` stays light: heavy libraries load only when first used."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "pandas",
    "pyarrow",
    "duckdb",
    "xarray",
    "zarr",
    "docker",
    "s3fs",
    "polars",
    "numpy",
    "sqlite_utils",
    "fsspec",
    "sqlalchemy",
]


def test_import_consist_loads_no_heavy_library() -> None:
    probe = (
        "import sys, json, consist; "
        "[getattr(consist, n) for n in consist.__all__]; "
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
