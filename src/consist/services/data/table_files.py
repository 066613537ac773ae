"""Writing a DataFrame (pandas, polars or pyarrow) to a file of a chosen driver."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from consist.domain.errors import InvalidInput

TABLE_SUFFIXES = {"parquet": ".parquet", "csv": ".csv"}


def check_table_driver(driver: str) -> str:
    if driver not in TABLE_SUFFIXES:
        raise InvalidInput(
            f"log_dataframe(driver=...) must be one of {sorted(TABLE_SUFFIXES)}, not {driver!r}"
        )
    return driver


def table_path(
    directory: Path, stem: str, driver: str, path: str | os.PathLike[str] | None
) -> Path:
    """``path`` (relative: to the working directory), else ``<directory>/<stem>.<suffix>``."""
    if path is not None:
        return Path(os.path.abspath(os.fspath(path)))
    return directory / f"{stem}{TABLE_SUFFIXES[driver]}"


def write_table(df: Any, path: Path, driver: str) -> None:
    """Write ``df`` to ``path`` as Parquet or CSV.

    In CSV, named pandas index levels (a groupby key) become leading columns;
    an unnamed index (row positions) is left out.
    """
    from consist.services.data.frames import write_parquet

    if driver == "parquet":
        write_parquet(df, path)
        return
    module = type(df).__module__.split(".")[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    if module == "pandas":
        named = [name for name in df.index.names if name is not None]
        (df.reset_index(level=named) if named else df).to_csv(path, index=False)
    elif module == "polars":
        df.write_csv(path)
    elif module == "pyarrow":
        import pyarrow.csv as pcsv

        pcsv.write_csv(df, path)
    else:
        raise InvalidInput(
            f"log_dataframe takes a pandas, polars or pyarrow table, not {type(df).__name__}"
        )
