"""Runs, the record a catalog indexes for each, and the filters to find them."""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from consist.domain._values import as_tags, frozen_mapping, parse_time, utcnow
from consist.domain.artifact import Artifact, Direction, RunArtifactLink
from consist.domain.checks import check_int, check_text
from consist.domain.display import Card, CardTable, Displayable, clip, short_hash
from consist.domain.errors import InvalidInput
from consist.domain.signature import Signature


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@attrs.frozen
class Run(Displayable):
    """One execution (or cache hit) of a step: who, when, with what identity, how it ended."""

    id: str
    model: str | None = None
    status: RunStatus = attrs.field(default=RunStatus.RUNNING, converter=RunStatus)
    parent_run_id: str | None = None
    year: int | None = None
    iteration: int | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=as_tags)
    signature: Signature | None = None
    config: Mapping[str, Any] = attrs.field(
        factory=dict, converter=frozen_mapping, hash=False, eq=True
    )
    facet: Mapping[str, Any] | None = attrs.field(default=None, hash=False)
    created_at: dt.datetime = attrs.field(factory=utcnow)
    ended_at: dt.datetime | None = None
    cache_hit: bool = False
    cached_from: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    meta: Mapping[str, Any] = attrs.field(factory=dict, converter=frozen_mapping, hash=False)

    @property
    def signature_digest(self) -> str | None:
        return self.signature.digest if self.signature else None

    @property
    def duration_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.created_at).total_seconds()

    def completed(self, at: dt.datetime | None = None) -> Run:
        return attrs.evolve(self, status=RunStatus.COMPLETED, ended_at=at or utcnow())

    def failed(self, error_type: str, message: str, at: dt.datetime | None = None) -> Run:
        return attrs.evolve(
            self,
            status=RunStatus.FAILED,
            ended_at=at or utcnow(),
            error_type=error_type,
            error_message=message,
        )

    @property
    def badge(self) -> str:
        """``hit`` for a completed cache hit, else the status."""
        hit = self.cache_hit and self.status is RunStatus.COMPLETED
        return "hit" if hit else str(self.status)

    def card_fields(self) -> list[tuple[str, str]]:
        """The facts a notebook shows for this run (only those that are set)."""
        sig = self.signature
        duration = self.duration_seconds
        facts = [
            ("step", self.model),
            ("scenario", self.parent_run_id),
            ("year", self.year),
            ("iteration", self.iteration),
            ("tags", ", ".join(self.tags) or None),
            ("cached from", self.cached_from),
            ("started", f"{self.created_at:%Y-%m-%d %H:%M:%S}"),
            ("ended", f"{self.ended_at:%Y-%m-%d %H:%M:%S}" if self.ended_at else None),
            ("duration", f"{duration:.2f} s" if duration is not None else None),
            ("signature", short_hash(sig.digest) if sig else None),
            (
                "code / config / inputs",
                " / ".join(short_hash(h) for h in (sig.code_hash, sig.config_hash, sig.input_hash))
                if sig
                else None,
            ),
            ("config", clip(json.dumps(dict(self.config), sort_keys=True, default=str))),
            ("error", f"{self.error_type}: {self.error_message}" if self.error_type else None),
        ]
        return [(label, str(value)) for label, value in facts if value is not None]

    def _card(self) -> Card:
        return Card("Run", self.id, self.badge, self.card_fields())

    def to_dict(self) -> dict[str, Any]:
        sig = self.signature
        return {
            "id": self.id,
            "model": self.model,
            "status": str(self.status),
            "parent_run_id": self.parent_run_id,
            "year": self.year,
            "iteration": self.iteration,
            "tags": list(self.tags),
            "signature": sig.digest if sig else None,
            "code_hash": sig.code_hash if sig else None,
            "config_hash": sig.config_hash if sig else None,
            "input_hash": sig.input_hash if sig else None,
            "config": dict(self.config),
            "facet": dict(self.facet) if self.facet is not None else None,
            "created_at": self.created_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "cache_hit": self.cache_hit,
            "cached_from": self.cached_from,
            "error_type": self.error_type,
            "error_message": self.error_message,
            "meta": dict(self.meta),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Run:
        signature = None
        if data.get("code_hash") is not None:
            signature = Signature(data["code_hash"], data["config_hash"], data["input_hash"])
        return cls(
            id=data["id"],
            model=data.get("model"),
            status=data.get("status", RunStatus.RUNNING),
            parent_run_id=data.get("parent_run_id"),
            year=data.get("year"),
            iteration=data.get("iteration"),
            tags=data.get("tags") or (),
            signature=signature,
            config=data.get("config") or {},
            facet=data.get("facet"),
            created_at=parse_time(data["created_at"]),
            ended_at=parse_time(data.get("ended_at")),
            cache_hit=bool(data.get("cache_hit", False)),
            cached_from=data.get("cached_from"),
            error_type=data.get("error_type"),
            error_message=data.get("error_message"),
            meta=data.get("meta") or {},
        )


def _artifact_tuple(items: Iterable[Artifact]) -> tuple[Artifact, ...]:
    return tuple(items)


def _link_tuple(items: Iterable[RunArtifactLink]) -> tuple[RunArtifactLink, ...]:
    return tuple(items)


@attrs.frozen
class RunRecord(Displayable):
    """Everything a catalog indexes about one run: the run, its artifacts and links.

    This is the content of a run's JSON snapshot, and the unit the catalog
    stores atomically.
    """

    run: Run
    artifacts: tuple[Artifact, ...] = attrs.field(default=(), converter=_artifact_tuple)
    links: tuple[RunArtifactLink, ...] = attrs.field(default=(), converter=_link_tuple)

    def artifacts_by_direction(self, direction: Direction) -> dict[str, Artifact]:
        by_id = {a.id: a for a in self.artifacts}
        return {
            link.key: by_id[link.artifact_id]
            for link in self.links
            if link.direction == direction and link.artifact_id in by_id
        }

    def _card(self) -> Card:
        tables = [
            CardTable(
                f"{direction}s",
                ("key", "uri", "hash"),
                [
                    (key, clip(a.uri, 80), short_hash(a.content_hash))
                    for key, a in sorted(self.artifacts_by_direction(direction).items())
                ],
            )
            for direction in (Direction.INPUT, Direction.OUTPUT)
        ]
        return Card("Run", self.run.id, self.run.badge, self.run.card_fields(), tables)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run.to_dict(),
            "artifacts": [a.to_dict() for a in self.artifacts],
            "links": [link.to_dict() for link in self.links],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        return cls(
            run=Run.from_dict(data["run"]),
            artifacts=tuple(Artifact.from_dict(a) for a in data.get("artifacts", ())),
            links=tuple(RunArtifactLink.from_dict(link) for link in data.get("links", ())),
        )


def _optional_text(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_text(value, f"find_runs({attribute.name}=...)", optional=True, max_chars=1000)


def _optional_int(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_int(value, f"find_runs({attribute.name}=...)", optional=True)


def _limit(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    check_int(value, "find_runs(limit=...)", optional=True, minimum=0)


def _query_status(value: Any) -> RunStatus | None:
    if value is None or isinstance(value, RunStatus):
        return value
    if isinstance(value, str) and value in RunStatus._value2member_map_:
        return RunStatus(value)
    known = ", ".join(repr(s.value) for s in RunStatus)
    raise InvalidInput(f"find_runs(status=...) must be one of {known} or None, not {value!r:.80}")


def _query_tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    tags = (value,) if isinstance(value, str) else value
    if not isinstance(tags, Iterable) or isinstance(tags, Mapping | bytes):
        raise InvalidInput(
            f"find_runs(tags=...) must be a str or a list of str, not {type(value).__name__}"
        )
    return tuple(check_text(tag, "find_runs(tags=...)", max_chars=1000) for tag in tags)


@attrs.frozen
class RunQuery:
    """Filters for finding runs; every field left as None matches anything."""

    parent_run_id: str | None = attrs.field(default=None, validator=_optional_text)
    model: str | None = attrs.field(default=None, validator=_optional_text)
    year: int | None = attrs.field(default=None, validator=_optional_int)
    iteration: int | None = attrs.field(default=None, validator=_optional_int)
    status: RunStatus | None = attrs.field(default=None, converter=_query_status)
    tags: tuple[str, ...] = attrs.field(default=(), converter=_query_tags)
    signature: str | None = attrs.field(default=None, validator=_optional_text)
    limit: int | None = attrs.field(default=None, validator=_limit)

    def matches(self, run: Run) -> bool:
        """The reference semantics every catalog's filter must agree with."""
        checks = (
            (self.parent_run_id, run.parent_run_id),
            (self.model, run.model),
            (self.year, run.year),
            (self.iteration, run.iteration),
            (self.status, run.status),
            (self.signature, run.signature_digest),
        )
        if any(wanted is not None and wanted != actual for wanted, actual in checks):
            return False
        return set(self.tags).issubset(run.tags)


def newest_first(runs: list[Run]) -> list[Run]:
    """Runs sorted newest first; ties broken by id so the order is stable."""
    return sorted(runs, key=lambda r: (r.created_at, r.id), reverse=True)
