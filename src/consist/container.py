"""Wiring: the one place that turns URLs into adapter instances.

Only this module imports dependency_injector. Tests replace a node with
``container.catalog.override(fake)``.
"""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers

from consist import plugins
from consist.config import Settings
from consist.domain.errors import InvalidURI
from consist.domain.mount import split_uri
from consist.domain.remote import is_remote


def scheme_of(url: str) -> str:
    """``duckdb`` for ``duckdb:///x.db``; ``file`` for a plain path."""
    try:
        scheme, _ = split_uri(url)
    except InvalidURI:
        return "file"
    return scheme.lower()


def build_catalog(url: str) -> Any:
    if scheme_of(url) == "memory":
        from consist.memory import InMemoryCatalog

        return InMemoryCatalog(url)
    return plugins.load(plugins.CATALOG, scheme_of(url))(url)


def build_blobs(
    url: str | None, storage_options: dict[str, Any], progress: bool | None = None
) -> Any:
    if url is None:
        return None
    if scheme_of(url) == "memory" and url.rstrip("/") == "memory:":
        from consist.memory import InMemoryBlobStore

        return InMemoryBlobStore(url)
    opener = plugins.load(plugins.BLOBS, scheme_of(url))
    if progress is None:
        return opener(url, storage_options=storage_options)
    return opener(url, storage_options=storage_options, progress=progress)


def build_remote(storage_options: dict[str, Any], blob_url: str | None) -> Any:
    """Access to artifacts at URLs; the blob store's storage options serve its own scheme
    (every scheme when the blob store is not remote)."""
    for_scheme = scheme_of(blob_url) if blob_url and is_remote(blob_url) else None
    return plugins.load(plugins.REMOTE, "fsspec")(storage_options, for_scheme=for_scheme)


def build_tables(url: str | None, shares_catalog: bool = False) -> Any:
    """The table store for ``url``; ``shares_catalog`` says it lives in the catalog's file
    (the DuckDB adapter then opens that file only for bursts, see its entry point)."""
    if url is None:
        return None
    opener = plugins.load(plugins.TABLES, scheme_of(url))
    return opener(url, shares_catalog=True) if shares_catalog else opener(url)


def in_process_parts() -> dict[str, Any]:
    """The tracker's in-process collaborators: ``executor`` (calls Python steps here)
    and ``recent_records`` (the read-your-writes layer over the catalog)."""
    from consist.memory import InMemoryCatalog, InProcessExecutor

    return {"executor": InProcessExecutor(), "recent_records": InMemoryCatalog()}


class Container(containers.DeclarativeContainer):
    """Adapters by URL; each a singleton per container."""

    config = providers.Configuration(strict=True)
    catalog = providers.Singleton(build_catalog, url=config.catalog.url)
    blobs = providers.Singleton(
        build_blobs,
        url=config.blobs.url,
        storage_options=config.blobs.storage_options,
        progress=config.blobs.progress,
    )
    remote = providers.Singleton(
        build_remote, storage_options=config.blobs.storage_options, blob_url=config.blobs.url
    )
    tables = providers.Singleton(
        build_tables, url=config.tables.url, shares_catalog=config.tables.shares_catalog
    )


def container_for(settings: Settings) -> Container:
    container = Container()
    container.config.from_dict(settings.model_dump())
    return container
