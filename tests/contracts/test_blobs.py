"""The BlobStore contract, run against every blob store adapter in the workspace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from consist.memory import InMemoryBlobStore
from consist.testing.contracts import BlobStoreContract


@pytest.fixture(params=["memory"])
def blobs(request: pytest.FixtureRequest) -> Any:
    return InMemoryBlobStore()


@pytest.fixture
def corrupt_blob() -> Callable[[Any, str, bytes], None]:
    def corrupt(store: Any, digest: str, data: bytes) -> None:
        store.corrupt_for_testing(digest, data)

    return corrupt


class TestBlobStore(BlobStoreContract):
    pass
