"""A real S3 API for the tests: moto's server on loopback, spoken to over HTTP by s3fs.

Nothing is mocked in-process: s3fs and boto3 talk HTTP to a
``moto.server.ThreadedMotoServer`` bound to 127.0.0.1 on a free port. One
server serves the whole session (started on first use, stopped at exit) with
one bucket; each test gets its own prefix in it.

If the server cannot start, the tests that need it are skipped with the
reason, which ``-ra`` prints in the summary.

Use it from a conftest with ``pytest_plugins = ["tests.support.s3"]`` or by
importing the fixtures.
"""

from __future__ import annotations

import atexit
import functools
import socket
import uuid
from typing import Any

import pytest

BUCKET = "consist-tests"
KEY = "testing"
SECRET = "testing"


@functools.cache
def start_server() -> tuple[str | None, str]:
    """(endpoint URL, "") once the server answers, or (None, why it could not start)."""
    try:
        import boto3  # noqa: F401
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        return None, f"moto[server] / boto3 not installed: {exc}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
    except Exception as exc:
        return None, f"moto S3 server did not start on 127.0.0.1:{port}: {exc!r}"
    atexit.register(server.stop)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client(endpoint).create_bucket(Bucket=BUCKET)
    except Exception as exc:
        return None, f"moto S3 server at {endpoint} did not answer: {exc!r}"
    return endpoint, ""


def client(endpoint: str) -> Any:
    """A boto3 S3 client for the server (to plant or inspect objects behind s3fs' back)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )


def storage_options(endpoint: str) -> dict[str, Any]:
    """What a user would pass to ``FsspecBlobStore`` for this server."""
    return {"client_kwargs": {"endpoint_url": endpoint}, "key": KEY, "secret": SECRET}


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    """The moto server's URL; skips (with the reason) when it cannot run here."""
    endpoint, why = start_server()
    if endpoint is None:
        pytest.skip(f"S3 tests need the moto server, which could not start: {why}")
    return endpoint


@pytest.fixture
def s3_prefix(s3_endpoint: str) -> str:
    """``consist-tests/<random>``: a fresh, empty place in the session's bucket."""
    return f"{BUCKET}/{uuid.uuid4().hex}"


@pytest.fixture
def s3_storage_options(s3_endpoint: str) -> dict[str, Any]:
    return storage_options(s3_endpoint)


@pytest.fixture
def s3_client(s3_endpoint: str) -> Any:
    return client(s3_endpoint)
