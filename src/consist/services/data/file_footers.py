"""Column schemas of local Parquet files, read from their footers, kept while a file is unchanged.

Views use them to tell DuckDB when every file of a scan has the same columns,
which spares it reading each footer again to match columns by name.
"""

from __future__ import annotations

import os

__all__ = ["FileFooters", "FileSignature", "signature_of"]

FileSignature = tuple[int, int, int]  # (inode, size, mtime in ns)
ColumnSchema = tuple[tuple[str, str], ...]


def signature_of(path: str) -> FileSignature | None:
    """What changes when a file is rewritten or replaced; None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class FileFooters:
    """Parquet schemas by path, read again only when a file's signature changes.

    Not locked: its owner (a view factory) calls it under its own lock.
    """

    def __init__(self) -> None:
        self._known: dict[str, tuple[FileSignature, ColumnSchema | None]] = {}

    def schema(self, path: str, signature: FileSignature) -> ColumnSchema | None:
        """(name, Arrow type) of each column of the Parquet file at ``path``, or
        None when its footer cannot be read (DuckDB will report why)."""
        known = self._known.get(path)
        if known is not None and known[0] == signature:
            return known[1]
        schema = _read_schema(path)
        self._known[path] = (signature, schema)
        return schema

    def forget_except(self, paths: set[str]) -> None:
        """Drop what is known of files no view reads any more."""
        self._known = {p: v for p, v in self._known.items() if p in paths}


def _read_schema(path: str) -> ColumnSchema | None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException):
        return None
    return tuple((field.name, str(field.type)) for field in schema)
