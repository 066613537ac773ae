"""Runs and artifacts to SQLite rows and back, facets flattened to key/value rows."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from consist.domain import Artifact, Run, RunRecord
from consist.domain.errors import InvalidInput
from consist.domain.facets import facet_id, flatten
from consist.domain.signature import Signature

__all__ = [
    "ARTIFACT_COLUMNS",
    "RUN_COLUMNS",
    "Rows",
    "artifact_from_row",
    "run_from_row",
    "schema_rows",
    "timestamp",
]

RUN_COLUMNS = (
    "id, model, status, parent_run_id, year, iteration, tags, code_hash, config_hash, "
    "input_hash, config, facet, created_at, ended_at, cache_hit, cached_from, error_type, "
    "error_message, meta"
)
ARTIFACT_COLUMNS = (
    "id, key, uri, driver, content_hash, size, producer_run_id, meta, created_at, facet, abs_path"
)
_INT64 = (-(2**63), 2**63 - 1)


def timestamp(value: dt.datetime | None) -> str | None:
    """Fixed-width UTC ISO 8601, so text order is time order (naive times count as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _maybe_time(text: str | None) -> dt.datetime | None:
    return None if text is None else _parse_time(text)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} cannot be stored as JSON: {exc}") from None


def run_from_row(row: tuple[Any, ...]) -> Run:
    (run_id, model, status, parent, year, iteration, tags, code, config_hash, input_hash,
     config, facet, created, ended, cache_hit, cached_from, error_type, error_message,
     meta) = row  # fmt: skip
    return Run(
        id=run_id,
        model=model,
        status=status,
        parent_run_id=parent,
        year=year,
        iteration=iteration,
        tags=json.loads(tags),
        signature=None if code is None else Signature(code, config_hash, input_hash),
        config=json.loads(config),
        facet=_loads(facet),
        created_at=_parse_time(created),
        ended_at=_maybe_time(ended),
        cache_hit=bool(cache_hit),
        cached_from=cached_from,
        error_type=error_type,
        error_message=error_message,
        meta=json.loads(meta),
    )


def artifact_from_row(row: tuple[Any, ...]) -> Artifact:
    (artifact_id, key, uri, driver, content_hash, size, producer, meta, created, facet,
     abs_path) = row  # fmt: skip
    return Artifact(
        id=artifact_id,
        key=key,
        uri=uri,
        driver=driver,
        content_hash=content_hash,
        size=size,
        producer_run_id=producer,
        meta=json.loads(meta),
        created_at=_parse_time(created),
        facet=_loads(facet),
        abs_path=abs_path,
    )


def schema_rows(artifact_id: str, meta: Any) -> list[dict[str, Any]]:
    """``file_schemas`` rows from ``meta["file_schema"]`` (a list of {"name", "type"})."""
    columns = meta.get("file_schema") if isinstance(meta, Mapping) else None
    if not isinstance(columns, list):
        return []
    return [
        {
            "artifact_id": artifact_id,
            "position": position,
            "name": str(column["name"]),
            "type": None if column.get("type") is None else str(column["type"]),
        }
        for position, column in enumerate(columns)
        if isinstance(column, Mapping) and column.get("name") is not None
    ]


def _kv_rows(owner: str, owner_id: str, namespace: str, facet: Mapping[str, Any]) -> list[Any]:
    rows = []
    for leaf in flatten(facet):
        columns = leaf.columns
        value_int = columns["value_int"]
        if value_int is not None and not _INT64[0] <= value_int <= _INT64[1]:
            # Too wide for an SQLite integer: keep it exact as JSON text.
            columns["value_int"], columns["value_json"] = None, json.dumps(value_int)
        if columns["value_bool"] is not None:
            columns["value_bool"] = int(columns["value_bool"])
        rows.append(
            {owner: owner_id, "namespace": namespace, "key": leaf.key,
             "value_type": leaf.value_type, **columns}
        )  # fmt: skip
    return rows


class Rows:
    """Rows of every table for a batch of records; later records replace earlier ones."""

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}
        self.artifacts: dict[str, dict[str, Any]] = {}
        self.links: dict[str, list[dict[str, Any]]] = {}
        self.run_kv: dict[str, list[dict[str, Any]]] = {}
        self.artifact_kv: dict[str, list[dict[str, Any]]] = {}
        self.schemas: dict[str, list[dict[str, Any]]] = {}
        self.config_facets: dict[str, dict[str, Any]] = {}
        self.artifact_facets: dict[str, dict[str, Any]] = {}

    def add(self, record: RunRecord) -> None:
        run = record.run
        what = f"run {run.id!r}"
        sig = run.signature
        run_facet_id = None
        self.run_kv[run.id] = []
        if run.facet is not None:
            namespace = run.model or "default"
            run_facet_id = facet_id(namespace, run.facet)
            self.config_facets[run_facet_id] = {
                "facet_id": run_facet_id,
                "namespace": namespace,
                "facet": _dumps(dict(run.facet), f"the facet of {what}"),
            }
            self.run_kv[run.id] = _kv_rows("run_id", run.id, namespace, run.facet)
        self.runs[run.id] = {
            "id": run.id,
            "model": run.model,
            "status": str(run.status),
            "parent_run_id": run.parent_run_id,
            "year": run.year,
            "iteration": run.iteration,
            "tags": _dumps(list(run.tags), f"the tags of {what}"),
            "signature": sig.digest if sig else None,
            "code_hash": sig.code_hash if sig else None,
            "config_hash": sig.config_hash if sig else None,
            "input_hash": sig.input_hash if sig else None,
            "config": _dumps(dict(run.config), f"the config of {what}"),
            "facet": None if run.facet is None else _dumps(dict(run.facet), what),
            "facet_id": run_facet_id,
            "created_at": timestamp(run.created_at),
            "ended_at": timestamp(run.ended_at),
            "cache_hit": int(run.cache_hit),
            "cached_from": run.cached_from,
            "error_type": run.error_type,
            "error_message": run.error_message,
            "meta": _dumps(dict(run.meta), f"the meta of {what}"),
        }
        self.links[run.id] = [
            {
                "run_id": run.id,
                "artifact_id": link.artifact_id,
                "direction": str(link.direction),
                "key": link.key,
                "position": position,
            }
            for position, link in enumerate(record.links)
        ]
        for artifact in record.artifacts:
            self._add_artifact(artifact)

    def _add_artifact(self, artifact: Artifact) -> None:
        what = f"artifact {artifact.id!r}"
        art_facet_id = None
        self.artifact_kv[artifact.id] = []
        if artifact.facet is not None:
            art_facet_id = facet_id(artifact.key, artifact.facet)
            self.artifact_facets[art_facet_id] = {
                "facet_id": art_facet_id,
                "namespace": artifact.key,
                "facet": _dumps(dict(artifact.facet), f"the facet of {what}"),
            }
            self.artifact_kv[artifact.id] = _kv_rows(
                "artifact_id", artifact.id, artifact.key, artifact.facet
            )
        self.schemas[artifact.id] = schema_rows(artifact.id, artifact.meta)
        self.artifacts[artifact.id] = {
            "id": artifact.id,
            "key": artifact.key,
            "uri": artifact.uri,
            "driver": artifact.driver,
            "content_hash": artifact.content_hash,
            "size": artifact.size,
            "producer_run_id": artifact.producer_run_id,
            "meta": _dumps(dict(artifact.meta), f"the meta of {what}"),
            "created_at": timestamp(artifact.created_at),
            "facet": None if artifact.facet is None else _dumps(dict(artifact.facet), what),
            "facet_id": art_facet_id,
            "abs_path": artifact.abs_path,
        }

    @staticmethod
    def flat(groups: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        return [row for rows in groups.values() for row in rows]
