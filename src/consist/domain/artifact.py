"""Artifacts (files, directories, tables) and the links that tie them to runs."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

import attrs

from consist.domain._values import frozen_mapping, parse_time, utcnow
from consist.domain.display import Card, Displayable, clip, short_hash


class Direction(enum.StrEnum):
    INPUT = "input"
    OUTPUT = "output"


@attrs.frozen
class Artifact(Displayable):
    """A file, directory or table a run read or wrote, addressed by a portable URI."""

    id: str
    key: str
    uri: str
    driver: str = "other"
    content_hash: str | None = None
    size: int | None = None
    producer_run_id: str | None = None
    meta: Mapping[str, Any] = attrs.field(factory=dict, converter=frozen_mapping, hash=False)
    created_at: dt.datetime = attrs.field(factory=utcnow)
    # Small queryable description (namespace = key); indexed, never part of identity.
    facet: Mapping[str, Any] | None = attrs.field(default=None, hash=False)
    # Where the file was on the machine that logged it; resolved again through
    # the mount table on other machines, so never part of identity.
    abs_path: str | None = attrs.field(default=None, eq=False, hash=False)

    @property
    def path(self) -> str | None:
        return self.abs_path

    @property
    def hash(self) -> str | None:
        """SHA-256 content hash (``content_hash``) of the file, or of a directory's manifest."""
        return self.content_hash

    def _card(self) -> Card:
        facts = [
            ("uri", self.uri),
            ("driver", self.driver),
            ("size", f"{self.size:,} bytes" if self.size is not None else None),
            ("hash", short_hash(self.content_hash) if self.content_hash else None),
            ("producer", self.producer_run_id),
            ("path", self.abs_path),
            ("created", f"{self.created_at:%Y-%m-%d %H:%M:%S}"),
            ("id", self.id),
        ]
        shown = [(label, clip(str(value))) for label, value in facts if value is not None]
        return Card("Artifact", self.key, None, shown)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "uri": self.uri,
            "driver": self.driver,
            "content_hash": self.content_hash,
            "size": self.size,
            "producer_run_id": self.producer_run_id,
            "meta": dict(self.meta),
            "created_at": self.created_at.isoformat(),
            "facet": dict(self.facet) if self.facet is not None else None,
            "abs_path": self.abs_path,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Artifact:
        return cls(
            id=data["id"],
            key=data["key"],
            uri=data["uri"],
            driver=data.get("driver") or "other",
            content_hash=data.get("content_hash"),
            size=data.get("size"),
            producer_run_id=data.get("producer_run_id"),
            meta=data.get("meta") or {},
            created_at=parse_time(data["created_at"]) or utcnow(),
            facet=data.get("facet"),
            abs_path=data.get("abs_path"),
        )


@attrs.frozen
class RunArtifactLink:
    """A run read (input) or wrote (output) an artifact under a key."""

    run_id: str
    artifact_id: str
    direction: Direction = attrs.field(converter=Direction)
    key: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "artifact_id": self.artifact_id,
            "direction": str(self.direction),
            "key": self.key,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunArtifactLink:
        return cls(data["run_id"], data["artifact_id"], data["direction"], data["key"])
