"""Reading runs and artifacts back: lookups, lineage walks (``tracker.get_run`` ...).

Reads go through the layered view: this process's own recent writes from
memory, the rest from the catalog, never waiting for background writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, overload

import attrs

from consist.display import run_table
from consist.domain import Artifact, Direction, Run, RunQuery, RunRecord
from consist.domain.checks import check_int, check_text
from consist.domain.errors import ArtifactNotFound, InvalidInput, RunNotFound
from consist.services.runs import lineage
from consist.services.runs.lineage import LineageNode
from consist.services.store.catalog_reader import LayeredCatalog

# Told of the artifacts a query hands out (the facade remembers who returned them).
HandOut = Callable[[Iterable[Artifact]], None]


def _lookup_text(value: Any, what: str) -> str:
    """An id or URI to look up: text a catalog engine can encode (an unknown one is NotFound)."""
    return str(check_text(value, what, allow_empty=True, allow_control=True))


@attrs.frozen
class RunArtifacts:
    """A run's artifacts by key: ``.inputs`` and ``.outputs``."""

    inputs: Mapping[str, Artifact]
    outputs: Mapping[str, Artifact]


class RunQueries:
    """Lookups of runs and artifacts, and lineage walks, over the layered catalog view."""

    def __init__(self, reader: LayeredCatalog, hand_out: HandOut = lambda artifacts: None) -> None:
        self._reader = reader
        self._hand_out = hand_out

    def get_run(self, run_id: str) -> Run:
        """Raises RunNotFound."""
        return self._reader.get_run(_lookup_text(run_id, "run_id"))

    def get_record(self, run_id: str) -> RunRecord:
        return self._reader.get_record(_lookup_text(run_id, "run_id"))

    @overload
    def find_runs(
        self, /, query: RunQuery | None = None, *, as_: Literal["list"] = "list", **filters: Any
    ) -> list[Run]: ...

    @overload
    def find_runs(self, /, query: RunQuery | None = None, *, as_: str, **filters: Any) -> Any: ...

    def find_runs(
        self, /, query: RunQuery | None = None, *, as_: str = "list", **filters: Any
    ) -> Any:
        """Runs matching every filter, newest first; InvalidInput for an unknown or bad filter.

        ``as_="pandas"`` or ``"polars"`` returns a DataFrame instead of a list: one row
        per run (id, model, scenario, year, iteration, status, started, ended,
        duration_s, cache_hit, cached_from, signature, tags) and a ``facet.<key>``
        column per facet value.
        """
        kind = run_table.check_as(as_, "find_runs")
        runs = self._find_runs(query, **filters)
        return runs if kind == "list" else run_table.runs_frame(runs, kind)

    def history(self, /, *, as_: str = "pandas", **filters: Any) -> Any:
        """Every run (or those matching ``filters``, as for find_runs) as a DataFrame,
        newest first: pandas by default, ``as_="polars"`` for polars."""
        if as_ == "list":
            raise InvalidInput("history(as_=...) must be 'pandas' or 'polars'; find_runs lists")
        return self.find_runs(as_=run_table.check_as(as_, "history"), **filters)

    def _find_runs(self, /, query: RunQuery | None = None, **filters: Any) -> list[Run]:
        if query is not None and not isinstance(query, RunQuery):
            raise InvalidInput(f"find_runs(query=...) takes a RunQuery, not {type(query).__name__}")
        known = {field.name for field in attrs.fields(RunQuery)}
        unknown = sorted(set(filters) - known)
        if unknown:
            raise InvalidInput(
                f"find_runs got unknown filter(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return self._reader.find_runs(query or RunQuery(**filters))

    def find_by_signature(self, signature: str) -> Run | None:
        return self._reader.find_by_signature(_lookup_text(signature, "signature"))

    def completed_signatures(self, signatures: Sequence[str]) -> set[str]:
        """Which of ``signatures`` a completed run has (a sweep's cache check, batched)."""
        return self._reader.completed_signatures([_lookup_text(s, "signature") for s in signatures])

    def get_artifact(self, artifact_id: str) -> Artifact:
        artifact_id = _lookup_text(artifact_id, "artifact_id")
        return self._handed_out(self._reader.get_artifact(artifact_id))

    def _find_artifacts(self, **filters: Any) -> list[Artifact]:
        # Not remembered in owners: views and hydration search the whole catalog here,
        # and one entry per artifact ever listed would live as long as the tracker.
        return self._reader.find_artifacts(**filters)

    def _handed_out(self, artifact: Artifact) -> Artifact:
        self._hand_out((artifact,))
        return artifact

    def find_artifacts(
        self, *, key: str | None = None, uri: str | None = None, content_hash: str | None = None
    ) -> list[Artifact]:
        for name, value in (("key", key), ("uri", uri), ("content_hash", content_hash)):
            check_text(value, f"find_artifacts({name}=...)", optional=True, allow_empty=True)
        return self._find_artifacts(key=key, uri=uri, content_hash=content_hash)

    def get_artifacts_for_run(self, run_id: str) -> RunArtifacts:
        """The run's artifacts by key, as ``.inputs`` and ``.outputs``."""
        record = self.get_record(run_id)
        self._hand_out(record.artifacts)
        return RunArtifacts(
            inputs=record.artifacts_by_direction(Direction.INPUT),
            outputs=record.artifacts_by_direction(Direction.OUTPUT),
        )

    def get_producer(self, artifact: Artifact | str) -> Run | None:
        """The run that wrote the artifact (None for raw inputs)."""
        found = artifact if isinstance(artifact, Artifact) else self.get_artifact(artifact)
        if found.producer_run_id is None:
            return None
        try:
            return self.get_run(found.producer_run_id)
        except RunNotFound:
            return None

    def lineage(
        self, ref: Run | Artifact | str, direction: str = "upstream", max_depth: int = 50
    ) -> LineageNode:
        """Lineage tree of a run or artifact: ``"upstream"`` (sources) or ``"downstream"``."""
        if direction not in ("upstream", "downstream"):
            raise InvalidInput(f"direction must be 'upstream' or 'downstream', not {direction!r}")
        if isinstance(ref, str):
            _lookup_text(ref, "lineage ref")
        elif not isinstance(ref, Run | Artifact):
            raise InvalidInput(
                f"lineage takes a Run, an Artifact or an id, not {type(ref).__name__}"
            )
        check_int(max_depth, "max_depth", minimum=0)
        walk = lineage.upstream if direction == "upstream" else lineage.downstream
        return walk(self, ref, max_depth)

    def links_of_artifact(self, artifact_id: str) -> list[Any]:
        return self._reader.links_of_artifact(_lookup_text(artifact_id, "artifact_id"))

    def resolve_artifact(self, ref: Artifact | str) -> Artifact:
        """An Artifact from itself, its id, or a URI."""
        if isinstance(ref, Artifact):
            return ref
        try:
            return self.get_artifact(ref)
        except ArtifactNotFound:
            found = self._find_artifacts(uri=ref)
            if found:
                return found[0]
            raise
