"""Table files: a DataFrame written as Parquet or CSV, and a file's column schema read back."""

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


def profile_schema(path: Path, driver: str, sample_rows: int | None) -> list[dict[str, str]]:
    """Column names and Arrow types of a Parquet or CSV file (a sample for CSV)."""
    if driver == "parquet":
        import pyarrow.parquet as pq

        schema = pq.read_schema(path)
    elif driver == "csv":
        import pyarrow.csv as pcsv

        block = 1 << 20 if sample_rows is None else max(1 << 16, sample_rows * 256)
        with pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=block)) as reader:
            schema = reader.schema
    else:
        raise InvalidInput(
            f"profile_file_schema works for parquet and csv files, not driver {driver!r}"
        )
    return [{"name": f.name, "type": str(f.type)} for f in schema]
