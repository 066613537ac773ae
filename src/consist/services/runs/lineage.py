"""Lineage walks: what a run or artifact came from, and what was built from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from consist.domain import Artifact, Direction, Run
from consist.domain.errors import NotFound

if TYPE_CHECKING:
    from consist.services.runs.queries import RunQueries


@attrs.frozen
class LineageNode:
    """A run or an artifact, with the nodes one step further in the walk's direction."""

    kind: str  # "run" or "artifact"
    id: str
    label: str
    children: tuple[LineageNode, ...] = ()
    repeated: bool = False  # already shown elsewhere in this walk (a DAG, not a tree)

    def walk(self) -> list[LineageNode]:
        nodes = [self]
        for child in self.children:
            nodes.extend(child.walk())
        return nodes

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "label": self.label,
            "repeated": self.repeated,
            "children": [c.to_dict() for c in self.children],
        }


def upstream(queries: RunQueries, ref: Run | Artifact | str, max_depth: int = 50) -> LineageNode:
    """Everything ``ref`` was derived from: runs -> their inputs -> their producers ..."""
    return _walk(queries, ref, Direction.INPUT, max_depth)


def downstream(queries: RunQueries, ref: Run | Artifact | str, max_depth: int = 50) -> LineageNode:
    """Everything derived from ``ref``: runs -> their outputs -> the runs reading them ..."""
    return _walk(queries, ref, Direction.OUTPUT, max_depth)


def _walk(
    queries: RunQueries, ref: Run | Artifact | str, direction: Direction, max_depth: int
) -> LineageNode:
    seen: set[tuple[str, str]] = set()
    if isinstance(ref, Run):
        return _run_node(queries, ref, direction, max_depth, seen)
    if isinstance(ref, Artifact):
        return _artifact_node(queries, ref, direction, max_depth, seen)
    try:
        return _run_node(queries, queries.get_run(ref), direction, max_depth, seen)
    except NotFound:
        return _artifact_node(queries, queries.resolve_artifact(ref), direction, max_depth, seen)


def _run_node(
    queries: RunQueries, run: Run, direction: Direction, depth: int, seen: set[tuple[str, str]]
) -> LineageNode:
    label = f"{run.model or 'run'} {run.id}" + (" (cache hit)" if run.cache_hit else "")
    if ("run", run.id) in seen:
        return LineageNode("run", run.id, label, repeated=True)
    seen.add(("run", run.id))
    if depth <= 0:
        return LineageNode("run", run.id, label)
    record = queries.get_record(run.id)
    artifacts = record.artifacts_by_direction(direction)
    children = tuple(
        _artifact_node(queries, artifacts[key], direction, depth - 1, seen)
        for key in sorted(artifacts)
    )
    return LineageNode("run", run.id, label, children)


def _artifact_node(
    queries: RunQueries,
    artifact: Artifact,
    direction: Direction,
    depth: int,
    seen: set[tuple[str, str]],
) -> LineageNode:
    label = f"{artifact.key} {artifact.uri}"
    if ("artifact", artifact.id) in seen:
        return LineageNode("artifact", artifact.id, label, repeated=True)
    seen.add(("artifact", artifact.id))
    if depth <= 0:
        return LineageNode("artifact", artifact.id, label)
    if direction is Direction.INPUT:
        producer = queries.get_producer(artifact)
        runs = [producer] if producer is not None else []
    else:
        readers = {
            link.run_id
            for link in queries.links_of_artifact(artifact.id)
            if link.direction is Direction.INPUT
        }
        runs = sorted((queries.get_run(r) for r in readers), key=lambda r: r.created_at)
    children = tuple(_run_node(queries, r, direction, depth - 1, seen) for r in runs)
    return LineageNode("artifact", artifact.id, label, children)
