"""File drivers: the name (``parquet``, ``csv``, ``zarr`` ...) an artifact's file suffix implies."""

from __future__ import annotations

from pathlib import Path

_SUFFIX_DRIVERS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".feather": "feather",
    ".arrow": "feather",
    ".ipc": "feather",
    ".zarr": "zarr",
    ".nc": "netcdf",
    ".nc4": "netcdf",
    ".netcdf": "netcdf",
    ".h5": "h5",
    ".hdf5": "h5",
    ".hdf": "h5",
    ".npy": "npy",
}
DRIVERS = (*sorted(set(_SUFFIX_DRIVERS.values())), "directory", "other")


def infer_driver(path: Path) -> str:
    """Driver from the suffix (``.zarr`` directories too); else ``directory`` or ``other``."""
    suffixes = [s.lower() for s in path.suffixes]
    for suffix in reversed(suffixes):
        if suffix in _SUFFIX_DRIVERS:
            return _SUFFIX_DRIVERS[suffix]
    if path.is_dir():
        return "directory"
    return "other"
