"""Which strings are object-store URLs, and which of those name one object."""

from __future__ import annotations

import pytest

from consist.domain import MountTable
from consist.domain.errors import InvalidURI
from consist.domain.remote import ObjectStat, check_remote_url, is_remote, object_name


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
        ("gs://bucket/folder/", "not a folder"),
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
