"""RunLabels: a run's labels checked once, as one frozen value."""

from __future__ import annotations

import attrs
import pytest

from consist.domain.errors import ConfigNotSerializable, InvalidInput
from consist.domain.labels import RunLabels


def test_labels_are_checked_and_normalised_once():
    labels = RunLabels.of(
        "assign",
        year=2030,
        iteration=2,
        tags="base",
        parent_run_id="scenario-1",
        config={"b": 1.0, "a": [1, 2]},
        facet={"mode": "car"},
        meta={"note": "x"},
    )
    assert labels.tags == ("base",)
    assert labels.parent == "scenario-1"
    assert dict(labels.config) == {"a": [1, 2], "b": 1}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        labels.year = 2031  # type: ignore[misc]


def test_a_config_that_is_not_a_mapping_is_kept_under_value():
    assert dict(RunLabels.of(config=[1, 2]).config) == {"value": [1, 2]}


def test_the_new_run_carries_every_label_and_the_extra_meta():
    labels = RunLabels.of("m", year=2030, tags=["a", "b"], meta={"k": 1})
    run = labels.new_run("r-1", host="h")
    assert (run.id, run.model, run.year, run.tags) == ("r-1", "m", 2030, ("a", "b"))
    assert dict(run.meta) == {"k": 1, "host": "h"}
    assert labels.as_options()["tags"] == ["a", "b"] and labels.as_options()["k"] == 1


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"year": "2030"}, "year"),
        ({"iteration": 1.5}, "iteration"),
        ({"tags": 3}, "tags"),
        ({"tags": ["ok", "bad\x00"]}, "tag"),
        ({"parent_run_id": "../up"}, "run id"),
        ({"facet": {"consist_year": 1}}, "facet"),
    ],
)
def test_a_bad_label_is_refused_naming_it(options, named):
    with pytest.raises(InvalidInput, match=named):
        RunLabels.of("m", **options)


def test_a_config_without_json_form_is_refused():
    with pytest.raises(ConfigNotSerializable):
        RunLabels.of(config={"f": object()})


def test_a_model_that_is_not_text_is_refused():
    with pytest.raises(InvalidInput, match="model"):
        RunLabels.of(12)  # type: ignore[arg-type]


def test_a_bad_run_id_is_refused_when_the_run_is_made():
    with pytest.raises(InvalidInput, match="run id"):
        RunLabels.of().new_run("no/slash")
