"""OpenLineage: every recorded run emits START and COMPLETE/FAIL RunEvents.

Each event is validated with openlineage-python's models and with JSON Schema
(tests/support/openlineage.py) and arrives at a loopback server that answers
like Marquez's POST /api/v1/lineage.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.support.openlineage import LineageEndpoint, validate_event

import consist
from consist.domain.errors import InvalidInput
from consist.integrations.openlineage.naming import RUN_NAMESPACE


@pytest.fixture
def endpoint() -> Iterator[LineageEndpoint]:
    server = LineageEndpoint()
    yield server
    server.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "raw.csv").write_text("value,group\n0.1,a\n0.6,b\n0.9,a\n")
    return folder


def clean(raw: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    return raw[raw["value"] >= config["threshold"]]


def explode(raw: pd.DataFrame) -> pd.DataFrame:
    raise RuntimeError("the model diverged")


def run_clean(tracker: Any, data_dir: Path, threshold: float = 0.5) -> Any:
    return tracker.run(
        clean,
        name="clean",
        inputs={"raw": data_dir / "raw.csv"},
        config={"threshold": threshold},
        outputs=["cleaned"],
    )


def expected_uuid(run_id: str, namespace: str = "consist") -> str:
    return str(uuid.uuid5(RUN_NAMESPACE, f"{namespace}/{run_id}"))


def datasets(event: dict[str, Any], side: str) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in event[side]]


def version_of(event: dict[str, Any], side: str) -> list[str]:
    return [d["facets"]["version"]["datasetVersion"] for d in event[side]]


def test_miss_then_hit_post_start_and_complete_to_the_endpoint(
    make_tracker: Callable[..., Any], data_dir: Path, endpoint: LineageEndpoint
) -> None:
    """A miss and a hit each POST START then COMPLETE; the hit's cache facet names the miss."""
    tracker = make_tracker(mounts={"inputs": data_dir}, openlineage=endpoint.url)
    miss = run_clean(tracker, data_dir)
    hit = run_clean(tracker, data_dir)
    assert hit.cache_hit
    got = endpoint.received
    assert endpoint.rejected == []
    assert [e["eventType"] for e in got] == ["START", "COMPLETE", "START", "COMPLETE"]
    assert [e["run"]["runId"] for e in got] == [expected_uuid(miss.run.id)] * 2 + [
        expected_uuid(hit.run.id)
    ] * 2
    assert {(e["job"]["namespace"], e["job"]["name"]) for e in got} == {("consist", "clean")}
    done_miss, done_hit = got[1], got[3]
    sig = miss.run.signature
    assert done_miss["run"]["facets"]["consist_signature"] | {"_producer": 0, "_schemaURL": 0} == {
        "_producer": 0,
        "_schemaURL": 0,
        "signature": sig.digest,
        "codeHash": sig.code_hash,
        "configHash": sig.config_hash,
        "inputHash": sig.input_hash,
    }
    assert done_hit["run"]["facets"]["consist_signature"]["signature"] == sig.digest
    assert done_miss["run"]["facets"]["consist_cache"]["cacheHit"] is False
    cache = done_hit["run"]["facets"]["consist_cache"]
    assert (cache["cacheHit"], cache["cachedFrom"], cache["cachedFromRunId"]) == (
        True,
        miss.run.id,
        expected_uuid(miss.run.id),
    )
    # The input is read where the mount puts it; the hit lists the output it reused.
    assert datasets(done_miss, "inputs") == [("consist://consist/inputs", "raw.csv")]
    assert datasets(done_hit, "inputs") == datasets(done_miss, "inputs")
    written = ("consist://consist/runs", f"{miss.run.id}/cleaned.parquet")
    assert datasets(done_miss, "outputs") == datasets(done_hit, "outputs") == [written]
    assert version_of(done_hit, "outputs") == [miss.outputs["cleaned"].content_hash]
    assert got[0]["inputs"] == got[0]["outputs"] == []  # START names no datasets


def test_workspace_files_of_two_runs_are_two_datasets_and_a_mount_file_one(
    tracker: Any, tmp_path: Path, data_dir: Path
) -> None:
    """workspace://cleaned.parquet of two runs: two names; one mount file rewritten: one name,
    two versions."""
    events: list[dict[str, Any]] = []
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    tracker = consist.Tracker(
        tmp_path / "runs2",
        catalog="memory://",
        mounts={"inputs": data_dir, "outputs": outputs},
        openlineage=events.append,
        openlineage_namespace="travel-model",
        code_identity="function",
    )

    def skims(config: dict[str, Any]) -> Path:
        target = outputs / "skims.csv"
        target.write_text(f"speed\n{config['speed']}\n")
        return target

    with tracker:
        a = run_clean(tracker, data_dir, 0.5)
        b = run_clean(tracker, data_dir, 0.8)
        tracker.run(skims, name="skims", config={"speed": 50}, outputs=["skims"])
        tracker.run(skims, name="skims", config={"speed": 70}, outputs=["skims"])
    for event in events:
        validate_event(event)
    done = [e for e in events if e["eventType"] == "COMPLETE"]
    assert {e["job"]["namespace"] for e in events} == {"travel-model"}
    assert datasets(done[0], "outputs") == [
        ("consist://travel-model/runs", f"{a.run.id}/cleaned.parquet")
    ]
    assert datasets(done[1], "outputs") == [
        ("consist://travel-model/runs", f"{b.run.id}/cleaned.parquet")
    ]
    assert (
        datasets(done[2], "outputs")
        == datasets(done[3], "outputs")
        == [("consist://travel-model/outputs", "skims.csv")]
    )
    assert version_of(done[2], "outputs") != version_of(done[3], "outputs")
    assert expected_uuid(a.run.id, "travel-model") == done[0]["run"]["runId"]


def test_failing_run_emits_fail_with_the_error_and_still_raises(
    make_tracker: Callable[..., Any], data_dir: Path, endpoint: LineageEndpoint
) -> None:
    """A step that raises: START, then FAIL with the error message; the error reaches the caller."""
    tracker = make_tracker(mounts={"inputs": data_dir}, openlineage=endpoint.url)
    with pytest.raises(RuntimeError, match="diverged"):
        tracker.run(explode, name="explode", inputs={"raw": data_dir / "raw.csv"}, outputs=["x"])
    assert endpoint.rejected == []
    start, fail = endpoint.received
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    assert start["run"]["runId"] == fail["run"]["runId"]
    error = fail["run"]["facets"]["errorMessage"]
    assert error["message"] == "RuntimeError: the model diverged"
    assert error["programmingLanguage"] == "python"
    assert datasets(fail, "inputs") == [("consist://consist/inputs", "raw.csv")]
    assert fail["outputs"] == []


class Model:
    @staticmethod
    def init(config: dict[str, Any]) -> pd.DataFrame:
        return pd.DataFrame({"person": range(config["persons"]), "trips": 2})

    @staticmethod
    def simulate(population: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
        return population.assign(trips=population["trips"] + (config["year"] - 2020) // 10)


def two_years(tracker: Any) -> Any:
    with consist.scenario("baseline", tracker=tracker) as sc:
        sc.run("init", Model.init, config={"persons": 3}, outputs=["population"])
        for year in (2030, 2040):
            sc.run(
                "simulate",
                Model.simulate,
                inputs=["population"],
                outputs=["persons"],
                config={"year": year},
                year=year,
            )
    return sc


def test_scenario_steps_are_children_of_the_scenario_job_and_chain_datasets(
    make_tracker: Callable[..., Any], endpoint: LineageEndpoint
) -> None:
    """A scenario: its header is a job, steps are <scenario>.<step> jobs with a parent facet,
    and a step's input is the same dataset as the output of the step that wrote it."""
    tracker = make_tracker(openlineage=endpoint.url)
    sc = two_years(tracker)
    got = endpoint.received
    assert endpoint.rejected == []
    assert len(got) == 8  # header + 3 steps, START and COMPLETE each
    header = expected_uuid("baseline")
    assert [(e["eventType"], e["job"]["name"]) for e in got] == [
        ("START", "baseline"),
        ("START", "baseline.init"),
        ("COMPLETE", "baseline.init"),
        ("START", "baseline.simulate"),
        ("COMPLETE", "baseline.simulate"),
        ("START", "baseline.simulate"),
        ("COMPLETE", "baseline.simulate"),
        ("COMPLETE", "baseline"),
    ]
    assert got[0]["job"]["facets"]["jobType"]["jobType"] == "SCENARIO"
    for event in got[1:-1]:
        parent = event["run"]["facets"]["parent"]
        assert parent["run"] == {"runId": header}
        assert parent["job"] == {"namespace": "consist", "name": "baseline"}
        assert event["job"]["facets"]["jobType"]["jobType"] == "STEP"
    init_out = datasets(got[2], "outputs")
    assert datasets(got[4], "inputs") == datasets(got[6], "inputs") == init_out
    assert [e["run"]["facets"]["consist_run"].get("year") for e in got[3:7]] == [2030] * 2 + [
        2040
    ] * 2
    steps = [s["run_id"] for s in sc.steps]
    assert [e["run"]["runId"] for e in got[1:7:2]] == [expected_uuid(s) for s in steps]

    # Second pass: all hits, each still a run of its own with its cache facet; the header
    # is re-opened, not begun again, so it sends a new COMPLETE but no second START.
    endpoint.received.clear()
    two_years(tracker)
    assert endpoint.rejected == []
    assert [e["eventType"] for e in endpoint.received] == ["START", "COMPLETE"] * 3 + ["COMPLETE"]
    done = [e for e in endpoint.received if e["eventType"] == "COMPLETE"]
    hits = [e["run"]["facets"]["consist_cache"] for e in done[:-1]]
    assert [h["cacheHit"] for h in hits] == [True, True, True]
    assert [h["cachedFrom"] for h in hits] == steps
    assert done[-1]["run"]["runId"] == header


def test_readonly_runs_emit_nothing(
    make_tracker: Callable[..., Any], data_dir: Path, endpoint: LineageEndpoint
) -> None:
    """A readonly sandbox records nothing, so it emits nothing either."""
    tracker = make_tracker(mounts={"inputs": data_dir}, openlineage=endpoint.url)
    tracker.run(
        clean,
        name="clean",
        inputs={"raw": data_dir / "raw.csv"},
        config={"threshold": 0.1},
        outputs=["cleaned"],
        cache_mode="readonly",
    )
    with tracker.start_run("sandbox", cache_mode="readonly"):
        pass
    assert endpoint.received == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_or_failing_endpoint_warns_and_the_run_completes(
    tmp_path: Path, data_dir: Path, endpoint: LineageEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    """Connection refused, a 500 and a raising callable: warnings only, every run completes."""

    def broken(event: dict[str, Any]) -> None:
        raise OSError("disk full")

    endpoint.status = 500
    targets = [f"http://127.0.0.1:{_closed_port()}", endpoint.url, broken]
    caplog.set_level(logging.WARNING, logger="consist.openlineage")
    for number, target in enumerate(targets):
        with consist.Tracker(
            tmp_path / f"runs{number}",
            catalog="memory://",
            mounts={"inputs": data_dir},
            openlineage=target,
            code_identity="function",
        ) as tracker:
            result = run_clean(tracker, data_dir)
            assert result.run.status is consist.RunStatus.COMPLETED
            assert (tracker.openlineage.sent, tracker.openlineage.failed) == (0, 2)
    warnings = [r for r in caplog.records if r.name == "consist.openlineage"]
    assert len(warnings) == 6
    assert all("the run is unaffected" in r.getMessage() for r in warnings)


def test_url_with_the_lineage_path_is_used_as_is(tmp_path: Path, endpoint: LineageEndpoint) -> None:
    """openlineage='http://host/api/v1/lineage' does not get the path twice."""
    with (
        consist.Tracker(
            tmp_path / "runs", catalog="memory://", openlineage=endpoint.url + "/api/v1/lineage/"
        ) as tracker,
        tracker.start_run("block", "notes"),
    ):
        pass
    assert [e["job"]["name"] for e in endpoint.received] == ["notes", "notes"]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"openlineage": 42}, "openlineage="),
        ({"openlineage": "ftp://host/lineage"}, "openlineage="),
        ({"openlineage": "localhost:5000"}, "openlineage="),
        ({"openlineage": print, "openlineage_namespace": ""}, "openlineage_namespace"),
        ({"openlineage": print, "openlineage_namespace": "my project"}, "openlineage_namespace"),
    ],
)
def test_bad_openlineage_options_are_refused_before_anything_is_made(
    tmp_path: Path, options: dict[str, Any], named: str
) -> None:
    """A wrong target or namespace is our InvalidInput naming the option; no run dir is made."""
    with pytest.raises(InvalidInput, match=named):
        consist.Tracker(tmp_path / "runs", catalog="memory://", **options)
    assert not (tmp_path / "runs").exists()


def _consist_script() -> str:
    return str(Path(sys.executable).with_name("consist"))


@pytest.mark.parametrize("catalog", ["duckdb", "sqlite"])
def test_export_in_a_fresh_process_writes_the_events_emitted_live(
    tmp_path: Path, data_dir: Path, endpoint: LineageEndpoint, catalog: str
) -> None:
    """`consist export openlineage` in a new process writes, run for run, the very events the
    tracker emitted live; POSTed to the endpoint they are all accepted."""
    live: list[dict[str, Any]] = []
    db = tmp_path / ("provenance.duckdb" if catalog == "duckdb" else "provenance.sqlite")
    with consist.Tracker(
        tmp_path / "runs",
        db_path=db,
        mounts={"inputs": data_dir},
        openlineage=live.append,
        code_identity="function",
    ) as tracker:
        miss = run_clean(tracker, data_dir)
        run_clean(tracker, data_dir)  # a hit
        with pytest.raises(RuntimeError):
            tracker.run(explode, name="explode", inputs={"raw": data_dir / "raw.csv"})
        two_years(tracker)
    args = [_consist_script(), "export", "openlineage", "-c", str(db), "-r", str(tmp_path / "runs")]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    exported = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(exported) == len(live) == 2 * 7
    key = lambda e: (e["run"]["runId"], e["eventType"])  # noqa: E731
    assert sorted(exported, key=key) == sorted(live, key=key)
    for event in exported:
        urllib_post(endpoint.url, event)
    assert endpoint.rejected == [] and len(endpoint.received) == 14

    one = subprocess.run(
        [*args, miss.run.id, "--out", str(tmp_path / "one.jsonl")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert one.returncode == 0, one.stderr
    lines = (tmp_path / "one.jsonl").read_text().splitlines()
    assert [json.loads(line)["eventType"] for line in lines] == ["START", "COMPLETE"]
    assert {json.loads(line)["run"]["runId"] for line in lines} == {expected_uuid(miss.run.id)}

    prefix = subprocess.run([*args, miss.run.id[:-3]], capture_output=True, text=True, timeout=120)
    assert prefix.stdout.splitlines() == (tmp_path / "one.jsonl").read_text().splitlines()

    unknown = subprocess.run([*args, "no-such-run"], capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 1
    assert "no-such-run" in unknown.stderr
    spaced = subprocess.run([*args, "-n", "a b"], capture_output=True, text=True, timeout=120)
    assert spaced.returncode == 2
    assert "--namespace" in spaced.stderr


def urllib_post(url: str, event: dict[str, Any]) -> None:
    import urllib.request

    request = urllib.request.Request(
        url + "/api/v1/lineage",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def scale(raw: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    return raw.assign(value=raw["value"] * config["factor"])


def test_map_emits_for_every_item_hits_and_misses(
    make_tracker: Callable[..., Any], data_dir: Path, endpoint: LineageEndpoint
) -> None:
    """tracker.map: each item is a run, so each sends START and COMPLETE; served hits too."""
    tracker = make_tracker(mounts={"inputs": data_dir}, openlineage=endpoint.url)
    options = {"name": "scale", "inputs": {"raw": data_dir / "raw.csv"}, "outputs": ["scaled"]}
    first = tracker.map(scale, [1, 2], config=lambda f: {"factor": f}, **options)
    second = tracker.map(scale, [1, 2, 3], config=lambda f: {"factor": f}, **options)
    assert endpoint.rejected == []
    runs = [r.result.run for r in [*first, *second]]
    done = {e["run"]["runId"]: e for e in endpoint.received if e["eventType"] == "COMPLETE"}
    started = {e["run"]["runId"] for e in endpoint.received if e["eventType"] == "START"}
    assert set(done) == started == {expected_uuid(r.id) for r in runs}
    assert len(endpoint.received) == 2 * len(runs) == 10
    cache = [done[expected_uuid(r.id)]["run"]["facets"]["consist_cache"]["cacheHit"] for r in runs]
    assert cache == [False, False, True, True, False]


def test_object_store_urls_are_datasets_of_their_bucket(
    tmp_path: Path, endpoint: LineageEndpoint
) -> None:
    """A step writing memory://<bucket>/out/scaled.parquet and one reading it name the same
    dataset (namespace memory://<bucket>), as OpenLineage names object stores."""
    import fsspec

    bucket = f"consist-{uuid.uuid4().hex}"
    fsspec.filesystem("memory").pipe(f"memory://{bucket}/zones.csv", b"zone,pop\n1,1\n2,2\n")

    def scale(zones: pd.DataFrame, output_paths: dict[str, Path]) -> None:
        zones.assign(pop=zones["pop"] * 2).to_parquet(output_paths["scaled"])

    def total(zones: pd.DataFrame) -> pd.DataFrame:
        return zones[["pop"]].sum().to_frame().T

    url = f"memory://{bucket}/out/scaled.parquet"
    with consist.Tracker(
        tmp_path / "runs", db_path=tmp_path / "p.duckdb", openlineage=endpoint.url
    ) as tracker:
        tracker.run(
            scale, inputs={"zones": f"memory://{bucket}/zones.csv"}, outputs={"scaled": url}
        )
        tracker.run(total, inputs={"zones": url}, outputs=["total"])
    assert endpoint.rejected == []
    wrote, read = [e for e in endpoint.received if e["eventType"] == "COMPLETE"]
    place = (f"memory://{bucket}", "out/scaled.parquet")
    assert datasets(wrote, "inputs") == [(f"memory://{bucket}", "zones.csv")]
    assert datasets(wrote, "outputs") == datasets(read, "inputs") == [place]
    assert version_of(wrote, "outputs") == version_of(read, "inputs")


def test_a_run_whose_process_died_gets_its_fail_from_the_next_tracker(
    tmp_path: Path, endpoint: LineageEndpoint
) -> None:
    """A process killed mid-run sent START; the next tracker to open marks the run
    interrupted and sends its FAIL, so the server does not show it running for ever."""
    script = f"""
import os, consist
tracker = consist.Tracker({str(tmp_path / "runs")!r}, db_path={str(tmp_path / "p.duckdb")!r},
                          openlineage={endpoint.url!r})
with tracker.start_run("doomed", "simulate"):
    os._exit(3)
"""
    died = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert died.returncode == 3, died.stderr
    assert [e["eventType"] for e in endpoint.received] == ["START"]
    with consist.Tracker(
        tmp_path / "runs", db_path=tmp_path / "p.duckdb", openlineage=endpoint.url
    ) as tracker:
        assert tracker.get_run("doomed").status is consist.RunStatus.FAILED
    assert endpoint.rejected == []
    start, fail = endpoint.received
    assert fail["eventType"] == "FAIL" and fail["run"]["runId"] == start["run"]["runId"]
    assert fail["job"]["name"] == "simulate"
    assert fail["run"]["facets"]["errorMessage"]["message"].startswith("Interrupted: ")
