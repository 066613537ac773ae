"""`consist push`, `pull`, `db sync --from` and `gc --archived`; progress bars of archiving."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_blob_sharing import ACCESS_KEY, SECRET, Calls, machine, run_pipeline
from typer.testing import CliRunner

import consist
from consist.cli import app
from consist.domain.digests import BLOB_DIGEST
from consist_fsspec import FsspecBlobStore

runner = CliRunner()


def cli(root: Path, *args: str, catalog: str = "provenance.duckdb", **env: str) -> Any:
    where = ["--catalog", str(root / catalog), "--run-dir", str(root / "runs")]
    return runner.invoke(app, [*args, *where], env=env or None)


def as_json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def run_on_a(tmp_path: Path, blobs: Any, **options: Any) -> tuple[Any, Any]:
    with machine(tmp_path / "a", blobs, **options) as a:
        return run_pipeline(a, tmp_path / "a" / "raw.csv", Calls())


def test_push_then_pull_on_another_machine_gives_cache_hits(tmp_path: Path) -> None:
    store = str(tmp_path / "blobs")
    first, second = run_on_a(tmp_path, store)
    ids = sorted([first.run_id, second.run_id])
    pushed = as_json(cli(tmp_path / "a", "push", "--blobs", store, "--json"))
    assert sorted(pushed["published"]) == ids
    again = as_json(cli(tmp_path / "a", "push", "--blobs", store, "--json"))
    assert again["published"] == [] and sorted(again["unchanged"]) == ids
    shutil.rmtree(tmp_path / "a")

    (tmp_path / "b").mkdir()
    pulled = as_json(cli(tmp_path / "b", "pull", "--blobs", store, "--json"))
    assert sorted(pulled["imported"]) == ids
    assert as_json(cli(tmp_path / "b", "pull", "--blobs", store, "--json"))["imported"] == []
    calls = Calls()
    with machine(tmp_path / "b", store) as b:
        hits = run_pipeline(b, tmp_path / "b" / "raw.csv", calls)
        assert calls.count == 0 and all(hit.cache_hit for hit in hits)
        assert b.artifact_path(hits[1].outputs["totals"]).read_text().startswith("group,value")


def test_db_sync_from_imports_published_runs_and_rebuild_keeps_them(tmp_path: Path) -> None:
    store = str(tmp_path / "blobs")
    first, _ = run_on_a(tmp_path, store)
    with machine(tmp_path / "a", store) as a:
        a.push([first.run_id])
    b = tmp_path / "b"
    b.mkdir()
    synced = as_json(cli(b, "db", "sync", "--from", store, "--json", catalog="b.sqlite"))
    assert synced["pulled"]["imported"] == [first.run_id]
    assert as_json(cli(b, "show", first.run_id, "--json", catalog="b.sqlite"))["run"]["id"] == (
        first.run_id
    )
    rebuilt = as_json(cli(b, "db", "rebuild", "--json", catalog="b.sqlite"))
    assert rebuilt["runs"] == 1
    assert "pulled_from" in (b / "runs" / first.run_id / "consist.json").read_text()


def test_gc_archived_deletes_only_copies_the_store_verifiably_holds(tmp_path: Path) -> None:
    store = FsspecBlobStore(str(tmp_path / "blobs"))
    first, second = run_on_a(tmp_path, store)
    root = tmp_path / "a"
    with machine(root, store) as a:
        scaled = a.resolve_path(first.outputs["scaled"])
        totals = a.resolve_path(second.outputs["totals"])
    scaled_bytes = scaled.read_bytes()
    totals.write_text("group,value\nedited,1\n")  # local bytes no longer match the archive
    listed = as_json(cli(root, "gc", "--archived", "--blobs", str(tmp_path / "blobs"), "--json"))
    assert [(f["key"], f["reason"]) for f in listed["files"]] == [("scaled", "archived")]
    assert scaled.exists()  # a dry run
    store.delete(first.outputs["scaled"].meta[BLOB_DIGEST])
    gone = cli(root, "gc", "--archived", "--yes", "--blobs", str(tmp_path / "blobs"), "--json")
    assert as_json(gone)["files"] == []  # the blob is gone, so the copy is not safe to drop
    (tmp_path / "scaled-copy.csv").write_bytes(scaled_bytes)
    assert store.put(tmp_path / "scaled-copy.csv") == first.outputs["scaled"].meta[BLOB_DIGEST]
    deleted = cli(root, "gc", "--archived", "--yes", "--blobs", str(tmp_path / "blobs"), "--json")
    assert [f["key"] for f in as_json(deleted)["files"]] == ["scaled"]
    assert not scaled.exists() and totals.exists()
    with machine(root, store) as a:
        assert a.artifact_path(first.outputs["scaled"]).read_bytes() == scaled_bytes


def test_consist_archive_stores_outputs_whose_archiving_failed(tmp_path: Path) -> None:
    blocker = tmp_path / "store"
    blocker.write_text("a file where the store's folder should be: every put fails")
    url = str(blocker / "blobs")
    first, second = run_on_a(tmp_path, url)
    blocker.unlink()  # the store can be written again
    root = tmp_path / "a"
    done = as_json(cli(root, "archive", "--blobs", url, "--json"))
    assert sorted(map(tuple, done["archived"])) == sorted(
        [(first.run_id, "scaled"), (second.run_id, "totals")]
    )
    assert done["pending"] == []
    assert set(FsspecBlobStore(url).digests()) == {
        first.outputs["scaled"].content_hash,
        second.outputs["totals"].content_hash,
    }
    again = cli(root, "archive", "--blobs", url)
    assert again.exit_code == 0 and "nothing to archive" in again.stdout


def test_commands_without_a_store_fail_in_one_line(tmp_path: Path) -> None:
    run_on_a(tmp_path, None)
    for args in (["push"], ["pull"], ["archive"], ["gc", "--archived"]):
        result = cli(tmp_path / "a", *args)
        assert result.exit_code == 1, args
        assert result.stderr.count("\n") == 1 and "--blobs" in result.stderr
    bad = cli(tmp_path / "a", "push", "--blobs", str(tmp_path / "s"), CONSIST_STORAGE_OPTIONS="[")
    assert bad.exit_code == 1 and "CONSIST_STORAGE_OPTIONS" in bad.stderr


@pytest.mark.s3
def test_push_and_pull_over_s3_with_options_from_the_environment(
    tmp_path: Path, s3_prefix: str, s3_endpoint: str
) -> None:
    url = f"s3://{s3_prefix}"
    options = {"client_kwargs": {"endpoint_url": s3_endpoint}, "key": ACCESS_KEY, "secret": SECRET}
    run_on_a(tmp_path, url, storage_options=options)
    env = {"CONSIST_BLOBS": url, "CONSIST_STORAGE_OPTIONS": json.dumps(options)}
    pushed = cli(tmp_path / "a", "push", **env)
    assert pushed.exit_code == 0 and "published 2 run(s)" in pushed.stdout
    (tmp_path / "b").mkdir()
    pulled = cli(tmp_path / "b", "pull", **env)
    assert pulled.exit_code == 0 and "imported 2 run(s)" in pulled.stdout
    for result in (pushed, pulled):
        assert SECRET not in result.output and ACCESS_KEY not in result.output


# -- progress bars ------------------------------------------------------------------------

BIG = 64 << 20  # the adapter's threshold for a bar


def write_big(output_paths: dict[str, Path]) -> None:
    with output_paths["big"].open("wb") as handle:
        handle.truncate(BIG)


@pytest.mark.parametrize("progress", [None, True])
def test_archiving_a_large_output_shows_a_bar_only_when_asked_or_on_a_terminal(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    progress: bool | None,
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich draws as on a terminal once a bar is on
    with consist.Tracker(
        tmp_path / "runs",
        catalog="memory://",
        blobs=str(tmp_path / "blobs"),
        progress=progress,
        hashing_strategy="fast",
    ) as tracker:
        result = tracker.run(write_big, output_paths={"big": "big.bin"})
    assert BLOB_DIGEST in result.outputs["big"].meta
    err = capfd.readouterr().err
    assert ("big.bin" in err) is bool(progress)  # tests run without a terminal: quiet
