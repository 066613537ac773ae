"""FsspecBlobStore on S3 (moto), and credentials kept out of every message."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import pytest
from tests.support.sized_files import MiB, write_file

from consist.domain.errors import (
    BlobStoreError,
    ConsistError,
    IntegrityError,
)
from consist_fsspec import FsspecBlobStore

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"


def s3_store(prefix: str, options: dict[str, Any], **kwargs: Any) -> FsspecBlobStore:
    return FsspecBlobStore(f"s3://{prefix}", storage_options=options, **kwargs)


# -- S3 ----------------------------------------------------------------------


@pytest.mark.s3
def test_tampered_s3_object_is_an_integrity_error(
    s3_prefix: str, s3_storage_options: dict[str, Any], s3_client: Any, tmp_path: Path
) -> None:
    """Bytes replaced behind the store's back (same size) are caught by get and open."""
    store = s3_store(s3_prefix, s3_storage_options)
    digest = store.put(write_file(tmp_path / "f", 3 * MiB))
    bucket, _, prefix = s3_prefix.partition("/")
    key = f"{prefix}/sha256/{digest[:2]}/{digest[2:4]}/{digest}"
    body = bytearray(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[MiB] ^= 0xFF
    s3_client.put_object(Bucket=bucket, Key=key, Body=bytes(body))
    destination = tmp_path / "out.bin"
    with pytest.raises(IntegrityError, match=digest):
        store.get(digest, destination)
    assert not destination.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["f"]
    with pytest.raises(IntegrityError), store.open(digest) as handle:
        handle.read()


@pytest.mark.s3
def test_s3_layout_is_as_documented(
    s3_prefix: str, s3_storage_options: dict[str, Any], s3_client: Any, tmp_path: Path
) -> None:
    """Blobs at <prefix>/sha256/ab/cd/<digest>, named objects at <prefix>/named/<name>."""
    store = s3_store(s3_prefix, s3_storage_options)
    digest = store.put(write_file(tmp_path / "f", 1000))
    store.write_named("snapshots/run-1.json", b"{}")
    bucket, _, prefix = s3_prefix.partition("/")
    keys = sorted(
        o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    )
    assert keys == [
        f"{prefix}/named/snapshots/run-1.json",
        f"{prefix}/sha256/{digest[:2]}/{digest[2:4]}/{digest}",
    ]
    assert store.read_named("snapshots/run-1.json") == b"{}"


@pytest.mark.s3
def test_second_put_to_s3_does_not_upload_again(
    s3_prefix: str, s3_storage_options: dict[str, Any], tmp_path: Path, monkeypatch: Any
) -> None:
    store = s3_store(s3_prefix, s3_storage_options)
    path = write_file(tmp_path / "f", 2 * MiB)
    digest = store.put(path)
    uploads: list[str] = []
    real_put_file = store._fs.put_file
    monkeypatch.setattr(
        store._fs, "put_file", lambda *a, **k: uploads.append(a[1]) or real_put_file(*a, **k)
    )
    assert store.put(path) == digest
    assert uploads == []


@pytest.mark.s3
def test_truncated_s3_leftover_is_replaced_on_put(
    s3_prefix: str, s3_storage_options: dict[str, Any], s3_client: Any, tmp_path: Path
) -> None:
    """An object of the wrong size under a digest is not taken as 'already stored'."""
    store = s3_store(s3_prefix, s3_storage_options)
    path = write_file(tmp_path / "f", MiB)
    digest = store.put(path)
    bucket, _, prefix = s3_prefix.partition("/")
    key = f"{prefix}/sha256/{digest[:2]}/{digest[2:4]}/{digest}"
    s3_client.put_object(Bucket=bucket, Key=key, Body=b"truncated")
    store.put(path)
    assert store.get(digest, tmp_path / "out").read_bytes() == path.read_bytes()


@pytest.mark.s3
def test_file_changing_during_upload_keeps_nothing(
    s3_prefix: str, s3_storage_options: dict[str, Any], tmp_path: Path, monkeypatch: Any
) -> None:
    """A file rewritten while uploading is refused rather than stored under a wrong digest."""
    store = s3_store(s3_prefix, s3_storage_options)
    path = write_file(tmp_path / "f", MiB)
    real_put_file = store._fs.put_file

    def put_while_someone_appends(*args: Any, **kwargs: Any) -> Any:
        result = real_put_file(*args, **kwargs)
        with open(path, "ab") as handle:
            handle.write(b"late")
        return result

    monkeypatch.setattr(store._fs, "put_file", put_while_someone_appends)
    with pytest.raises(IntegrityError, match="changed while"):
        store.put(path)
    assert list(store.digests()) == []


@pytest.mark.s3
def test_missing_bucket_is_a_blob_store_error(
    s3_endpoint: str, s3_storage_options: dict[str, Any], tmp_path: Path
) -> None:
    store = s3_store("no-such-bucket-consist/x", s3_storage_options)
    with pytest.raises(BlobStoreError, match="no-such-bucket-consist"):
        store.put(write_file(tmp_path / "f", 10))


# -- credentials -----------------------------------------------------------------


def secret_options(endpoint: str) -> dict[str, Any]:
    return {
        "key": ACCESS_KEY,
        "secret": SECRET,
        "client_kwargs": {"endpoint_url": endpoint},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
    }


def everything_shown(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error) + str(error.args)


def test_repr_hides_storage_option_values() -> None:
    store = FsspecBlobStore(
        "memory://consist-repr", storage_options={"key": ACCESS_KEY, "secret": SECRET}
    )
    shown = repr(store) + str(store)
    assert SECRET not in shown and ACCESS_KEY not in shown
    assert "'secret': '***'" in shown


def test_credentials_in_the_url_are_not_shown() -> None:
    with pytest.raises(ConsistError) as caught:
        FsspecBlobStore(f"nosuchscheme://{ACCESS_KEY}:{SECRET}@host/x")
    assert SECRET not in everything_shown(caught.value)
    assert ACCESS_KEY not in everything_shown(caught.value)


@pytest.mark.s3
def test_credentials_never_appear_in_errors(s3_endpoint: str, tmp_path: Path) -> None:
    """Failures (here: nothing listening) name the store, never the keys."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    store = FsspecBlobStore("s3://consist-tests/x", storage_options=secret_options(dead))
    with pytest.raises(BlobStoreError) as caught:
        store.put(write_file(tmp_path / "f", 10))
    shown = everything_shown(caught.value)
    assert "s3://consist-tests/x" in shown
    assert SECRET not in shown and ACCESS_KEY not in shown
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.s3
def test_errors_after_signed_requests_do_not_echo_credentials(
    s3_endpoint: str, s3_client: Any, tmp_path: Path
) -> None:
    """Even an error produced from a request signed with the secret does not carry it."""
    store = FsspecBlobStore("s3://consist-tests/creds", storage_options=secret_options(s3_endpoint))
    digest = store.put(write_file(tmp_path / "f", 10))
    with pytest.raises(ConsistError) as caught:
        store.get(digest[::-1], tmp_path / "x")
    shown = everything_shown(caught.value)
    assert SECRET not in shown and ACCESS_KEY not in shown
