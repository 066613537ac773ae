"""OpenLineage names: run UUIDs that never change, jobs, and datasets as places."""

from __future__ import annotations

import uuid

import pytest

from consist.domain import Artifact, Run
from consist.domain.errors import InvalidInput
from consist.integrations.openlineage.naming import (
    check_namespace,
    dataset_id,
    job_name,
    run_uuid,
)


def test_run_uuid_is_fixed_for_ever() -> None:
    """The derivation is part of the exported data: a change would re-identify every run."""
    assert run_uuid("consist", "baseline") == "07f19318-c8a7-57ef-9179-2d90e6ccaed3"
    assert uuid.UUID(run_uuid("consist", "baseline")).version == 5
    assert run_uuid("other-project", "baseline") != run_uuid("consist", "baseline")


def artifact(uri: str, producer: str | None = "run-a") -> Artifact:
    return Artifact(id="a1", key="k", uri=uri, producer_run_id=producer)


@pytest.mark.parametrize(
    ("uri", "producer", "expected"),
    [
        ("inputs://zones/land_use.csv", "r", ("consist://proj/inputs", "zones/land_use.csv")),
        ("workspace://trips.parquet", "run-a", ("consist://proj/runs", "run-a/trips.parquet")),
        ("workspace://trips.parquet", "run-b", ("consist://proj/runs", "run-b/trips.parquet")),
        ("runs://run-a/trips.parquet", None, ("consist://proj/runs", "run-a/trips.parquet")),
        ("workspace://x.csv", None, ("consist://proj/workspace", "x.csv")),
        ("file:///scratch/caf%C3%A9.csv", None, ("file", "/scratch/café.csv")),
        ("s3://bucket/key/x.parquet", None, ("s3://bucket", "key/x.parquet")),
        ("gs://b/y.csv", None, ("gs://b", "y.csv")),
        ("memory://store/z.csv", None, ("memory://store", "z.csv")),
        ("outputs://", None, ("consist://proj/outputs", "/")),
    ],
)
def test_datasets_are_named_by_place(
    uri: str, producer: str | None, expected: tuple[str, str]
) -> None:
    """A mount path under the project, a run's own file under runs/<producer>, stores by bucket."""
    assert dataset_id("proj", artifact(uri, producer)) == expected


def test_job_names() -> None:
    """Scenario header: its name; its steps: <scenario>.<step>; otherwise the step, or the id."""
    header = Run(id="baseline", model="scenario", meta={"consist_scenario": True})
    step = Run(id="s-1", model="simulate", parent_run_id="baseline")
    plain_parent = Run(id="outer", model="outer")
    assert job_name(header, None) == "baseline"
    assert job_name(step, header) == "baseline.simulate"
    assert job_name(step, plain_parent) == "simulate"
    assert job_name(Run(id="block"), None) == "block"


@pytest.mark.parametrize("bad", ["", "  ", "my project", "tab\there", None, 3])
def test_bad_namespace_is_invalid_input(bad: object) -> None:
    with pytest.raises(InvalidInput, match="openlineage_namespace"):
        check_namespace(bad)
