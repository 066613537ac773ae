"""Readers by driver: turn an artifact's file into a DataFrame or a Dataset.

Heavy libraries (pandas, pyarrow, xarray) are imported only when a file of
their kind is read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from consist.domain.errors import InvalidInput
from consist.services.data.drivers import DRIVERS, infer_driver

__all__ = ["DRIVERS", "infer_driver", "read"]


def _parquet(path: Path, **kw: Any) -> Any:
    from consist.services.data.frames import read_parquet

    return read_parquet(path, **kw)


def _csv(path: Path, **kw: Any) -> Any:
    import pandas as pd

    if path.suffix.lower() == ".tsv":
        kw.setdefault("sep", "\t")
    return pd.read_csv(path, **kw)


def _json(path: Path, **kw: Any) -> Any:
    import pandas as pd

    if path.suffix.lower() == ".jsonl":
        kw.setdefault("lines", True)
    return pd.read_json(path, **kw)


def _feather(path: Path, **kw: Any) -> Any:
    import pandas as pd

    return pd.read_feather(path, **kw)


def _zarr(path: Path, **kw: Any) -> Any:
    import xarray as xr

    return xr.open_zarr(path, **kw)


def _netcdf(path: Path, **kw: Any) -> Any:
    import xarray as xr

    return xr.open_dataset(path, **kw)


def _h5(path: Path, **kw: Any) -> Any:
    import pandas as pd

    return pd.read_hdf(path, **kw)


def _npy(path: Path, **kw: Any) -> Any:
    import numpy as np

    return np.load(path, **kw)


READERS: dict[str, Callable[..., Any]] = {
    "parquet": _parquet,
    "csv": _csv,
    "json": _json,
    "feather": _feather,
    "zarr": _zarr,
    "netcdf": _netcdf,
    "h5": _h5,
    "npy": _npy,
}


# Drivers whose reader gives a table, which ``as_`` may turn into another kind.
TABLE_DRIVERS = ("csv", "feather", "h5", "json", "parquet")
FOLDER_DRIVERS = ("parquet", "zarr")  # a Parquet dataset or a Zarr store may be a folder


def read(path: Path, driver: str, as_: Any = None, **options: Any) -> Any:
    """Read ``path`` with the reader for ``driver``.

    ``as_`` (``"pandas"``, ``"polars"``, ``"arrow"`` or one of their table
    classes) picks the kind of table; by default a Parquet file Consist wrote
    comes back as the kind it was written from, and other tables as pandas.

    Raises
    ------
    InvalidInput
        If no reader exists for the driver (``directory`` and ``other`` have none),
        ``path`` is a folder for a driver that reads files,
        or ``as_`` is given for a file that is not a table.
    """
    reader = READERS.get(driver)
    if reader is None:
        raise InvalidInput(
            f"no reader for driver {driver!r} ({path}); readable drivers: "
            f"{', '.join(sorted(READERS))}. Open the file yourself from artifact.path"
        )
    if path.is_dir() and driver not in FOLDER_DRIVERS:
        raise InvalidInput(f"{path} is a folder, not a {driver} file; no reader for it")
    if as_ is None:
        return reader(path, **options)
    from consist.services.data import frames

    kind = frames.requested_kind(as_) or "pandas"  # not None: as_ was given
    if driver not in TABLE_DRIVERS:
        raise InvalidInput(
            f"as_={as_!r} applies to tables; {path.name} has driver {driver!r}, "
            "which is read as it is"
        )
    if driver == "parquet":
        return reader(path, as_=kind, **options)
    return frames.convert(reader(path, **options), kind)
