"""RunQueries and the explainer work from a catalog view alone: no Tracker is built."""

from __future__ import annotations

import pytest

from consist.domain import Artifact, Direction, Run, RunArtifactLink, RunRecord, RunStatus
from consist.domain.errors import InvalidInput, RunNotFound
from consist.domain.signature import Signature
from consist.memory import InMemoryCatalog
from consist.services.runs.explain import explain_run
from consist.services.runs.queries import RunQueries
from consist.services.store.catalog_reader import LayeredCatalog


def _record(run: Run, inputs: dict[str, Artifact], outputs: dict[str, Artifact]) -> RunRecord:
    links = [RunArtifactLink(run.id, a.id, Direction.INPUT, k) for k, a in inputs.items()]
    links += [RunArtifactLink(run.id, a.id, Direction.OUTPUT, k) for k, a in outputs.items()]
    return RunRecord(run, (*inputs.values(), *outputs.values()), links)


@pytest.fixture
def chain() -> tuple[RunQueries, list[Artifact]]:
    """raw.csv -> prepare -> clean -> model -> result, remembered in the read layer only."""
    handed_out: list[Artifact] = []
    reader = LayeredCatalog(InMemoryCatalog(), recent=InMemoryCatalog())
    raw = Artifact(id="a-raw", key="raw", uri="inputs://raw.csv", content_hash="h-raw")
    clean = Artifact(id="a-clean", key="clean", uri="workspace://c.csv", producer_run_id="prep")
    result = Artifact(id="a-res", key="result", uri="workspace://r.csv", producer_run_id="model")
    done = RunStatus.COMPLETED
    reader.remember(_record(Run("prep", "prepare", status=done), {"raw": raw}, {"clean": clean}))
    reader.remember(
        _record(Run("model", "model", status=done), {"clean": clean}, {"result": result})
    )
    return RunQueries(reader, handed_out.extend), handed_out


def test_lineage_walks_upstream_through_producers_without_a_tracker(chain):
    """An output's upstream lineage reaches the raw input through the run that made it."""
    queries, _ = chain
    labels = [node.id for node in queries.lineage("a-res").walk()]
    assert labels == ["a-res", "model", "a-clean", "prep", "a-raw"]


def test_downstream_lineage_finds_the_runs_reading_an_artifact(chain):
    """Downstream of the cleaned table: the model run that read it and its result."""
    queries, _ = chain
    assert [n.id for n in queries.lineage("a-clean", "downstream").walk()] == [
        "a-clean",
        "model",
        "a-res",
    ]


def test_artifacts_read_back_by_id_or_run_are_handed_out(chain):
    """get_artifact and get_artifacts_for_run tell the facade which artifacts left."""
    queries, handed_out = chain
    queries.get_artifact("a-raw")
    assert [a.id for a in handed_out] == ["a-raw"]
    assert set(queries.get_artifacts_for_run("model").outputs) == {"result"}
    assert {a.id for a in handed_out} == {"a-raw", "a-clean", "a-res"}


def test_catalog_wide_searches_hand_nothing_out(chain):
    """find_artifacts searches the whole catalog: none of it is remembered."""
    queries, handed_out = chain
    assert [a.id for a in queries.find_artifacts(key="clean")] == ["a-clean"]
    assert handed_out == []


def test_unknown_filter_and_unknown_run_are_our_errors(chain):
    queries, _ = chain
    with pytest.raises(InvalidInput, match="colour"):
        queries.find_runs(colour="red")
    with pytest.raises(RunNotFound):
        queries.get_run("nope")


def test_explain_uses_the_identity_function_it_is_given(chain):
    """The explainer asks its caller for input identities: it names the changed input."""
    queries, _ = chain
    reader = queries._reader
    old_in = Artifact(id="i1", key="zones", uri="inputs://z.csv", content_hash="h1")
    new_in = Artifact(id="i2", key="zones", uri="inputs://z.csv", content_hash="h2")
    sig = Signature("code", "cfg", "in-1")
    old = Run("old", "assign", status=RunStatus.COMPLETED, signature=sig)
    new = Run("new", "assign", status=RunStatus.COMPLETED, signature=Signature("code", "cfg", "2"))
    reader.remember(_record(old, {"zones": old_in}, {}))
    reader.remember(_record(new, {"zones": new_in}, {}))
    explanation = explain_run(queries, lambda artifact: artifact.content_hash or "", new)
    assert explanation.compared_with is not None and explanation.compared_with.id == "old"
    assert [str(change) for change in explanation.input_changes] == [
        "input zones: content changed (h1 -> h2)"
    ]
