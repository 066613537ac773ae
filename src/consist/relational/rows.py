"""Rows of the relational catalog layout that SQL catalog adapters share.

One run record becomes rows of ``runs``, ``artifacts``, ``run_artifact_links``,
``config_facet``/``run_config_kv``, ``artifact_facet``/``artifact_kv`` and
``file_schemas``; rows of ``runs`` and ``artifacts`` become Runs and Artifacts
again. Engines differ only in how they store timestamps and booleans, so the
adapter passes those conversions in. Standard library and domain only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

from consist.domain import Artifact, Run, RunRecord, Signature
from consist.domain.errors import InvalidInput
from consist.domain.facets import facet_id, flatten

__all__ = [
    "ARTIFACT_COLUMNS",
    "RUN_COLUMNS",
    "RecordRows",
    "artifact_from_row",
    "dumps",
    "flat",
    "kv_rows",
    "run_from_row",
    "schema_rows",
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

Rows = list[dict[str, Any]]
StoreTime = Callable[[dt.datetime | None], Any]
ReadTime = Callable[[Any], dt.datetime]


def dumps(value: Any, what: str) -> str:
    """Strict compact JSON; ``InvalidInput`` naming ``what`` if it has no JSON form."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} cannot be stored as JSON: {exc}") from None


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def flat(groups: Mapping[str, Rows]) -> Rows:
    return [row for rows in groups.values() for row in rows]


def schema_rows(artifact_id: str, meta: Any) -> Rows:
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


def kv_rows(
    owner: str,
    owner_id: str,
    namespace: str,
    facet: Mapping[str, Any],
    *,
    bool_as_int: bool = False,
) -> Rows:
    """Typed key/value rows of a facet; integers wider than 64 bits are kept exact as JSON."""
    rows = []
    for leaf in flatten(facet):
        columns = leaf.columns
        value_int = columns["value_int"]
        if value_int is not None and not _INT64[0] <= value_int <= _INT64[1]:
            columns["value_int"], columns["value_json"] = None, json.dumps(value_int)
        if bool_as_int and columns["value_bool"] is not None:
            columns["value_bool"] = int(columns["value_bool"])
        rows.append(
            {owner: owner_id, "namespace": namespace, "key": leaf.key,
             "value_type": leaf.value_type, **columns}
        )  # fmt: skip
    return rows


class RecordRows:
    """Rows of every table for a batch of records; later records replace earlier ones.

    Parameters
    ----------
    store_time
        How the engine stores a timestamp (datetime as is, ISO text, ...).
    bool_as_int
        Store booleans as 0/1 (engines without a boolean type).
    """

    def __init__(self, store_time: StoreTime = lambda t: t, bool_as_int: bool = False) -> None:
        self._time = store_time
        self._bool_as_int = bool_as_int
        self.runs: dict[str, dict[str, Any]] = {}
        self.artifacts: dict[str, dict[str, Any]] = {}
        self.links: dict[str, Rows] = {}
        self.run_kv: dict[str, Rows] = {}
        self.artifact_kv: dict[str, Rows] = {}
        self.schemas: dict[str, Rows] = {}
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
                "facet": dumps(dict(run.facet), f"the facet of {what}"),
            }
            self.run_kv[run.id] = kv_rows(
                "run_id", run.id, namespace, run.facet, bool_as_int=self._bool_as_int
            )
        self.runs[run.id] = {
            "id": run.id,
            "model": run.model,
            "status": str(run.status),
            "parent_run_id": run.parent_run_id,
            "year": run.year,
            "iteration": run.iteration,
            "tags": dumps(list(run.tags), f"the tags of {what}"),
            "signature": sig.digest if sig else None,
            "code_hash": sig.code_hash if sig else None,
            "config_hash": sig.config_hash if sig else None,
            "input_hash": sig.input_hash if sig else None,
            "config": dumps(dict(run.config), f"the config of {what}"),
            "facet": None if run.facet is None else dumps(dict(run.facet), what),
            "facet_id": run_facet_id,
            "created_at": self._time(run.created_at),
            "ended_at": self._time(run.ended_at),
            "cache_hit": int(run.cache_hit) if self._bool_as_int else run.cache_hit,
            "cached_from": run.cached_from,
            "error_type": run.error_type,
            "error_message": run.error_message,
            "meta": dumps(dict(run.meta), f"the meta of {what}"),
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
                "facet": dumps(dict(artifact.facet), f"the facet of {what}"),
            }
            self.artifact_kv[artifact.id] = kv_rows(
                "artifact_id", artifact.id, artifact.key, artifact.facet,
                bool_as_int=self._bool_as_int,
            )  # fmt: skip
        self.schemas[artifact.id] = schema_rows(artifact.id, artifact.meta)
        self.artifacts[artifact.id] = {
            "id": artifact.id,
            "key": artifact.key,
            "uri": artifact.uri,
            "driver": artifact.driver,
            "content_hash": artifact.content_hash,
            "size": artifact.size,
            "producer_run_id": artifact.producer_run_id,
            "meta": dumps(dict(artifact.meta), f"the meta of {what}"),
            "created_at": self._time(artifact.created_at),
            "facet": None if artifact.facet is None else dumps(dict(artifact.facet), what),
            "facet_id": art_facet_id,
            "abs_path": _encodable_or_none(artifact.abs_path),
        }


def _encodable_or_none(path: str | None) -> str | None:
    """``abs_path`` is a hint; one that is not UTF-8 is left out (the URI keeps it losslessly)."""
    if path is None:
        return None
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return path


def run_from_row(row: tuple[Any, ...], read_time: ReadTime) -> Run:
    """A Run from a row of ``RUN_COLUMNS``; ``read_time`` decodes the engine's timestamps."""
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
        created_at=read_time(created),
        ended_at=None if ended is None else read_time(ended),
        cache_hit=bool(cache_hit),
        cached_from=cached_from,
        error_type=error_type,
        error_message=error_message,
        meta=json.loads(meta),
    )


def artifact_from_row(row: tuple[Any, ...], read_time: ReadTime) -> Artifact:
    """An Artifact from a row of ``ARTIFACT_COLUMNS``."""
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
        created_at=read_time(created),
        facet=_loads(facet),
        abs_path=abs_path,
    )
