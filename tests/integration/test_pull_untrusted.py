"""Pulled snapshots are untrusted: crafted publications are refused, nothing is written outside.

Machine A publishes an honest run to a shared store (a local folder, or moto's
S3 server). An attacker who can write to the same store adds crafted snapshots
beside it, each with one hostile field, and the blob its output would be
restored from. Machine B pulls: the honest run comes in, every crafted one is
refused with the run and the field named, and no file appears outside B's run
directory.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import consist
from consist.cli import app
from consist.domain import Artifact, RunRecord
from consist.domain.digests import BLOB_DIGEST
from consist.domain.errors import InvalidInput, PathEscapesMount, UntrustedSnapshot
from consist.services.sharing.pull_checks import check_published

PAYLOAD = b"written by whoever can write to the shared store\n"
Mutation = Callable[[dict[str, Any], Path], None]


def output_of(doc: dict[str, Any]) -> dict[str, Any]:
    (link,) = [link for link in doc["links"] if link["direction"] == "output"]
    (artifact,) = [a for a in doc["artifacts"] if a["id"] == link["artifact_id"]]
    return artifact


def set_uri(uri: str) -> Mutation:
    def mutate(doc: dict[str, Any], outside: Path) -> None:
        output_of(doc)["uri"] = uri.format(outside=outside.as_posix())

    return mutate


def set_run_field(name: str, value: Any) -> Mutation:
    def mutate(doc: dict[str, Any], outside: Path) -> None:
        doc["run"][name] = value

    return mutate


def link_other_run(doc: dict[str, Any], outside: Path) -> None:
    doc["links"][0]["run_id"] = "honest"


def bad_producer(doc: dict[str, Any], outside: Path) -> None:
    output_of(doc)["producer_run_id"] = "../../x"


def local_path_for_workspace_output(doc: dict[str, Any], outside: Path) -> None:
    output_of(doc)["abs_path"] = str(outside / "pwned.txt")


def bad_blob_digest(doc: dict[str, Any], outside: Path) -> None:
    output_of(doc)["meta"][BLOB_DIGEST] = "../../etc/passwd"


# run id -> (what the attacker changes, the field the refusal names)
CRAFTED: dict[str, tuple[Mutation, str]] = {
    "evil-file-uri": (set_uri("file://{outside}/pwned.txt"), "uri"),
    "evil-dotdot": (set_uri("workspace://../../outside/pwned.txt"), "uri"),
    "evil-encoded-dotdot": (set_uri("workspace://%2e%2e/%2E%2E/outside/pwned.txt"), "uri"),
    "evil-twice-encoded": (set_uri("runs://%252e%252e/outside/pwned.txt"), "uri"),
    "evil-absolute": (set_uri("workspace://{outside}/pwned.txt"), "uri"),
    "evil-control": (set_uri("workspace://pwned\n.txt"), "uri"),
    "evil-encoded-control": (set_uri("workspace://pwned%0A.txt"), "uri"),
    "evil-mount-root": (set_uri("runs://"), "uri"),
    "evil-web-url": (set_uri("http://169.254.169.254/latest/meta-data/iam"), "uri"),
    "evil-url-credentials": (set_uri("s3://AKIAX:secret@bucket/out.txt"), "uri"),
    "evil-schema-status": (set_run_field("status", 5), "run.status"),
    "evil-extra-field": (set_run_field("shell", "rm -rf ~"), "run"),
    "evil-link": (link_other_run, "links[0].run_id"),
    "evil-producer": (bad_producer, "producer_run_id"),
    "evil-blob-digest": (bad_blob_digest, "meta.blob_digest"),
    "evil-abs-path": (local_path_for_workspace_output, "artifacts[1].abs_path"),
}


def honest_machine(root: Path, blobs: Any, **options: Any) -> Any:
    root.mkdir(parents=True, exist_ok=True)
    return consist.Tracker(
        root / "runs", db_path=root / "provenance.duckdb", blobs=blobs, **options
    )


def publish_honest_run(tmp_path: Path, blobs: Any, **options: Any) -> None:
    """A finished run with a raw input outside every mount (a file:// URI) and one output."""
    raw = tmp_path / "a" / "raw.csv"
    raw.parent.mkdir(parents=True)
    raw.write_text("v\n1\n")
    with honest_machine(tmp_path / "a", blobs, **options) as a:
        with a.start_run("honest", "export") as run:
            run.log_input(raw, "raw")
            (run.workspace / "out.txt").write_text("honest output\n")
            run.log_output(run.workspace / "out.txt", "out")
        assert a.push().published == ["honest"]
    shutil.rmtree(tmp_path / "a")  # machine A is gone: only the store remains


def publish_crafted(store: Any, outside: Path) -> None:
    """Every crafted snapshot, derived from the honest one, and the blob their output names."""
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    staged = outside.parent / "payload.bin"
    staged.write_bytes(PAYLOAD)
    assert store.put(staged) == digest
    staged.unlink()
    honest = json.loads(store.read_named("snapshots/honest.json"))
    for run_id, (mutate, _) in CRAFTED.items():
        doc = copy.deepcopy(honest)
        doc["run"]["id"] = run_id
        for link in doc["links"]:
            link["run_id"] = run_id
        output = output_of(doc)
        output.update(producer_run_id=run_id, content_hash=digest, size=len(PAYLOAD))
        output["meta"][BLOB_DIGEST] = digest
        mutate(doc, outside)
        store.write_named(f"snapshots/{run_id}.json", json.dumps(doc).encode())
    # A publication whose name and content disagree.
    store.write_named("snapshots/evil-renamed.json", json.dumps(honest).encode())


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")} if root.exists() else set()


def assert_pull_refuses_crafted_and_imports_honest(tmp_path: Path, blobs: Any, **kw: Any) -> None:
    outside = tmp_path / "outside"
    publish_honest_run(tmp_path, blobs, **kw)
    with honest_machine(tmp_path / "b", blobs, **kw) as b:
        publish_crafted(b.blobs, outside)
        before = files_under(tmp_path) - files_under(tmp_path / "b")
        report = b.pull()
        assert report.imported == ["honest"]
        assert sorted(report.refused) == sorted([*CRAFTED, "evil-renamed"])
        for run_id, (_, field) in CRAFTED.items():
            assert field in report.reasons[run_id].partition(":")[0], report.reasons[run_id]
            assert not b.run_exists(run_id)
        assert report.reasons["evil-renamed"].startswith("run.id:")
        # The honest run is usable: its output comes back from the store, inside run_dir.
        out = b.get_artifacts_for_run("honest").outputs["out"]
        local = b.artifact_path(out)
        assert local.read_text() == "honest output\n"
        assert local.is_relative_to(tmp_path / "b" / "runs")
    assert not outside.exists()
    after = files_under(tmp_path) - files_under(tmp_path / "b")
    assert after == before  # nothing written anywhere but B's own folder
    for path in files_under(tmp_path / "b"):
        assert not path.is_file() or PAYLOAD not in path.read_bytes(), path


def test_pull_from_a_folder_refuses_crafted_snapshots_and_keeps_honest_ones(
    tmp_path: Path,
) -> None:
    assert_pull_refuses_crafted_and_imports_honest(tmp_path, str(tmp_path / "blobs"))


@pytest.mark.s3
def test_pull_from_s3_refuses_crafted_snapshots_and_keeps_honest_ones(
    tmp_path: Path, s3_prefix: str, s3_storage_options: dict[str, Any]
) -> None:
    assert_pull_refuses_crafted_and_imports_honest(
        tmp_path, f"s3://{s3_prefix}", storage_options=s3_storage_options
    )


def test_the_refusal_names_the_run_and_the_field(tmp_path: Path) -> None:
    publish_honest_run(tmp_path, str(tmp_path / "blobs"))
    honest = (tmp_path / "blobs" / "named" / "snapshots" / "honest.json").read_bytes()
    doc = json.loads(honest)
    doc["artifacts"][1]["uri"] = "file:///etc/cron.d/pwned"
    with pytest.raises(UntrustedSnapshot) as caught:
        check_published(json.dumps(doc).encode(), "honest")
    assert (caught.value.run_id, caught.value.field) == ("honest", "artifacts[1].uri")
    assert "'honest'" in str(caught.value) and "artifacts[1].uri" in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert check_published(honest, "honest").run.id == "honest"  # the snapshot as written


def test_consist_pull_lists_each_refusal_and_exits_non_zero(tmp_path: Path) -> None:
    store = str(tmp_path / "blobs")
    publish_honest_run(tmp_path, store)
    with honest_machine(tmp_path / "b", store) as b:
        publish_crafted(b.blobs, tmp_path / "outside")
    where = ["--catalog", str(tmp_path / "b" / "provenance.duckdb")]
    where += ["--run-dir", str(tmp_path / "b" / "runs"), "--blobs", store]
    result = CliRunner().invoke(app, ["pull", *where])
    assert result.exit_code == 1, result.output
    assert "imported 1 run(s)" in result.output
    assert "evil-file-uri: artifacts[1].uri" in " ".join(result.output.split())
    as_json = CliRunner().invoke(app, ["pull", *where, "--json"])
    assert as_json.exit_code == 1
    assert "evil-dotdot" in json.loads(as_json.stdout)["reasons"]
    synced = CliRunner().invoke(app, ["db", "sync", "--from", store, *where[:4], "--json"])
    assert synced.exit_code == 1
    assert "evil-file-uri" in json.loads(synced.stdout)["pulled"]["reasons"]
    assert not (tmp_path / "outside").exists()


# -- bytes are restored only under the run directory or a mount, whatever the record says


def record_with_output(tmp_path: Path, tracker: Any, **artifact: Any) -> Artifact:
    """A finished run of this machine whose output record points wherever ``artifact`` says,
    with the output's bytes in the blob store."""
    staged = tmp_path / "payload.bin"
    staged.write_bytes(PAYLOAD)
    digest = tracker.blobs.put(staged)
    staged.unlink()
    with tracker.start_run("writer", "export") as run:
        (run.workspace / "out.txt").write_bytes(PAYLOAD)
        logged = run.log_output(run.workspace / "out.txt", "out")
    record = tracker.get_record("writer")
    moved = Artifact.from_dict({**logged.to_dict(), **artifact, "meta": {BLOB_DIGEST: digest}})
    tracker.save_record(RunRecord(record.run, (moved,), record.links))
    return moved


@pytest.mark.parametrize("how", ["file-uri", "unknown-mount", "symlink"])
def test_a_record_pointing_outside_is_never_restored_there(tmp_path: Path, how: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    with honest_machine(tmp_path / "m", str(tmp_path / "blobs")) as tracker:
        if how == "file-uri":
            fields = {"uri": f"file://{outside.as_posix()}/pwned.txt", "abs_path": None}
        elif how == "unknown-mount":  # not resolvable here: abs_path is the fallback
            fields = {"uri": "elsewhere://pwned.txt", "abs_path": str(outside / "pwned.txt")}
        else:
            os.symlink(outside, tracker.run_dir / "link")
            inside_looking = tracker.run_dir / "link" / "pwned.txt"
            fields = {"uri": "elsewhere://pwned.txt", "abs_path": str(inside_looking)}
        artifact = record_with_output(tmp_path, tracker, **fields)
        with pytest.raises(PathEscapesMount, match="outside the run directory and every mount"):
            tracker.artifact_path(artifact)
        with pytest.raises(PathEscapesMount):
            consist.load(artifact, tracker=tracker)
    assert list(outside.iterdir()) == []


def test_a_missing_output_inside_the_run_directory_is_still_restored(tmp_path: Path) -> None:
    with honest_machine(tmp_path / "m", str(tmp_path / "blobs")) as tracker:
        with tracker.start_run("writer", "export") as run:
            (run.workspace / "out.txt").write_bytes(PAYLOAD)
            logged = run.log_output(run.workspace / "out.txt", "out")
        path = tracker.artifact_path(logged)
        path.unlink()
        assert tracker.artifact_path(logged).read_bytes() == PAYLOAD


def test_a_publication_cannot_re_point_an_artifact_this_machine_knows(tmp_path: Path) -> None:
    """The catalog keys artifacts by id: a crafted snapshot reusing a local artifact's id
    with another location or content is refused, and the local artifact stays as it was."""
    store = str(tmp_path / "blobs")
    with honest_machine(tmp_path / "b", store) as b:
        with b.start_run("local-run", "export") as run:
            (run.workspace / "out.txt").write_text("mine\n")
            mine = run.log_output(run.workspace / "out.txt", "out")
        publish_honest_run(tmp_path, store)
        honest = json.loads(b.blobs.read_named("snapshots/honest.json"))
        for run_id, change in (
            ("evil-repoint", {"uri": "runs://local-run/consist.json"}),
            ("evil-rehash", {"content_hash": "0" * 64}),
        ):
            doc = copy.deepcopy(honest)
            doc["run"]["id"] = run_id
            for link in doc["links"]:
                link["run_id"] = run_id
            output = output_of(doc)
            output.update(
                {"id": mine.id, "producer_run_id": "local-run", "uri": mine.uri, **change}
            )
            for link in doc["links"]:
                if link["direction"] == "output":
                    link["artifact_id"] = mine.id
            b.blobs.write_named(f"snapshots/{run_id}.json", json.dumps(doc).encode())
        report = b.pull()
        assert report.imported == ["honest"]
        assert sorted(report.refused) == ["evil-rehash", "evil-repoint"]
        assert report.reasons["evil-repoint"].startswith("artifacts[1].id: reuses the id")
        assert "content_hash" in report.reasons["evil-rehash"]
        b.flush()
        assert b.get_artifact(mine.id).uri == mine.uri
        assert b.catalog.get_artifact(mine.id).content_hash == mine.content_hash


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"\xff\xfe not json", "not usable JSON"),
        (b"[1, 2]", "snapshot schema"),
        (b'{"format": 2, "run": {}, "artifacts": [], "links": []}', "snapshot schema"),
    ],
)
def test_garbage_publications_are_refused_as_our_error(payload: bytes, reason: str) -> None:
    with pytest.raises(UntrustedSnapshot, match=reason):
        check_published(payload, "garbage")


def test_a_deeply_nested_value_is_refused_naming_its_field(tmp_path: Path) -> None:
    """Deeper than a local config may be (which would exhaust the stack later)."""
    publish_honest_run(tmp_path, str(tmp_path / "blobs"))
    doc = json.loads((tmp_path / "blobs" / "named" / "snapshots" / "honest.json").read_bytes())
    deep: dict[str, Any] = {}
    doc["run"]["meta"]["deep"] = deep
    for _ in range(800):
        deep["x"] = deep = {}
    with pytest.raises(UntrustedSnapshot, match="nested more than") as caught:
        check_published(json.dumps(doc).encode(), "honest")
    assert caught.value.field.startswith("run.meta.deep.x.x")


def test_loading_a_record_that_names_a_folder_as_a_file_is_our_error(tmp_path: Path) -> None:
    """A record (pulled, or edited) whose CSV output is really a folder: consist.load
    refuses it with our error instead of the reader's IsADirectoryError."""
    with honest_machine(tmp_path / "m", str(tmp_path / "blobs")) as tracker:
        folder = tmp_path / "folder"
        folder.mkdir()
        artifact = record_with_output(
            tmp_path, tracker, uri="elsewhere://out.csv", abs_path=str(folder), driver="csv"
        )
        with pytest.raises(InvalidInput, match="is a folder, not a csv file"):
            consist.load(artifact, tracker=tracker)
