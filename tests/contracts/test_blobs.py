"""The BlobStore contract, run against every blob store adapter in the workspace.

Backends: the in-memory reference store, FsspecBlobStore on a local directory
(``file://`` URL and plain path), on fsspec's ``memory://`` filesystem, and on
S3 served by moto over HTTP on loopback.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import fsspec
import pytest

from consist.domain.errors import ConsistError, IntegrityError, InvalidURI, NotFound
from consist.memory import InMemoryBlobStore
from consist.ports.blobs import SupportsNamedObjects, SupportsNamedVersions
from consist.testing.contracts import BlobStoreContract
from consist_fsspec import FsspecBlobStore

BACKENDS = [
    "memory",
    "fsspec-file-url",
    "fsspec-plain-path",
    "fsspec-memory",
    pytest.param("fsspec-s3", marks=pytest.mark.s3),
]


def layout(digest: str) -> str:
    """Where the docs say a blob lives, relative to the store's root."""
    return f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"


@attrs.frozen
class Backend:
    store: Any
    corrupt: Callable[[str, bytes], None]


def _local(root: Path, url: str) -> Backend:
    def corrupt(digest: str, data: bytes) -> None:
        target = root / layout(digest)
        assert target.is_file(), f"no blob at the documented path {target}"
        target.write_bytes(data)

    return Backend(FsspecBlobStore(url), corrupt)


def _fsspec_memory(root: str) -> Backend:
    fs = fsspec.filesystem("memory")

    def corrupt(digest: str, data: bytes) -> None:
        target = f"/{root}/{layout(digest)}"
        assert fs.isfile(target), f"no blob at the documented path {target}"
        fs.pipe_file(target, data)

    return Backend(FsspecBlobStore(f"memory://{root}"), corrupt)


def _s3(request: pytest.FixtureRequest) -> Backend:
    prefix = request.getfixturevalue("s3_prefix")
    s3 = request.getfixturevalue("s3_client")
    bucket, _, key_prefix = prefix.partition("/")

    def corrupt(digest: str, data: bytes) -> None:
        key = f"{key_prefix}/{layout(digest)}"
        s3.head_object(Bucket=bucket, Key=key)  # it is where the docs say
        s3.put_object(Bucket=bucket, Key=key, Body=data)

    options = request.getfixturevalue("s3_storage_options")
    return Backend(FsspecBlobStore(f"s3://{prefix}", storage_options=options), corrupt)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    kind = request.param
    if kind == "memory":
        store = InMemoryBlobStore()
        yield Backend(store, store.corrupt_for_testing)
    elif kind == "fsspec-file-url":
        yield _local(tmp_path / "store", f"file://{tmp_path}/store")
    elif kind == "fsspec-plain-path":
        yield _local(tmp_path / "plain store", str(tmp_path / "plain store"))
    elif kind == "fsspec-memory":
        root = f"consist-{uuid.uuid4().hex}"
        yield _fsspec_memory(root)
        fs = fsspec.filesystem("memory")
        if fs.exists(f"/{root}"):
            fs.rm(f"/{root}", recursive=True)
    else:
        yield _s3(request)


@pytest.fixture
def blobs(backend: Backend) -> Any:
    return backend.store


@pytest.fixture
def corrupt_blob(backend: Backend) -> Callable[[Any, str, bytes], None]:
    def corrupt(store: Any, digest: str, data: bytes) -> None:
        assert store is backend.store
        backend.corrupt(digest, data)

    return corrupt


class TestBlobStore(BlobStoreContract):
    def test_open_of_corrupted_blob_raises_at_eof(
        self, blobs: Any, tmp_path: Path, corrupt_blob: Any
    ) -> None:
        """Reading a tampered blob to the end through open() is an IntegrityError."""
        digest = blobs.put(self._file(tmp_path, b"precious"))
        corrupt_blob(blobs, digest, b"tampered")
        with pytest.raises(IntegrityError), blobs.open(digest) as handle:
            handle.read()

    def test_corrupted_blob_leaves_no_temp_file(
        self, blobs: Any, tmp_path: Path, corrupt_blob: Any
    ) -> None:
        """A failed verification cleans up its temp file beside the destination."""
        digest = blobs.put(self._file(tmp_path, b"precious"))
        corrupt_blob(blobs, digest, b"tampered")
        out = tmp_path / "out"
        out.mkdir()
        with pytest.raises(IntegrityError):
            blobs.get(digest, out / "x.bin")
        assert list(out.iterdir()) == []

    def test_file_larger_than_a_chunk_round_trips(self, blobs: Any, tmp_path: Path) -> None:
        """Multi-chunk files (the threaded hashing path) keep every byte in order."""
        data = b"".join(i.to_bytes(4, "little") for i in range(5_000_000))  # 20 MB
        digest = blobs.put(self._file(tmp_path, data))
        assert digest == hashlib.sha256(data).hexdigest()
        assert blobs.get(digest, tmp_path / "big.out").read_bytes() == data
        with blobs.open(digest) as handle:
            assert handle.read() == data

    def test_malformed_digest_is_refused_by_every_method(self, blobs: Any) -> None:
        for bad in ["../" * 3 + "x" * 55, "A" * 64, "0" * 63]:
            for call in (blobs.exists, blobs.open, blobs.delete):
                with pytest.raises(ConsistError):
                    call(bad)

    def test_listing_is_sorted_and_holds_only_digests(self, blobs: Any, tmp_path: Path) -> None:
        stored = {blobs.put(self._file(tmp_path, bytes([i]) * 10, f"{i}")) for i in range(5)}
        listed = list(blobs.digests())
        assert listed == sorted(stored)


class TestNamedObjects:
    """SupportsNamedObjects: small objects under relative names, apart from the blobs."""

    def test_store_supports_named_objects(self, blobs: Any) -> None:
        assert isinstance(blobs, SupportsNamedObjects)

    def test_named_object_round_trips_and_is_replaced(self, blobs: Any) -> None:
        blobs.write_named("snapshots/run-1.json", b'{"a": 1}')
        assert blobs.read_named("snapshots/run-1.json") == b'{"a": 1}'
        blobs.write_named("snapshots/run-1.json", b'{"a": 2}')
        assert blobs.read_named("snapshots/run-1.json") == b'{"a": 2}'

    def test_unknown_name_is_not_found(self, blobs: Any) -> None:
        with pytest.raises(NotFound):
            blobs.read_named("snapshots/never.json")
        blobs.write_named("snapshots/x/y.json", b"")
        with pytest.raises(LookupError):
            blobs.read_named("snapshots/x")

    def test_list_named_filters_by_prefix_sorted(self, blobs: Any) -> None:
        for name in ["snapshots/b.json", "snapshots/a.json", "other/c.json", "snapshotsX"]:
            blobs.write_named(name, b"x")
        assert list(blobs.list_named("snapshots/")) == ["snapshots/a.json", "snapshots/b.json"]
        assert list(blobs.list_named("snap")) == [
            "snapshots/a.json",
            "snapshots/b.json",
            "snapshotsX",
        ]
        assert len(list(blobs.list_named())) == 4
        assert list(blobs.list_named("nothing/")) == []

    @pytest.mark.parametrize(
        "name", ["/etc/passwd", "../x", "a/../../b", "a/./b", "", "a//b", "a\\b", "s3://b/k"]
    )
    def test_escaping_names_are_refused(self, blobs: Any, name: str) -> None:
        with pytest.raises(InvalidURI):
            blobs.write_named(name, b"x")
        with pytest.raises(InvalidURI):
            blobs.read_named(name)

    def test_escaping_prefix_is_refused(self, blobs: Any) -> None:
        with pytest.raises(InvalidURI):
            list(blobs.list_named("../"))

    def test_named_objects_and_blobs_stay_apart(self, blobs: Any, tmp_path: Path) -> None:
        source = tmp_path / "f"
        source.write_bytes(b"blob")
        digest = blobs.put(source)
        blobs.write_named("snapshots/r.json", b"named")
        assert list(blobs.digests()) == [digest]
        assert list(blobs.list_named()) == ["snapshots/r.json"]


class TestNamedVersions:
    """SupportsNamedVersions: a token per name, from a listing, that moves with every write."""

    def test_store_supports_named_versions(self, blobs: Any) -> None:
        assert isinstance(blobs, SupportsNamedVersions)

    def test_versions_list_the_names_and_stay_put_until_a_write(self, blobs: Any) -> None:
        blobs.write_named("snapshots/a.json", b"first")
        blobs.write_named("snapshots/b.json", b"other")
        blobs.write_named("elsewhere.json", b"x")
        versions = blobs.named_versions("snapshots/")
        assert list(versions) == ["snapshots/a.json", "snapshots/b.json"]
        assert all(isinstance(token, str) and token for token in versions.values())
        assert blobs.named_versions("snapshots/") == versions
        assert list(blobs.named_versions()) == list(blobs.list_named())
        assert blobs.named_versions("nothing/") == {}

    @pytest.mark.parametrize("same_size", [False, True])
    def test_a_rewrite_changes_the_version_of_that_name_only(
        self, blobs: Any, same_size: bool
    ) -> None:
        blobs.write_named("snapshots/a.json", b"first")
        blobs.write_named("snapshots/b.json", b"other")
        before = blobs.named_versions("snapshots/")
        blobs.write_named("snapshots/a.json", b"again" if same_size else b"second version")
        after = blobs.named_versions("snapshots/")
        assert after["snapshots/a.json"] != before["snapshots/a.json"]
        assert after["snapshots/b.json"] == before["snapshots/b.json"]

    def test_escaping_prefix_is_refused(self, blobs: Any) -> None:
        with pytest.raises(InvalidURI):
            blobs.named_versions("../")
