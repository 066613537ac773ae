"""Module-level functions for scenarios and facets: ``consist.scenario``, ``pivot_facets``.

``with consist.scenario("baseline", tracker=tracker) as sc:`` groups steps
(``sc.run``, ``sc.trace``) under one parent run and hands artifacts between
them through ``sc.coupler``; ``consist.pivot_facets`` turns the facets of a
step into a wide table for ``consist.run_query``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from consist.domain.errors import NoActiveTracker
from consist.services.current import current_tracker
from consist.services.scenarios.coupler import Coupler, coupler_schema
from consist.services.scenarios.facets_query import pivot_facets as _pivot_facets
from consist.services.scenarios.scenario import Scenario
from consist.services.scenarios.scenario_steps import StepTrace
from consist.services.tracker import Tracker

__all__ = ["Coupler", "Scenario", "StepTrace", "coupler_schema", "pivot_facets", "scenario"]


def scenario(
    name: str,
    tracker: Tracker | None = None,
    *,
    model: str | None = None,
    config: Any = None,
    tags: Sequence[str] | str | None = None,
    facet: Any = None,
    step_cache_hydration: str | None = None,
    **meta: Any,
) -> Scenario:
    """A scenario: use as ``with consist.scenario("baseline", tracker=t) as sc:``.

    Parameters
    ----------
    name
        The scenario id: the id of its own run and the ``parent_run_id`` of its steps.
    tracker
        Defaults to the active tracker (``consist.use_tracker``) when entered.
    model
        The model recorded on the scenario's run (``"scenario"`` by default).
    config, tags, facet, **meta
        Recorded on the scenario's run.
    step_cache_hydration
        Default ``cache_hydration`` for the scenario's steps (``"inputs-missing"``,
        ``"outputs-all"``, ``"outputs-requested"``).

    Returns
    -------
    Scenario
        Entering it starts (or, when the scenario exists already, re-opens) its
        run; leaving it completes the run, or marks it failed when the block
        raised, a step failed, or a required output is missing.

    Raises
    ------
    UnsafeIdentifier
        If ``name`` cannot be a run id.
    InvalidInput
        For an unknown ``step_cache_hydration``.
    """
    return Scenario(
        name,
        tracker,
        model=model,
        config=config,
        tags=tags,
        facet=facet,
        step_cache_hydration=step_cache_hydration,
        **meta,
    )


def pivot_facets(
    namespace: str,
    keys: Sequence[str],
    value_columns: Mapping[str, str] | None = None,
    tracker: Tracker | None = None,
    *,
    of: str = "run",
    name: str = "facets",
) -> Any:
    """Facets of one namespace as a wide SQLAlchemy subquery for ``consist.run_query``.

    Parameters
    ----------
    namespace
        A step's name (its runs' model) for run facets; an artifact key with
        ``of="artifact"``.
    keys
        Facet keys, nested ones joined with dots (``"cost.fuel"``).
    value_columns
        ``{key: "value_str"}`` to read a key from another value column than the
        one matching its stored type.
    tracker
        Defaults to the active tracker; with none, the statement is completed
        by the tracker that runs it (``consist.run_query(..., tracker=...)``).
    of
        ``"run"`` (columns ``run_id`` + keys) or ``"artifact"`` (``artifact_id`` + keys).
    name
        The subquery's name in the SQL.

    Returns
    -------
    sqlalchemy.Subquery
        ``params.c.run_id``, ``params.c.alpha``, ...; join it with the ``runs``
        table on ``run_id``.

    Raises
    ------
    NotFound
        If a key has no value in the namespace (the message lists the keys it has);
        without a tracker, when the statement runs.
    InvalidInput
        For a key stored with incompatible types, or a catalog without SQL.
    """
    try:
        owner: Tracker | None = current_tracker(tracker, "consist.pivot_facets")
    except NoActiveTracker:
        owner = None
    return _pivot_facets(owner, namespace, keys, value_columns, of=of, name=name)
