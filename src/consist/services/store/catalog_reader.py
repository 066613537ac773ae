"""Reads that see this process's own writes without waiting for the catalog.

Catalog writes happen on a background thread. Rather than waiting for them
before every read, the run store keeps the records it wrote in an in-memory
catalog (the wiring supplies one) and layers it over the durable one: its own
runs answer from memory, everything else from the catalog, merged newest first.

Reads of the durable catalog take no lock here: every adapter synchronises its
own access, and the DuckDB one lets reads proceed while the writer thread
writes (a read-only cursor beside the write connection).
"""

from __future__ import annotations

from collections.abc import Collection, Hashable
from typing import Any, Protocol

import attrs

from consist.domain import Artifact, Run, RunArtifactLink, RunQuery, RunRecord
from consist.domain.errors import ArtifactNotFound, RunNotFound
from consist.domain.run import newest_first
from consist.ports import (
    Catalog,
    SupportsChangeToken,
    SupportsRunExists,
    SupportsSignatureLookup,
)


class RecentRecords(
    Catalog, SupportsRunExists, SupportsChangeToken, SupportsSignatureLookup, Protocol
):
    """A catalog held in this process (``consist.memory.InMemoryCatalog``): fast,
    and able to say whether it changed."""


class LayeredCatalog:
    """Own recent records (``recent``, in memory) over the durable catalog, with the
    same read methods."""

    def __init__(self, durable: Catalog, recent: RecentRecords) -> None:
        self.durable = durable
        self.recent = recent

    def remember(self, record: RunRecord) -> None:
        self.recent.record(record)

    def change_token(self) -> Hashable | None:
        """Equal to an earlier token only if neither layer can have changed since;
        None when the durable catalog cannot tell."""
        if not isinstance(self.durable, SupportsChangeToken):
            return None
        return (self.recent.change_token(), self.durable.change_token())

    def get_run(self, run_id: str) -> Run:
        try:
            return self.recent.get_run(run_id)
        except RunNotFound:
            return self.durable.get_run(run_id)

    def has_run(self, run_id: str) -> bool:
        if self.recent.has_run(run_id):
            return True
        if isinstance(self.durable, SupportsRunExists):
            return self.durable.has_run(run_id)
        try:
            self.durable.get_run(run_id)
        except RunNotFound:
            return False
        return True

    def get_record(self, run_id: str) -> RunRecord:
        try:
            return self.recent.get_record(run_id)
        except RunNotFound:
            return self.durable.get_record(run_id)

    def find_runs(self, query: RunQuery) -> list[Run]:
        own = self.recent.find_runs(attrs.evolve(query, limit=None))
        own_ids = self.recent.run_ids()
        widened = query.limit + len(own_ids) if query.limit is not None else None
        theirs = self.durable.find_runs(attrs.evolve(query, limit=widened))
        merged = newest_first([*own, *(r for r in theirs if r.id not in own_ids)])
        return merged[: query.limit] if query.limit is not None else merged

    def find_by_signature(self, signature: str) -> Run | None:
        # Any completed run with the signature is an equally valid hit, so one
        # of our own answers without waiting behind the background writer.
        own = self.recent.find_by_signature(signature)
        if own is not None:
            return own
        return self.durable.find_by_signature(signature)

    def completed_signatures(self, signatures: Collection[str]) -> set[str]:
        """Which of ``signatures`` have a completed run, ours or the catalog's: one query
        where the catalog can (``SupportsSignatureLookup``), one per signature otherwise."""
        own = self.recent.completed_signatures(signatures)
        rest = [s for s in signatures if s not in own]
        if isinstance(self.durable, SupportsSignatureLookup):
            return own | self.durable.completed_signatures(rest)
        return own | {s for s in rest if self.durable.find_by_signature(s) is not None}

    def find_produced(self, content_hash: str) -> list[Artifact]:
        """Artifacts with these bytes that a run produced: our own if any, else the catalog's."""
        own = [
            a
            for a in self.recent.find_artifacts(content_hash=content_hash)
            if a.producer_run_id is not None
        ]
        if own:
            return own
        found = self.durable.find_artifacts(content_hash=content_hash)
        return [a for a in found if a.producer_run_id is not None]

    def get_artifact(self, artifact_id: str) -> Artifact:
        try:
            return self.recent.get_artifact(artifact_id)
        except ArtifactNotFound:
            return self.durable.get_artifact(artifact_id)

    def find_artifacts(self, **filters: Any) -> list[Artifact]:
        own = self.recent.find_artifacts(**filters)
        known = {a.id for a in own}
        theirs = self.durable.find_artifacts(**filters)
        merged = [*own, *(a for a in theirs if a.id not in known)]
        return sorted(merged, key=lambda a: (a.created_at, a.id), reverse=True)

    def links_of_artifact(self, artifact_id: str) -> list[RunArtifactLink]:
        own_runs = self.recent.run_ids()
        theirs = self.durable.links_of_artifact(artifact_id)
        return [
            *self.recent.links_of_artifact(artifact_id),
            *(link for link in theirs if link.run_id not in own_runs),
        ]
