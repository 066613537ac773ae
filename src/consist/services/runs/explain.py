"""Explaining a cache miss: what differs from the closest earlier run of the same step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from consist.display import cards
from consist.domain import Artifact, Run, RunQuery, RunStatus
from consist.domain.display import Card, Displayable
from consist.domain.facets import flatten

if TYPE_CHECKING:
    from consist.services.runs.queries import RunQueries

# The signer's view of an input: its Merkle identity, or its content hash.
InputIdentity = Callable[[Artifact], str]

_MISSING = object()


@attrs.frozen
class ConfigChange:
    key: str
    old: Any
    new: Any

    @property
    def before_after(self) -> str:
        old = "(absent)" if self.old is _MISSING else repr(self.old)
        new = "(absent)" if self.new is _MISSING else repr(self.new)
        return f"{old} -> {new}"

    def __str__(self) -> str:
        return f"config {self.key}: {self.before_after}"


@attrs.frozen
class InputChange:
    key: str
    reason: str

    def __str__(self) -> str:
        return f"input {self.key}: {self.reason}"


@attrs.frozen
class Explanation(Displayable):
    """Why ``run`` did not reuse ``compared_with`` (None when there is nothing to compare)."""

    run: Run
    compared_with: Run | None
    changed_parts: tuple[str, ...] = ()
    code_change: tuple[str, str] | None = None
    config_changes: tuple[ConfigChange, ...] = ()
    input_changes: tuple[InputChange, ...] = ()

    @property
    def changed_config_keys(self) -> list[str]:
        return [c.key for c in self.config_changes]

    def lines(self) -> list[str]:
        if self.compared_with is None:
            return [
                f"run {self.run.id!r}: no earlier completed run of step "
                f"{self.run.model!r} to compare with (first of its kind)"
            ]
        head = f"run {self.run.id!r} compared with {self.compared_with.id!r}:"
        if not self.changed_parts:
            return [head, "  same signature (this run could have been, or was, a cache hit)"]
        out = [head, f"  changed: {', '.join(self.changed_parts)}"]
        if self.code_change:
            out.append(f"  code: {self.code_change[0]} -> {self.code_change[1]}")
        out += [f"  {change}" for change in self.config_changes]
        out += [f"  {change}" for change in self.input_changes]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _card(self) -> Card:
        return cards.explanation_card(self)


def explain_run(queries: RunQueries, input_identity: InputIdentity, run: Run) -> Explanation:
    previous = closest_earlier_run(queries, run)
    if previous is None or run.signature is None or previous.signature is None:
        return Explanation(run, previous)
    parts = run.signature.differing_parts(previous.signature)
    code_change = None
    if "code" in parts:
        code_change = (previous.signature.code_hash, run.signature.code_hash)
    config_changes = _config_changes(previous.config, run.config) if "config" in parts else []
    input_changes = (
        _input_changes(queries, input_identity, previous, run) if "input" in parts else []
    )
    return Explanation(
        run, previous, parts, code_change, tuple(config_changes), tuple(input_changes)
    )


def closest_earlier_run(queries: RunQueries, run: Run) -> Run | None:
    """The newest completed run of the same step created before ``run``, preferring
    the same scenario, year and iteration."""
    candidates = [
        r
        for r in queries.find_runs(RunQuery(model=run.model, status=RunStatus.COMPLETED))
        if r.id != run.id and r.created_at <= run.created_at
    ]
    if not candidates:
        return None

    def closeness(other: Run) -> tuple[int, Any]:
        same = sum(
            [
                other.parent_run_id == run.parent_run_id,
                other.year == run.year,
                other.iteration == run.iteration,
            ]
        )
        return (same, other.created_at)

    return max(candidates, key=closeness)


def _leaves(config: Mapping[str, Any]) -> dict[str, Any]:
    return {row.key: row.value for row in flatten(config)}


def _config_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[ConfigChange]:
    before, after = _leaves(old), _leaves(new)
    return [
        ConfigChange(key, before.get(key, _MISSING), after.get(key, _MISSING))
        for key in sorted(set(before) | set(after))
        if before.get(key, _MISSING) != after.get(key, _MISSING)
    ]


def _input_changes(
    queries: RunQueries, input_identity: InputIdentity, old_run: Run, new_run: Run
) -> list[InputChange]:
    old = queries.get_artifacts_for_run(old_run.id).inputs
    new = queries.get_artifacts_for_run(new_run.id).inputs
    changes = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            changes.append(InputChange(key, "added"))
        elif key not in new:
            changes.append(InputChange(key, "removed"))
        else:
            reason = _why_input_differs(input_identity, old[key], new[key])
            if reason:
                changes.append(InputChange(key, reason))
    if not changes:
        changes.append(InputChange("depends_on/hash_inputs", "a hashed dependency file changed"))
    return changes


def _why_input_differs(input_identity: InputIdentity, old: Artifact, new: Artifact) -> str | None:
    if input_identity(old) == input_identity(new):
        return None
    if old.producer_run_id and new.producer_run_id and old.producer_run_id != new.producer_run_id:
        return (
            f"produced by a different upstream run ({old.producer_run_id} -> "
            f"{new.producer_run_id}), whose own signature differs"
        )
    if old.content_hash != new.content_hash:
        before, after = (old.content_hash or "?")[:12], (new.content_hash or "?")[:12]
        return f"content changed ({before} -> {after})"
    return "identity changed"
