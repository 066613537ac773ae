"""Wiring: adapters built from URLs, found by entry point, with clear errors."""

from __future__ import annotations

import pytest

from consist import plugins
from consist.config import Settings
from consist.container import build_blobs, build_catalog, container_for, scheme_of
from consist.domain.errors import AdapterNotFound
from consist.memory import InMemoryBlobStore, InMemoryCatalog


def test_scheme_of_urls_and_paths() -> None:
    assert scheme_of("duckdb:///tmp/x.duckdb") == "duckdb"
    assert scheme_of("S3://bucket/x") == "s3"
    assert scheme_of("/plain/path") == "file"


def test_memory_urls_build_in_memory_adapters() -> None:
    assert isinstance(build_catalog("memory://"), InMemoryCatalog)
    assert isinstance(build_blobs("memory://", {}), InMemoryBlobStore)
    assert build_blobs(None, {}) is None


def test_unknown_scheme_says_what_to_install() -> None:
    with pytest.raises(AdapterNotFound, match="install"):
        build_catalog("nosuchdb:///x")
    with pytest.raises(LookupError):
        plugins.load(plugins.EXECUTOR, "nosuchengine")


def test_container_builds_singletons_from_settings() -> None:
    container = container_for(Settings())
    assert container.catalog() is container.catalog()
    assert container.blobs() is None


def test_container_nodes_can_be_overridden() -> None:
    fake = InMemoryCatalog()
    container = container_for(Settings())
    with container.catalog.override(fake):
        assert container.catalog() is fake


def test_registered_entry_points_are_found() -> None:
    """The workspace adapters register their schemes; the core names none of them."""
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group=plugins.CATALOG)}
    assert {"duckdb", "sqlite"} <= names


def test_url_artifacts_get_the_blob_settings_storage_options() -> None:
    """The blob store's options reach URL artifacts of its own scheme; with no remote
    blob store they reach every URL."""
    from consist.config import BlobSettings

    options = {"anon": True}
    shared = container_for(Settings(blobs=BlobSettings(storage_options=options))).remote()
    assert shared.filesystem("memory://b/x.csv")[0].storage_options.get("anon") is True
    on_s3 = container_for(
        Settings(blobs=BlobSettings(url="s3://bucket/blobs", storage_options=options))
    ).remote()
    assert on_s3.filesystem("s3://other/x.csv")[0].storage_options.get("anon") is True
    assert "anon" not in on_s3.filesystem("memory://b/x.csv")[0].storage_options
