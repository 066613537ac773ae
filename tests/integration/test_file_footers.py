"""Parquet footers kept per file, read again only when the file changes."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from consist.services.data import file_footers
from consist.services.data.file_footers import FileFooters, signature_of


def test_schema_is_read_once_and_again_after_a_rewrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1], "b": ["x"]}), path)
    reads: list[str] = []
    real = file_footers._read_schema
    monkeypatch.setattr(file_footers, "_read_schema", lambda p: reads.append(p) or real(p))
    footers = FileFooters()
    first = signature_of(str(path))
    assert first is not None
    assert footers.schema(str(path), first) == (("a", "int64"), ("b", "string"))
    assert footers.schema(str(path), first) == (("a", "int64"), ("b", "string"))
    assert len(reads) == 1

    pq.write_table(pa.table({"a": [1.5]}), path)
    os.utime(path, ns=(first[2] + 1_000_000, first[2] + 1_000_000))
    second = signature_of(str(path))
    assert second is not None and second != first
    assert footers.schema(str(path), second) == (("a", "double"),)
    assert len(reads) == 2


def test_unreadable_or_missing_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    signature = signature_of(str(junk))
    assert signature is not None
    assert FileFooters().schema(str(junk), signature) is None
    assert signature_of(str(tmp_path / "gone.parquet")) is None


def test_forget_except_keeps_only_listed_paths(tmp_path: Path) -> None:
    footers = FileFooters()
    for name in ("keep", "drop"):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table({"a": [1]}), path)
        signature = signature_of(str(path))
        assert signature is not None
        footers.schema(str(path), signature)
    footers.forget_except({str(tmp_path / "keep.parquet")})
    assert set(footers._known) == {str(tmp_path / "keep.parquet")}
