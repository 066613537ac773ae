"""Bad arguments at the public boundary raise our own errors, never a library's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import consist
from consist.domain.errors import ConsistError, InvalidInput, NestingTooDeep, ReservedName


def _deep(levels: int) -> dict[str, Any]:
    config: dict[str, Any] = {}
    node = config
    for _ in range(levels):
        node["a"] = {}
        node = node["a"]
    return config


@pytest.mark.parametrize(
    ("filters", "named"),
    [
        ({"status": 5}, "status"),
        ({"status": "done"}, "status"),
        ({"limit": 1.5}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": True}, "limit"),
        ({"year": "2020"}, "year"),
        ({"model": "\ud800"}, "model"),
        ({"tags": [3]}, "tags"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_find_runs_filter_is_our_error_naming_it(
    tracker: Any, filters: dict[str, Any], named: str
) -> None:
    """find_runs(status=5), (limit=1.5), ... raise InvalidInput naming the filter."""
    with pytest.raises(InvalidInput, match=named):
        tracker.find_runs(**filters)
    assert tracker.find_runs() == []


@pytest.mark.parametrize("run_id", ["x\n", "x\t", "a\x00b", "x" * 201, "", "caf\udce9"])
def test_run_id_with_control_characters_is_refused_before_any_directory(
    tracker: Any, tmp_path: Path, run_id: str
) -> None:
    """A run id ending in a newline no longer creates a directory named 'x\\n'."""
    with pytest.raises(InvalidInput, match="run id"), tracker.start_run(run_id, model="m"):
        pass
    runs = tmp_path / "runs"
    assert not runs.exists() or [p.name for p in runs.iterdir() if not p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("key", "error", "says"),
    [
        ("k\n", InvalidInput, "control character"),
        ("k" * 300, InvalidInput, "at most 255"),
        ("caf\udce9", InvalidInput, "surrogate"),
        ("runs", ReservedName, "reserved"),
        ("consist_run_id", ReservedName, "reserved"),
        ("", InvalidInput, "empty"),
    ],
)
def test_bad_artifact_key_is_refused(
    tracker: Any, data_dir: Path, key: str, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says), tracker.start_run("r1", model="m"):
        tracker.log_input(data_dir / "raw.csv", key=key)


def test_longest_key_still_makes_a_file_name(tracker: Any) -> None:
    """A 255-character key of a logged DataFrame no longer makes a file name too long."""
    with tracker.start_run("r1", model="m"):
        artifact = tracker.log_dataframe(pd.DataFrame({"a": [1]}), key="k" * 255)
    assert tracker.resolve_path(artifact).is_file()


def test_config_nested_500_levels_names_the_depth_limit(tracker: Any) -> None:
    with (
        pytest.raises(NestingTooDeep, match="100 levels"),
        tracker.start_run("r1", model="m", config=_deep(500)),
    ):
        pass
    with tracker.start_run("r2", model="m", config=_deep(90)):
        pass
    assert [r.id for r in tracker.find_runs()] == ["r2"]


def test_config_that_contains_itself_is_refused(tracker: Any) -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(NestingTooDeep), tracker.start_run("r1", model="m", config=loop):
        pass


def test_lone_surrogate_in_config_is_refused_naming_the_key(tracker: Any) -> None:
    with (
        pytest.raises(InvalidInput, match=r"config\.path"),
        tracker.start_run("r1", model="m", config={"path": "caf\udce9.csv"}),
    ):
        pass


def test_facet_key_that_shadows_a_system_column_is_refused(tracker: Any, data_dir: Path) -> None:
    with (
        pytest.raises(ReservedName, match="consist_year"),
        tracker.start_run("r1", model="m", facet={"consist_year": 2020}),
    ):
        pass
    with pytest.raises(ReservedName, match="artifacts"), tracker.start_run("r2", model="m"):
        tracker.log_input(data_dir / "raw.csv", key="raw", facet={"artifacts": 1})


@pytest.mark.parametrize(
    "options",
    [{"model": 5}, {"year": "2020"}, {"iteration": 1.5}, {"tags": [None]}, {"tags": "a\nb"}],
)
def test_bad_run_fields_are_refused(tracker: Any, options: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput), tracker.start_run("r1", **options):
        pass


def test_every_refusal_is_also_the_builtin_a_caller_catches(tracker: Any) -> None:
    with pytest.raises(ValueError) as caught:
        consist.find_runs(tracker=tracker, limit=1.5)
    assert isinstance(caught.value, ConsistError)


@pytest.mark.parametrize(
    "lookup",
    [
        lambda t: t.get_run("caf\udce9"),
        lambda t: t.get_record("\ud800"),
        lambda t: t.get_artifact("x\udfff"),
        lambda t: t.find_artifacts(key="caf\udce9"),
        lambda t: t.lineage("caf\udce9"),
        lambda t: t.explain("caf\udce9"),
        lambda t: t.find_runs(year=2**63),
        lambda t: t.get_run(5),
    ],
)
def test_lookup_with_text_no_catalog_can_encode_is_our_error(tracker: Any, lookup: Any) -> None:
    """Found by the fuzz suite: on SQLite these raised UnicodeEncodeError or OverflowError."""
    with pytest.raises(InvalidInput):
        lookup(tracker)
    assert tracker.find_runs() == []


@pytest.mark.parametrize(
    ("path", "facet"),
    [
        ("inputs://x\udfff.csv", None),  # a surrogate no file name can hold
        ("x\ud800.csv", None),
        ("a" * 300, None),  # the OS refuses the name: too long
        ("RAW", {"note": "caf\udce9"}),  # the catalog would refuse it after the run
    ],
)
def test_log_input_refuses_what_no_file_system_or_catalog_can_hold(
    make_tracker: Any, data_dir: Path, path: str, facet: Any
) -> None:
    """Found by the fuzz suite: UnicodeEncodeError, OSError, or a run stuck in the outbox."""
    tracker = make_tracker(mounts={"inputs": data_dir})
    target = str(data_dir / "raw.csv") if path == "RAW" else path
    with tracker.start_run("r1", model="m"), pytest.raises(InvalidInput):
        tracker.log_input(target, key="raw", facet=facet)
    tracker.flush()
    assert tracker.snapshots.pending() == []
    assert [r.id for r in tracker.find_runs()] == ["r1"]
