"""Every Catalog read, written once over the shared layout.

An adapter mixes in :class:`RelationalReads`, names its :class:`Dialect` and
says how to run a group of reads together (:meth:`RelationalReads._reading`):
on one cursor, inside one retried transaction, ...
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

from consist.domain import Artifact, Run, RunArtifactLink, RunQuery, RunRecord, RunStatus
from consist.domain.errors import ArtifactNotFound, RunNotFound

from .dialect import Dialect
from .rows import artifact_from_row, run_from_row

__all__ = ["Fetch", "RelationalReads"]

T = TypeVar("T")
Fetch = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

_LINK_COLUMNS = "run_id, artifact_id, direction, key"
_NEWEST_FIRST = " ORDER BY created_at DESC, id DESC"


class RelationalReads:
    """The reading half of the Catalog port over the shared relational layout."""

    dialect: Dialect

    def _reading(self, read: Callable[[Fetch], T]) -> T:
        """Call ``read(fetch)``, where ``fetch(sql, params)`` returns all rows."""
        raise NotImplementedError

    def _run(self, row: tuple[Any, ...]) -> Run:
        return run_from_row(row, self.dialect.read_time)

    def _artifact(self, row: tuple[Any, ...]) -> Artifact:
        return artifact_from_row(row, self.dialect.read_time)

    def _get_run(self, fetch: Fetch, run_id: str) -> Run:
        rows = fetch(f"SELECT {self.dialect.run_select} FROM runs WHERE id = ?", [run_id])
        if not rows:
            raise RunNotFound(run_id)
        return self._run(rows[0])

    def get_record(self, run_id: str) -> RunRecord:
        def read(fetch: Fetch) -> RunRecord:
            run = self._get_run(fetch, run_id)
            links = [
                RunArtifactLink(*row)
                for row in fetch(
                    f"SELECT {_LINK_COLUMNS} FROM run_artifact_links WHERE run_id = ? "
                    "ORDER BY position",
                    [run_id],
                )
            ]
            rows = fetch(
                f"SELECT {self.dialect.artifact_select} FROM artifacts WHERE id IN "
                "(SELECT artifact_id FROM run_artifact_links WHERE run_id = ?)",
                [run_id],
            )
            found = {a.id: a for a in map(self._artifact, rows)}
            ordered = {link.artifact_id: found[link.artifact_id] for link in links}
            return RunRecord(run, tuple(ordered.values()), tuple(links))

        return self._reading(read)

    def has_run(self, run_id: str) -> bool:
        """Whether ``run_id`` is taken (``SupportsRunExists``): no row is decoded."""
        return bool(self._reading(lambda fetch: fetch("SELECT 1 FROM runs WHERE id = ?", [run_id])))

    def get_run(self, run_id: str) -> Run:
        return self._reading(lambda fetch: self._get_run(fetch, run_id))

    def find_runs(self, query: RunQuery) -> list[Run]:
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("parent_run_id", query.parent_run_id),
            ("model", query.model),
            ("year", query.year),
            ("iteration", query.iteration),
            ("status", None if query.status is None else str(query.status)),
            ("signature", query.signature),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if query.tags:
            clauses, values = self.dialect.tags_filter(query.tags)
            where += clauses
            params += values
        sql = f"SELECT {self.dialect.run_select} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        narrowed = any(v is not None for v in (query.signature, query.parent_run_id, query.model))
        in_python = narrowed and self.dialect.sort_narrowed_in_python
        if not in_python:
            sql += _NEWEST_FIRST
            if query.limit is not None:
                sql += " LIMIT ?"
                params.append(query.limit)
        runs = [self._run(row) for row in self._reading(lambda fetch: fetch(sql, params))]
        if in_python:
            runs.sort(key=lambda r: (r.created_at, r.id), reverse=True)
            runs = runs[: query.limit] if query.limit is not None else runs
        return runs

    def find_by_signature(self, signature: str) -> Run | None:
        # The cache lookup of every step: plain SQL, no RunQuery to build and check.
        sql = f"SELECT {self.dialect.run_select} FROM runs WHERE signature = ? AND status = ?"
        if not self.dialect.sort_narrowed_in_python:
            sql += _NEWEST_FIRST + " LIMIT 1"
        params = [signature, str(RunStatus.COMPLETED)]
        runs = [self._run(row) for row in self._reading(lambda fetch: fetch(sql, params))]
        return max(runs, key=lambda r: (r.created_at, r.id), default=None)

    def completed_signatures(self, signatures: Collection[str]) -> set[str]:
        """Which signatures a completed run has (``SupportsSignatureLookup``), in as few
        queries as the engine's parameter limit allows."""
        wanted = list(signatures)
        step = self.dialect.max_values

        def read(fetch: Fetch) -> set[str]:
            found = set[str]()
            for start in range(0, len(wanted), step):
                operand, values = self.dialect.value_list(wanted[start : start + step])
                rows = fetch(
                    "SELECT DISTINCT signature FROM runs WHERE status = ? "
                    f"AND signature IN {operand}",
                    [str(RunStatus.COMPLETED), *values],
                )
                found.update(row[0] for row in rows)
            return found

        return self._reading(read) if wanted else set()

    def get_artifact(self, artifact_id: str) -> Artifact:
        rows = self._reading(
            lambda fetch: fetch(
                f"SELECT {self.dialect.artifact_select} FROM artifacts WHERE id = ?",
                [artifact_id],
            )
        )
        if not rows:
            raise ArtifactNotFound(artifact_id)
        return self._artifact(rows[0])

    def find_artifacts(
        self,
        *,
        uri: str | None = None,
        content_hash: str | None = None,
        key: str | None = None,
    ) -> list[Artifact]:
        wanted = {"uri": uri, "content_hash": content_hash, "key": key}
        where = [f"{column} = ?" for column, value in wanted.items() if value is not None]
        params = [value for value in wanted.values() if value is not None]
        sql = f"SELECT {self.dialect.artifact_select} FROM artifacts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._reading(lambda fetch: fetch(sql + _NEWEST_FIRST, params))
        return [self._artifact(row) for row in rows]

    def links_of_artifact(self, artifact_id: str) -> list[RunArtifactLink]:
        rows = self._reading(
            lambda fetch: fetch(
                f"SELECT {_LINK_COLUMNS} FROM run_artifact_links WHERE artifact_id = ? "
                "ORDER BY run_id, position",
                [artifact_id],
            )
        )
        return [RunArtifactLink(*row) for row in rows]

    def run_ids(self) -> set[str]:
        return {row[0] for row in self._reading(lambda fetch: fetch("SELECT id FROM runs", []))}
