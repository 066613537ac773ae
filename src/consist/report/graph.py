"""The report's lineage graph: runs and artifacts as nodes, collapsed when there are many.

A graph with one box per run stops being readable (and fast) after a few
hundred runs, so runs are grouped at the finest level that stays under a node
budget: one node per run, else one per step per scenario, else one per step.
Artifacts follow the node of the run that produced them; files no run in the
report produced (raw inputs, or outputs of runs left out by a filter) are
grouped by URI.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from consist.domain import Direction, Run, RunStatus
from consist.domain.errors import InvalidInput

LEVELS = ("run", "scenario-step", "step")
DEFAULT_MAX_NODES = 300
_SEP = "\x1f"


@attrs.frozen
class LinkRow:
    """One run-artifact link with the artifact fields the report shows."""

    run_id: str
    direction: Direction
    key: str
    artifact_id: str
    artifact_key: str
    uri: str
    content_hash: str | None = None
    producer_run_id: str | None = None


@attrs.frozen
class Graph:
    level: str
    nodes: tuple[dict[str, Any], ...]
    edges: tuple[dict[str, Any], ...]
    clusters: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "nodes": list(self.nodes),
            "edges": list(self.edges),
            "clusters": list(self.clusters),
        }


def short_hash(digest: str | None, width: int = 10) -> str | None:
    return digest[:width] if digest else None


def hit_text(run: Run) -> str:
    """``hit``, ``miss`` (completed and executed) or ``-`` (running or failed)."""
    if run.cache_hit:
        return "hit"
    return "miss" if run.status is RunStatus.COMPLETED else "-"


def build_graph(
    steps: Sequence[Run],
    links: Iterable[LinkRow],
    *,
    level: str | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> Graph:
    """The lineage graph of ``steps`` (scenario headers excluded) and their ``links``.

    ``level`` forces one of :data:`LEVELS`; by default the finest level whose
    node count stays within ``max_nodes`` is used (the coarsest one otherwise).
    """
    if level is not None and level not in LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(LEVELS)} or None, not {level!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise InvalidInput(f"max_nodes must be a positive int, not {max_nodes!r}")
    links = list(links)
    if level is not None:
        return _graph_at(level, steps, links)
    graph = None
    for candidate in LEVELS:
        graph = _graph_at(candidate, steps, links)
        if len(graph.nodes) <= max_nodes:
            return graph
    assert graph is not None
    return graph


def _run_node_id(level: str, run: Run) -> str:
    step = run.model or "run"
    if level == "run":
        return "r:" + run.id
    if level == "scenario-step":
        return "g:" + (run.parent_run_id or "") + _SEP + step
    return "s:" + step


def _graph_at(level: str, steps: Sequence[Run], links: list[LinkRow]) -> Graph:
    members: dict[str, list[Run]] = defaultdict(list)
    node_of: dict[str, str] = {}
    for run in steps:
        node_of[run.id] = _run_node_id(level, run)
        members[node_of[run.id]].append(run)

    step_nodes = {node_id: _step_node(level, node_id, runs) for node_id, runs in members.items()}
    artifacts: dict[str, dict[str, Any]] = {}
    edges: Counter[tuple[str, str]] = Counter()
    for link in links:
        if link.run_id not in node_of:
            continue
        art_id = _artifact_node_id(level, link, node_of)
        node = artifacts.get(art_id)
        if node is None:
            producer = node_of.get(link.producer_run_id or "")
            node = artifacts[art_id] = {
                "id": art_id,
                "kind": "artifact",
                "key": link.artifact_key,
                "uri": link.uri,
                "producer": producer,
                "cluster": step_nodes[producer]["cluster"] if producer else None,
                "_ids": {},
            }
        node["_ids"].setdefault(link.artifact_id, link.content_hash)
        run_node = node_of[link.run_id]
        edge = (art_id, run_node) if link.direction == Direction.INPUT else (run_node, art_id)
        edges[edge] += 1

    # Sorted, so every catalog (whatever order it lists links in) gives the same page.
    nodes = [*step_nodes.values(), *(_artifact_node(artifacts[key]) for key in sorted(artifacts))]
    clusters = _clusters(nodes)
    return Graph(
        level,
        tuple(nodes),
        tuple({"source": s, "target": t, "count": n} for (s, t), n in sorted(edges.items())),
        tuple(clusters),
    )


def _artifact_node_id(level: str, link: LinkRow, node_of: Mapping[str, str]) -> str:
    producer = node_of.get(link.producer_run_id or "")
    if producer is None:  # a raw file (or made by a run left out): one node per URI
        return "x:" + link.uri
    if level == "run":
        return "a:" + link.artifact_id
    return "a:" + producer + _SEP + link.artifact_key


def _step_node(level: str, node_id: str, runs: list[Run]) -> dict[str, Any]:
    runs = sorted(runs, key=lambda r: (r.created_at, r.id))
    years = sorted({r.year for r in runs if r.year is not None})
    statuses = Counter(str(r.status) for r in runs)
    hits = Counter(hit_text(r) for r in runs)
    scenarios = {r.parent_run_id for r in runs}
    return {
        "id": node_id,
        "kind": "run" if level == "run" else "group",
        "step": runs[0].model or "run",
        "count": len(runs),
        "years": [years[0], years[-1]] if years else None,
        "year_count": len(years),
        "status": dict(statuses),
        "hit": hits.get("hit", 0),
        "miss": hits.get("miss", 0),
        "cluster": runs[0].parent_run_id if len(scenarios) == 1 else None,
        "runs": [r.id for r in runs],
    }


def _artifact_node(node: dict[str, Any]) -> dict[str, Any]:
    ids: dict[str, str | None] = node.pop("_ids")
    hashes = sorted({h for h in ids.values() if h})
    node["count"] = len(ids)
    node["artifacts"] = sorted(ids)
    node["hash"] = short_hash(hashes[0]) if len(hashes) == 1 else None
    node["versions"] = len(hashes)
    return node


def _clusters(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sizes = Counter(node["cluster"] for node in nodes if node["cluster"])
    return [{"id": name, "label": name, "nodes": sizes[name]} for name in sorted(sizes)]
