"""Settings parsed once, at the edge: URLs of the adapters a Tracker uses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CatalogSettings(_Settings):
    url: str = "memory://"


class BlobSettings(_Settings):
    url: str | None = None
    storage_options: dict[str, Any] = Field(default_factory=dict, repr=False)
    # Progress bars for large transfers: None = when stderr is a terminal.
    progress: bool | None = None


class TableSettings(_Settings):
    url: str | None = None
    # True when ``url`` is the catalog's own DuckDB file (the default for DuckDB catalogs).
    shares_catalog: bool = False


class Settings(_Settings):
    catalog: CatalogSettings = CatalogSettings()
    blobs: BlobSettings = BlobSettings()
    tables: TableSettings = TableSettings()
