"""Which strings are object-store URLs, and which of those name one object."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from consist.domain import MountTable
from consist.domain.errors import InvalidURI
from consist.domain.remote import (
    ObjectStat,
    check_remote_url,
    folder_version,
    is_remote,
    manifest_identity,
    object_name,
)
from consist.services.identity.hashing import FileHasher, HashMemo


def test_store_schemes_are_remote_and_mounts_and_paths_are_not(tmp_path: object) -> None:
    """s3/gs/az/memory URLs are remote; file://, mount URIs and plain paths are not."""
    mounts = MountTable.of({"inputs": "/data"})
    for url in ("s3://b/k.csv", "gs://b/k", "az://c/k", "abfs://c/k", "memory://x/y"):
        assert is_remote(url, mounts), url
    for value in ("file:///x.csv", "inputs://a.csv", "/tmp/x.csv", "x.csv", b"s3://b/k", None):
        assert not is_remote(value, mounts), value


def test_a_mount_named_like_a_scheme_wins() -> None:
    """A user mount called ``memory`` keeps its meaning."""
    assert not is_remote("memory://a.csv", MountTable.of({"memory": "/scratch"}))


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("s3://", "names no object"),
        ("s3:///", "names no object"),
        ("gs://bucket/folder/", "ends with '/'"),
        ("s3://AKIA:secret@bucket/x.csv", "credentials"),
        ("file:///x.csv", "not an object-store URL"),
    ],
)
def test_urls_that_name_no_single_object_are_refused(url: str, why: str) -> None:
    with pytest.raises(InvalidURI, match=why) as caught:
        check_remote_url(url)
    assert "secret" not in str(caught.value)


def test_object_identity_is_version_and_size_and_absent_without_version() -> None:
    assert ObjectStat("s3://b/k", 12, 'ETag="abc"').identity == 'object:ETag="abc":12'
    assert ObjectStat("s3://b/k", 12, None).identity is None
    assert object_name("s3://b/data/zones.parquet") == "zones.parquet"


def test_a_folder_manifest_is_the_identity_of_the_same_local_folder(tmp_path: Path) -> None:
    """A folder read from a store and the same folder on disk identify alike (full hashing),
    so a Merkle link or a cache hit does not depend on where the folder lies."""
    root = tmp_path / "grid.zarr"
    (root / "0").mkdir(parents=True)
    (root / "0" / "0.0").write_bytes(b"chunk")
    (root / ".zattrs").write_text("{}")
    hasher = FileHasher(HashMemo(None), "full")
    pairs = [
        (p.relative_to(root).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest())
        for p in root.rglob("*")
        if p.is_file()
    ]
    assert manifest_identity(pairs) == hasher.identity(root)
    assert folder_version([("a", "v1", 1)]) != folder_version([("a", "v2", 1)])
