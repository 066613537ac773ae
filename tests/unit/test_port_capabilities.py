"""Optional port abilities are Protocols the real adapters satisfy, found by isinstance."""

from __future__ import annotations

from pathlib import Path

from consist.container import build_catalog, build_tables
from consist.memory import InMemoryBlobStore, InMemoryCatalog
from consist.ports import (
    SupportsBulkRecord,
    SupportsEphemeral,
    SupportsFilePath,
    SupportsSharedCatalog,
    SupportsSQLDialect,
    SupportsURL,
)
from consist.services.store.catalog_recovery import catalog_key, is_ephemeral


def test_database_catalogs_record_in_bulk_and_name_their_file(tmp_path: Path) -> None:
    duck = build_catalog(f"duckdb://{tmp_path / 'c.duckdb'}")
    lite = build_catalog(f"sqlite://{tmp_path / 'c.sqlite'}")
    try:
        for catalog in (duck, lite):
            assert isinstance(catalog, SupportsBulkRecord)
            assert isinstance(catalog, SupportsFilePath)
            assert not is_ephemeral(catalog)
        assert catalog_key(lite) == str(tmp_path / "c.sqlite")
        assert not isinstance(InMemoryCatalog(), SupportsBulkRecord)
    finally:
        duck.close()
        lite.close()


def test_only_sqlite_names_a_dialect_of_its_own(tmp_path: Path) -> None:
    duck = build_catalog(f"duckdb://{tmp_path / 'c.duckdb'}")
    lite = build_catalog(f"sqlite://{tmp_path / 'c.sqlite'}")
    try:
        assert isinstance(lite, SupportsSQLDialect) and lite.sql_dialect == "sqlite"
        assert not isinstance(duck, SupportsSQLDialect)
    finally:
        duck.close()
        lite.close()


def test_catalogs_in_memory_are_ephemeral() -> None:
    memory = InMemoryCatalog()
    assert isinstance(memory, SupportsEphemeral) and is_ephemeral(memory)
    duck = build_catalog("duckdb://:memory:")
    try:
        assert is_ephemeral(duck)
    finally:
        duck.close()
    assert catalog_key(memory) == "memory://"


def test_stores_built_from_urls_keep_them() -> None:
    assert isinstance(InMemoryBlobStore("memory://"), SupportsURL)
    assert isinstance(InMemoryCatalog("memory://x"), SupportsURL)


def test_a_leased_table_store_says_whether_it_shares_the_catalog(tmp_path: Path) -> None:
    shared = build_tables(f"duckdb://{tmp_path / 'c.duckdb'}", shares_catalog=True)
    alone = build_tables(f"duckdb://{tmp_path / 'd.duckdb'}")
    try:
        assert isinstance(shared, SupportsSharedCatalog) and shared.shares_catalog
        assert isinstance(alone, SupportsSharedCatalog) and not alone.shares_catalog
    finally:
        shared.close()
        alone.close()
