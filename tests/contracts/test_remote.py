"""The RemoteFiles contract, run against FsspecRemoteFiles on memory:// and on S3.

S3 is moto's server on loopback (tests.support.s3); the adapter gets the
credentials through storage_options, as a tracker hands them over.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from consist.domain.errors import RemoteStoreError
from consist.testing.remote_contracts import RemoteFilesContract
from consist_fsspec import FsspecRemoteFiles

SECRET = "consist-remote-contract-secret"


@pytest.fixture(params=["memory", pytest.param("s3", marks=pytest.mark.s3)])
def backend(request: pytest.FixtureRequest) -> tuple[Any, str]:
    if request.param == "memory":
        return FsspecRemoteFiles(), f"memory://contract-{uuid.uuid4().hex}"
    endpoint = request.getfixturevalue("s3_endpoint")
    prefix = request.getfixturevalue("s3_prefix")
    options = {"client_kwargs": {"endpoint_url": endpoint}, "key": "testing", "secret": SECRET}
    return FsspecRemoteFiles(options), f"s3://{prefix}"


class TestFsspecRemoteFiles(RemoteFilesContract):
    @pytest.fixture
    def remote(self, backend: tuple[Any, str]) -> Any:
        return backend[0]

    @pytest.fixture
    def base_url(self, backend: tuple[Any, str]) -> str:
        return backend[1]


def test_repr_and_errors_never_show_the_secrets() -> None:
    """The options' values stay out of repr() and of a refusal's message."""
    remote = FsspecRemoteFiles(
        {
            "client_kwargs": {"endpoint_url": "http://127.0.0.1:9"},
            "key": "AKIAREMOTECONTRACT",
            "secret": SECRET,
            "config_kwargs": {"connect_timeout": 1, "retries": {"max_attempts": 1}},
        }
    )
    assert SECRET not in repr(remote)
    with pytest.raises(RemoteStoreError) as caught:
        remote.stat("s3://bucket/x.csv")
    assert "s3://bucket/x.csv" in str(caught.value)
    assert SECRET not in str(caught.value) and "AKIAREMOTECONTRACT" not in str(caught.value)


def test_options_follow_the_blob_store_scheme_only() -> None:
    """With for_scheme="s3", S3 options are not handed to memory:// (or gs://) URLs."""
    remote = FsspecRemoteFiles({"anon": True}, for_scheme="s3")
    filesystem, _ = remote.filesystem("memory://x/y.csv")
    assert "anon" not in filesystem.storage_options
    s3, _ = remote.filesystem("s3a://bucket/y.csv")
    assert s3.storage_options.get("anon") is True
