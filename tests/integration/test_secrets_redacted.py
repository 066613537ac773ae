"""Secrets never reach a file: not the run directory, not the catalog file, not the store.

Distinctive secrets go into a step's config (nested, under several secret-looking
keys, inside a URL), a run's meta and facet, an output's meta, and the texts of
failed runs' exceptions. After the tracker is closed and the runs are pushed,
the bytes of every file under the test's folder (snapshots, the DuckDB or
SQLite catalog and its side files, the blob store, the published snapshots)
are searched for each secret. A changed secret must still miss the cache.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import consist
from consist.cli import app
from consist.domain import RunRecord
from consist.domain.errors import CatalogUnavailable
from consist.domain.redaction import DEFAULT_SECRET_KEYS, REDACTED
from consist.memory import InMemoryCatalog

SECRETS = {
    "password": "pw-7f3a-consist-probe",
    "api_key": "ak-91c2-consist-probe",
    "access_key": "xk-5d0e-consist-probe",
    "url_password": "hunter2",
    "facet_token": "ft-22aa-consist-probe",
    "meta_secret": "ms-0b9d-consist-probe",
    "output_credential": "oc-61f0-consist-probe",
    "session": "sid-4e4e-consist-probe",
}


def config_with(password: str) -> dict[str, Any]:
    return {
        "db": {"host": "db.internal", "password": password},
        "api_key": SECRETS["api_key"],
        "layers": [{"name": "roads", "AWS_ACCESS_KEY_ID": SECRETS["access_key"]}],
        "dsn": f"postgresql://modeller:{SECRETS['url_password']}@db.internal/x",
        "session_id": SECRETS["session"],
        "scale": 2,
    }


def all_bytes(root: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("catalog", ["provenance.duckdb", "provenance.sqlite"])
def test_secrets_are_in_no_file_and_a_changed_secret_misses_the_cache(
    tmp_path: Path, catalog: str
) -> None:
    calls: list[dict[str, Any]] = []

    def scale(config: dict[str, Any]) -> pd.DataFrame:
        calls.append(config)
        return pd.DataFrame({"v": [config["scale"]]})

    options = {"outputs": ["table"], "facet": {"scale": 2, "token": SECRETS["facet_token"]}}
    with consist.Tracker(
        tmp_path / "runs",
        db_path=tmp_path / catalog,
        blobs=str(tmp_path / "blobs"),
        code_identity="function",
        secret_keys=DEFAULT_SECRET_KEYS + "|session_id",
    ) as tracker:
        first = tracker.run(scale, config=config_with(SECRETS["password"]), **options)
        again = tracker.run(scale, config=config_with(SECRETS["password"]), **options)
        changed = tracker.run(scale, config=config_with("another-password"), **options)
        assert calls[0]["db"]["password"] == SECRETS["password"]  # the step sees the real value
        assert again.cache_hit and not changed.cache_hit and len(calls) == 2
        assert first.run.config["db"] == {"host": "db.internal", "password": REDACTED}
        assert first.run.config["dsn"] == f"postgresql://modeller:{REDACTED}@db.internal/x"
        assert first.run.signature.config_hash != changed.run.signature.config_hash

        with tracker.start_run("manual", "export", secret_note=SECRETS["meta_secret"]) as run:
            (run.workspace / "out.txt").write_text("out\n")
            run.log_output(
                run.workspace / "out.txt", "out", meta={"credential": SECRETS["output_credential"]}
            )
        with pytest.raises(RuntimeError), tracker.start_run("connect", "load"):
            raise RuntimeError("DATABASE_URL=postgresql://u:hunter2@db/x refused the login")

        def failing(config: dict[str, Any]) -> None:
            raise ConnectionError(f"cannot reach {config['dsn']}")

        with pytest.raises(ConnectionError):
            tracker.run(failing, config={"dsn": config_with("x")["dsn"]}, run_id="step-fails")
        failed = tracker.get_run("connect")
        assert failed.error_message == (
            f"DATABASE_URL=postgresql://u:{REDACTED}@db/x refused the login"
        )
        assert tracker.get_run("step-fails").error_message == (
            f"cannot reach postgresql://modeller:{REDACTED}@db.internal/x"
        )
        pushed = tracker.push()
        assert sorted(pushed.published) == sorted(
            [first.run_id, again.run_id, changed.run_id, "manual", "connect", "step-fails"]
        )
        run_ids = [first.run_id, "manual", "connect"]

    cli_output = ""
    for args in (["runs", "--json"], *(["show", run_id, "--json"] for run_id in run_ids)):
        where = ["--catalog", str(tmp_path / catalog), "--run-dir", str(tmp_path / "runs")]
        result = CliRunner().invoke(app, [*args, *where])
        assert result.exit_code == 0, result.output
        cli_output += result.output
    assert REDACTED in cli_output

    files = all_bytes(tmp_path)
    names = {path.name for path, _ in files}
    assert catalog in names and any(p.parent.name == "snapshots" for p, _ in files)
    for path, data in files:
        for name, secret in SECRETS.items():
            assert secret.encode() not in data, f"{name} found in {path}"
    for name, secret in SECRETS.items():
        assert secret not in cli_output, name
    published = json.loads((tmp_path / "blobs" / "named" / "snapshots" / "manual.json").read_text())
    assert published["run"]["meta"]["secret_note"] == REDACTED


def test_a_pulled_snapshot_with_secrets_in_clear_is_stored_redacted(tmp_path: Path) -> None:
    """A publisher that did not redact (an older Consist) cannot make this machine store
    its secrets."""
    store = str(tmp_path / "blobs")
    with consist.Tracker(tmp_path / "a" / "runs", catalog="memory://", blobs=store) as a:
        with a.start_run("shared", "export"):
            pass
        a.push()
    published = tmp_path / "blobs" / "named" / "snapshots" / "shared.json"
    document = json.loads(published.read_text())
    document["run"]["config"] = {"password": SECRETS["password"]}
    published.write_text(json.dumps(document))
    b_root = tmp_path / "b"
    with consist.Tracker(b_root / "runs", db_path=b_root / "p.duckdb", blobs=store) as b:
        assert b.pull().imported == ["shared"]
        assert b.get_run("shared").config == {"password": REDACTED}
    for path, data in all_bytes(tmp_path / "b"):
        assert SECRETS["password"].encode() not in data, path


def test_manual_runs_and_traced_steps_hash_the_real_secret(tmp_path: Path) -> None:
    """Runs whose signature is computed from the recorded run (start_run, sc.trace) use the
    config as given, not the redacted one: a changed secret changes the config hash."""
    with consist.Tracker(tmp_path / "runs", catalog="memory://", code_identity="function") as t:
        hashes = []
        for i, token in enumerate(("token-one", "token-two", "token-one")):
            with t.start_run(f"manual-{i}", "fetch", config={"api_token": token, "n": 1}):
                pass
            run = t.get_run(f"manual-{i}")
            assert run.config == {"api_token": REDACTED, "n": 1}
            hashes.append(run.signature.config_hash)
        assert hashes[0] != hashes[1] and hashes[0] == hashes[2]

        hits = []
        for i, token in enumerate(("token-one", "token-one", "token-two")):
            with (
                consist.scenario(f"s{i}", tracker=t, config={"password": token}) as sc,
                sc.trace("download", config={"api_token": token}) as step,
            ):
                hits.append(step.cache_hit)
        assert hits == [False, True, False]
        assert t.get_run("s0").config == {"password": REDACTED}


class UnreachableCatalog(InMemoryCatalog):
    """A catalog whose errors quote its connection URL, password included."""

    def record(self, record: RunRecord) -> None:
        raise CatalogUnavailable("cannot reach postgresql://consist:hunter2@catalog-db/prov")


def test_an_outbox_reason_quoting_a_url_stores_no_password(tmp_path: Path) -> None:
    with consist.Tracker(
        tmp_path / "runs", catalog=UnreachableCatalog(), background_writes=False
    ) as tracker:
        with tracker.start_run("parked", "export"):
            pass
        reasons = tracker.snapshots.pending_reasons()
    assert reasons["parked"].endswith(f"postgresql://consist:{REDACTED}@catalog-db/prov")
    for path, data in all_bytes(tmp_path):
        assert b"hunter2" not in data, path
