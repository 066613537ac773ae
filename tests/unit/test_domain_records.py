"""Runs, artifacts, records and signatures: values with no I/O."""

from __future__ import annotations

import json

import attrs
import pytest

from consist.domain import Artifact, Direction, RunQuery, RunRecord, RunStatus, Signature, errors
from consist.domain.signature import combine_input_identities
from consist.testing.contracts import make_artifact, make_record, make_run


def test_signature_digest_is_sha256_of_joined_parts() -> None:
    import hashlib

    sig = Signature("c", "f", "i")
    assert sig.digest == hashlib.sha256(b"c|f|i").hexdigest()


def test_signature_names_the_parts_that_differ() -> None:
    base = Signature("c", "f", "i")
    assert base.differing_parts(base) == ()
    assert base.differing_parts(Signature("c", "g", "i")) == ("config",)
    assert base.differing_parts(Signature("x", "f", "y")) == ("code", "input")


def test_input_hash_ignores_order() -> None:
    pairs = [("a", "1"), ("b", "2")]
    assert combine_input_identities(pairs) == combine_input_identities(reversed(pairs))
    assert combine_input_identities(pairs) != combine_input_identities([("a", "2"), ("b", "1")])


def test_record_survives_json_round_trip() -> None:
    """The snapshot form of a record reads back equal."""
    run = make_run(
        "r1", model="m", signature=Signature("c", "f", "i"), tags=["t"], config={"a": 1}
    ).completed()
    record = make_record(
        run,
        {"raw": make_artifact("a1", "raw")},
        {"out": make_artifact("a2", "out", producer_run_id="r1")},
    )
    text = json.dumps(record.to_dict())
    assert RunRecord.from_dict(json.loads(text)) == record


def test_runs_are_frozen() -> None:
    run = make_run("r1")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        run.status = RunStatus.FAILED  # type: ignore[misc]
    assert attrs.evolve(run, status="failed").status is RunStatus.FAILED


def test_failed_run_keeps_error() -> None:
    run = make_run("r1").failed("ValueError", "bad")
    assert (run.status, run.error_type, run.error_message) == ("failed", "ValueError", "bad")
    assert run.ended_at is not None


def test_query_matches_tags_as_subset() -> None:
    run = make_run("r", tags=("a", "b"))
    assert RunQuery(tags=("a",)).matches(run)
    assert not RunQuery(tags=("a", "c")).matches(run)


def test_invalid_direction_is_refused() -> None:
    from consist.domain import RunArtifactLink

    with pytest.raises(ValueError):
        RunArtifactLink("r", "a", "sideways", "k")


def test_artifact_path_is_not_identity() -> None:
    a = make_artifact("a1", abs_path="/here/x")
    b = make_artifact("a1", abs_path="/there/x")
    assert a == b and isinstance(a, Artifact) and Direction.INPUT == "input"


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (errors.RunNotFound("x"), LookupError),
        (errors.UnknownCouplerKey("k", ["a"]), KeyError),
        (errors.ConfigNotSerializable("config.x", object()), TypeError),
        (errors.InvalidCacheMode("m"), ValueError),
        (errors.PathEscapesMount("p"), ValueError),
        (errors.MissingInputFile("f"), FileNotFoundError),
        (errors.NoActiveTracker(), RuntimeError),
    ],
)
def test_errors_derive_consist_error_and_the_natural_builtin(
    error: Exception, builtin: type
) -> None:
    assert isinstance(error, errors.ConsistError)
    assert isinstance(error, builtin)


def test_unknown_coupler_key_lists_known_keys() -> None:
    assert str(errors.UnknownCouplerKey("zones", ["pop", "skims"])) == (
        "coupler has no key 'zones'; keys set so far: pop, skims"
    )
