"""The RemoteFiles port: objects at fsspec URLs used as artifacts where they lie."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from consist.domain.remote import ObjectStat


class RemoteFiles(Protocol):
    """Reads, writes and describes objects at URLs (``s3://``, ``gs://``, ``memory://``).

    A URL names one object or a folder of them (a prefix, such as a Zarr store):
    ``stat`` then describes the whole folder (``is_folder``), ``download`` writes a
    local folder and answers its ``dir:`` manifest identity, and ``upload`` of a
    local folder makes the URL hold exactly its files.

    Every method raises ``InvalidURI`` for a URL no installed filesystem can
    open, ``AdapterNotFound`` when the scheme needs a package that is missing,
    ``RemoteObjectMissing`` when there is no object (or no bucket) and
    ``RemoteStoreError`` for any other refusal. Messages name the URL and never
    quote credentials.
    """

    def stat(self, url: str) -> ObjectStat:
        """Size and version token of the object, from its metadata only."""
        ...

    def download(self, url: str, destination: Path) -> tuple[ObjectStat, str]:
        """Stream the object to ``destination`` (through a temp file beside it), hashing
        on the way; returns the object's stat and the SHA-256 of the bytes written."""
        ...

    def upload(self, source: Path, url: str) -> ObjectStat:
        """Write the local file ``source`` as the object at ``url``; returns its new stat."""
        ...

    def filesystem(self, url: str) -> tuple[Any, str]:
        """The fsspec filesystem serving ``url`` and the URL as that filesystem spells it,
        for engines that read in place (DuckDB ``register_filesystem``)."""
        ...
