"""Gathering a report: the runs, links and explanations of a catalog, as one JSON-ready dict.

Everything is read through the Catalog port: all runs in one ``find_runs``, and
every link in one SQL statement when the catalog answers SQL (one
``get_record`` per run otherwise). The page itself never asks for more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from consist.domain import Direction, Run, RunQuery
from consist.domain.errors import ConsistError, InvalidInput, NotFound
from consist.domain.redaction import Redactor
from consist.ports.catalog import Catalog, SupportsSQL
from consist.report.charts import time_series
from consist.report.graph import DEFAULT_MAX_NODES, LinkRow, build_graph, hit_text, short_hash

Explain = Callable[[Run], Sequence[str]]
DEFAULT_EXPLAIN_LIMIT = 60
SCENARIO_FLAG = "consist_scenario"

_LINKS_SQL = """
SELECT l.run_id AS run_id, l.direction AS direction, l.key AS link_key, a.id AS artifact_id,
       a.key AS artifact_key, a.uri AS uri, a.content_hash AS content_hash,
       a.producer_run_id AS producer_run_id
FROM run_artifact_links AS l JOIN artifacts AS a ON a.id = l.artifact_id
ORDER BY l.run_id, l.direction, l.position
"""


class UnknownScenario(NotFound):
    """``--scenario`` names no scenario of the catalog."""


def gather(
    catalog: Catalog,
    *,
    scenario: str | None = None,
    since: dt.datetime | None = None,
    run_ids: Collection[str] | None = None,
    explain: Explain | None = None,
    explain_limit: int = DEFAULT_EXPLAIN_LIMIT,
    redactor: Redactor | None = None,
    level: str | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
    title: str = "Consist report",
    source: str | None = None,
) -> dict[str, Any]:
    """The report's data: runs table, run details, lineage graph and chart series.

    Parameters
    ----------
    catalog
        Where the runs are read from.
    scenario
        Only this scenario (its header run id) and its steps.
    since
        Only runs started at or after this time (a naive time is taken as UTC).
    run_ids
        Only these runs (``consist lineage --format html`` passes a walk's runs).
    explain
        Lines saying why a run missed the cache (``tracker.explain(run).lines()``);
        asked for at most ``explain_limit`` misses (the newest of each step of each
        scenario first), since each costs catalog queries.
    redactor
        Applied to every run again, for records written before a secret pattern changed.
    level, max_nodes
        How runs are grouped in the graph (see :func:`consist.report.graph.build_graph`).

    Raises
    ------
    UnknownScenario
        ``scenario`` is not the id of a scenario in the catalog.
    """
    if explain_limit < 0:
        raise InvalidInput(f"explain_limit must be 0 or more, not {explain_limit!r}")
    runs = catalog.find_runs(RunQuery())
    if redactor is not None:
        runs = [redactor.run(run) for run in runs]
    headers = _scenario_ids(runs)
    if scenario is not None:
        if scenario not in headers:
            known = ", ".join(sorted(headers)[:10]) or "none"
            raise UnknownScenario(
                f"--scenario {scenario!r} is not a scenario of this catalog (scenarios: {known})"
            )
        runs = [r for r in runs if r.id == scenario or r.parent_run_id == scenario]
    if since is not None:
        cutoff = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
        runs = [r for r in runs if r.created_at >= cutoff]
    if run_ids is not None:
        wanted = set(run_ids)
        runs = [r for r in runs if r.id in wanted]
    runs.sort(key=lambda r: (r.created_at, r.id))
    steps = [r for r in runs if r.id not in headers]
    links = list(_links(catalog, [r.id for r in runs]))
    explanations = _explanations(steps, explain, explain_limit)
    graph = build_graph(steps, links, level=level, max_nodes=max_nodes)
    return {
        "title": title,
        "source": source,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "scope": {
            "scenario": scenario,
            "since": since.isoformat() if since else None,
            "runs": len(runs),
        },
        "runs": [_row(run, run.id in headers) for run in runs],
        "details": {run.id: _detail(run, explanations.get(run.id)) for run in runs},
        "artifacts": _artifacts(links),
        "links": _links_by_run(links),
        "graph": graph.to_dict(),
        "charts": time_series(steps),
        "explained": len(explanations),
    }


def _scenario_ids(runs: Iterable[Run]) -> set[str]:
    runs = list(runs)
    ids = {run.id for run in runs}
    parents = {run.parent_run_id for run in runs if run.parent_run_id in ids}
    flagged = {run.id for run in runs if run.meta.get(SCENARIO_FLAG)}
    return {p for p in parents if p is not None} | flagged


def _links(catalog: Catalog, run_ids: Sequence[str]) -> Iterable[LinkRow]:
    wanted = set(run_ids)
    if isinstance(catalog, SupportsSQL):
        for row in catalog.query_sql(_LINKS_SQL).to_pylist():
            if row["run_id"] in wanted:
                yield LinkRow(
                    row["run_id"],
                    Direction(row["direction"]),
                    row["link_key"],
                    row["artifact_id"],
                    row["artifact_key"],
                    row["uri"],
                    row["content_hash"],
                    row["producer_run_id"],
                )
        return
    for run_id in run_ids:
        record = catalog.get_record(run_id)
        by_id = {a.id: a for a in record.artifacts}
        for link in record.links:
            art = by_id.get(link.artifact_id)
            if art is not None:
                yield LinkRow(
                    run_id,
                    link.direction,
                    link.key,
                    art.id,
                    art.key,
                    art.uri,
                    art.content_hash,
                    art.producer_run_id,
                )


def _explanations(
    steps: Sequence[Run], explain: Explain | None, limit: int
) -> dict[str, list[str]]:
    if explain is None:
        return {}
    # The newest miss of every step of every scenario first, so each graph box can
    # show one, then the newest others: each explanation costs a few catalog queries.
    newest = [r for r in reversed(steps) if hit_text(r) == "miss"]
    firsts: dict[tuple[str | None, str | None], Run] = {}
    for run in newest:
        firsts.setdefault((run.parent_run_id, run.model), run)
    first_ids = {run.id for run in firsts.values()}
    chosen = list(firsts.values()) + [r for r in newest if r.id not in first_ids]
    return {run.id: _explained(explain, run) for run in chosen[:limit]}


def _explained(explain: Explain, run: Run) -> list[str]:
    try:
        return list(explain(run))
    except ConsistError as exc:  # one run the catalog cannot explain does not sink the page
        return [f"could not explain this run: {exc}"]


def _seconds(run: Run) -> float | None:
    seconds = run.duration_seconds
    return round(seconds, 4) if seconds is not None else None


def _row(run: Run, is_scenario: bool) -> dict[str, Any]:
    return {
        "id": run.id,
        "step": run.model or "run",
        "kind": "scenario" if is_scenario else "step",
        "status": str(run.status),
        "scenario": run.parent_run_id,
        "year": run.year,
        "iteration": run.iteration,
        "cache": hit_text(run),
        "started": run.created_at.isoformat(timespec="seconds"),
        "seconds": _seconds(run),
    }


def _detail(run: Run, explanation: list[str] | None) -> dict[str, Any]:
    sig = run.signature
    return {
        "config": dict(run.config),
        "signature": sig.digest if sig else None,
        "code_hash": sig.code_hash if sig else None,
        "config_hash": sig.config_hash if sig else None,
        "input_hash": sig.input_hash if sig else None,
        "tags": list(run.tags),
        "started": run.created_at.isoformat(),
        "ended": run.ended_at.isoformat() if run.ended_at else None,
        "cached_from": run.cached_from,
        "error": f"{run.error_type}: {run.error_message}" if run.error_type else None,
        "explain": explanation,
    }


def _artifacts(links: Iterable[LinkRow]) -> dict[str, dict[str, Any]]:
    return {
        link.artifact_id: {
            "key": link.artifact_key,
            "uri": link.uri,
            "hash": short_hash(link.content_hash, 16),
            "producer": link.producer_run_id,
        }
        for link in links
    }


def _links_by_run(links: Iterable[LinkRow]) -> dict[str, list[list[str]]]:
    """run id -> ``[direction, link key, artifact id]`` for each of its links."""
    out: dict[str, list[list[str]]] = {}
    for link in links:
        out.setdefault(link.run_id, []).append([str(link.direction), link.key, link.artifact_id])
    return out
