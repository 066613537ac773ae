"""Cards of the application's objects: a run's result, an explanation, a scenario, a tracker."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from consist.domain import Artifact, Run, RunQuery
from consist.domain.display import Card, CardTable, clip, short_hash
from consist.domain.errors import ConsistError

RECENT_RUNS = 10


# What each card reads from the object it shows. Protocols rather than the
# service classes: the services build their cards here, and a presentation
# module that imported them back would tie every service room to every other.
class _ConfigChange(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def before_after(self) -> str: ...


class _InputChange(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def reason(self) -> str: ...


class Explained(Protocol):
    @property
    def run(self) -> Run: ...
    @property
    def compared_with(self) -> Run | None: ...
    @property
    def code_change(self) -> tuple[str, str] | None: ...
    @property
    def changed_parts(self) -> Sequence[str]: ...
    @property
    def config_changes(self) -> Sequence[_ConfigChange]: ...
    @property
    def input_changes(self) -> Sequence[_InputChange]: ...


class _Keys(Protocol):
    def keys(self) -> Iterable[str]: ...


class ScenarioView(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def coupler(self) -> _Keys: ...
    @property
    def steps(self) -> list[dict[str, Any]]: ...


class TrackerView(Protocol):
    @property
    def run_dir(self) -> Path: ...
    @property
    def catalog(self) -> object: ...
    @property
    def blobs(self) -> object | None: ...
    def find_runs(self, query: RunQuery) -> list[Run]: ...


def result_card(run: Run, outputs: Mapping[str, Artifact], value: Any) -> Card:
    fields = run.card_fields()
    if value is not None:
        shown = " ".join(repr(value).split())  # a DataFrame's repr spans lines
        fields.append(("returned", clip(f"{type(value).__name__}: {shown}", 120)))
    rows = [
        (key, clip(a.uri, 80), short_hash(a.content_hash)) for key, a in sorted(outputs.items())
    ]
    table = CardTable("outputs", ("key", "uri", "hash"), rows)
    return Card("RunResult", run.id, run.badge, fields, [table])


def explanation_card(explanation: Explained) -> Card:
    run, other = explanation.run, explanation.compared_with
    if other is None:
        return Card(
            "Explanation",
            run.id,
            "first of its kind",
            [("step", run.model or "-"), ("compared with", "no earlier completed run")],
        )
    parts = explanation.changed_parts
    fields = [
        ("step", run.model or "-"),
        ("compared with", other.id),
        ("changed", ", ".join(parts) if parts else "nothing: same signature"),
    ]
    changes: list[tuple[str, str, str]] = []
    if explanation.code_change:
        before, after = explanation.code_change
        changes.append(("code", "-", f"{short_hash(before)} -> {short_hash(after)}"))
    for change in explanation.config_changes:
        changes.append(("config", change.key, clip(change.before_after, 120)))
    for input_change in explanation.input_changes:
        changes.append(("input", input_change.key, clip(input_change.reason, 120)))
    table = [CardTable("what changed", ("part", "key", "change"), changes)] if changes else []
    badge = "changed" if parts else "same signature"
    return Card("Explanation", run.id, badge, fields, table)


def steps_table(steps: list[dict[str, Any]]) -> CardTable:
    rows = [
        (
            str(step["run_id"]),
            str(step["name"] or "-"),
            "hit" if step["cache_hit"] else str(step["status"]),
            "-" if step["year"] is None else str(step["year"]),
        )
        for step in steps
    ]
    return CardTable("steps", ("run", "step", "status", "year"), rows)


def scenario_card(scenario: ScenarioView, header: Run | None) -> Card:
    keys = list(scenario.coupler.keys())
    fields = [
        ("model", scenario.model),
        ("coupler keys", clip(", ".join(keys)) if keys else "-"),
    ]
    if header is not None:
        fields += [(label, value) for label, value in header.card_fields() if label != "step"]
    badge = header.badge if header is not None else "not entered"
    return Card("Scenario", scenario.id, badge, fields, [steps_table(scenario.steps)])


def tracker_card(tracker: TrackerView, is_open: bool = True) -> Card:
    catalog = tracker.catalog
    where = getattr(catalog, "url", None) or type(catalog).__name__
    fields = [("run dir", str(tracker.run_dir)), ("catalog", str(where))]
    if tracker.blobs is not None:
        fields.append(("blobs", str(getattr(tracker.blobs, "url", type(tracker.blobs).__name__))))
    if not is_open:
        return Card("Tracker", str(tracker.run_dir), "closed", fields)
    try:
        newest = tracker.find_runs(RunQuery(limit=RECENT_RUNS))
    except ConsistError as exc:  # a closed tracker, an unreadable catalog: say so, show the rest
        return Card("Tracker", str(tracker.run_dir), "unavailable", [*fields, ("runs", str(exc))])
    # The step is left out: a run id starts with its step's name unless chosen by hand.
    rows = [
        (
            run.id,
            run.badge,
            "-" if run.year is None else str(run.year),
            "-" if run.duration_seconds is None else f"{run.duration_seconds:.2f} s",
        )
        for run in newest
    ]
    heading = f"newest {len(rows)} run(s)" if rows else "runs"
    table = CardTable(heading, ("run", "status", "year", "duration"), rows)
    return Card("Tracker", str(tracker.run_dir), None, fields, [table])
