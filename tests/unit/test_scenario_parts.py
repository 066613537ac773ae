"""Scenario pieces on their own collaborators: run ids for later passes, the step log."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest

from consist.domain import Artifact, Run, RunQuery, RunStatus
from consist.domain.errors import InvalidInput
from consist.services.scenarios.scenario_steps import free_run_id
from consist.services.scenarios.step_log import StepLog


def test_a_taken_run_id_gets_the_next_free_pass_number() -> None:
    taken = {"assign", "assign@2"}
    assert free_run_id(taken.__contains__, "fresh") == "fresh"
    assert free_run_id(taken.__contains__, "assign") == "assign@3"
    with pytest.raises(InvalidInput):
        free_run_id(taken.__contains__, "../escape")


def test_the_first_failed_step_is_the_scenario_failure() -> None:
    log = StepLog()
    log.record(Run("a", "prepare", status=RunStatus.COMPLETED), "run", True)
    failed = Run("b", "assign", status=RunStatus.FAILED, error_type="ValueError",
                 error_message="bad zone")  # fmt: skip
    log.record(failed, "trace", False)
    log.record(attrs.evolve(failed, id="c"), "run", False)
    assert [entry["run_id"] for entry in log.entries] == ["a", "b", "c"]
    assert log.entries[0]["cache_hit"] is True and log.entries[1]["kind"] == "trace"
    assert log.failure == "step 'b' failed: ValueError: bad zone"


def test_a_step_refused_before_it_began_is_not_logged() -> None:
    started = dt.datetime.now(dt.UTC)
    older = Run("old", "assign", status=RunStatus.FAILED,
                created_at=started - dt.timedelta(hours=1))  # fmt: skip
    asked: list[RunQuery] = []

    def find_runs(query: RunQuery) -> list[Run]:
        asked.append(query)
        return [older]

    log = StepLog()
    log.record_failure(find_runs, "scen", "assign", started)
    assert log.entries == []  # only an earlier pass's failure exists
    assert asked[0].parent_run_id == "scen" and asked[0].model == "assign"
    newer = Run("new", "assign", status=RunStatus.FAILED)
    log.record_failure(lambda query: [newer], "scen", "assign", started)
    assert [entry["run_id"] for entry in log.entries] == ["new"]


def test_fan_out_items_hand_on_the_outputs_of_completed_ones_only() -> None:
    @attrs.frozen
    class Result:
        run: Run
        outputs: dict[str, Artifact]

    @attrs.frozen
    class Item:
        ok: bool
        cache_hit: bool
        result: Any

    trips = Artifact(id="t", key="trips", uri="workspace://t.csv")
    done = Item(
        True, False, Result(Run("i1", "step", status=RunStatus.COMPLETED), {"trips": trips})
    )
    broken = Item(False, False, Result(Run("i2", "step", status=RunStatus.FAILED), {}))
    never = Item(False, False, None)
    handed: list[dict[str, Artifact]] = []
    log = StepLog()
    log.record_items([done, broken, never], handed.append)
    assert handed == [{"trips": trips}]
    assert [entry["run_id"] for entry in log.entries] == ["i1", "i2"]
    assert log.failure is not None and "'i2'" in log.failure
