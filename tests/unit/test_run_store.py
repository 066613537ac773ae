"""The run store on its own: real snapshot files and journal, catalogs that are fakes.

No Tracker is built. The fakes are in-memory catalogs that behave like a busy,
slow, refusing or durable database would, so each durability rule of
``docs/design/durability.md`` is checked at the store's own boundary.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from consist.domain import Run, RunRecord, RunStatus
from consist.domain.errors import CatalogError, CatalogLocked
from consist.domain.redaction import Redactor
from consist.memory import InMemoryCatalog
from consist.services.store.run_store import RunStore


class DurableCatalog(InMemoryCatalog):
    """An in-memory catalog that does not say it is ephemeral: the store journals for it."""

    @property
    def ephemeral(self) -> bool:
        return False


class LockedCatalog(DurableCatalog):
    """Another process holds it locked for good."""

    def record(self, record: RunRecord) -> None:
        raise CatalogLocked("held by another process")


class SlowCatalog(DurableCatalog):
    """Stores a record only once ``release`` is set, like a catalog behind a busy writer."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def record(self, record: RunRecord) -> None:
        assert self.release.wait(30)
        super().record(record)


class PickyCatalog(DurableCatalog):
    """Refuses the runs named in ``refused`` (a value the engine rejects, say)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = {"bad"}

    def record(self, record: RunRecord) -> None:
        if record.run.id in self.refused:
            raise CatalogError(f"cannot store {record.run.id}")
        super().record(record)


def finished(run_id: str, **config: object) -> RunRecord:
    return RunRecord(Run(run_id, "step", config=dict(config), status=RunStatus.COMPLETED))


def store_on(run_dir: Path, catalog: InMemoryCatalog, **options: object) -> RunStore:
    return RunStore(run_dir, catalog, InMemoryCatalog(), **options)  # type: ignore[arg-type]


def test_the_snapshot_is_on_disk_before_the_catalog_sees_the_record(tmp_path: Path) -> None:
    seen: list[bool] = []

    class Watching(DurableCatalog):
        def record(self, record: RunRecord) -> None:
            seen.append((tmp_path / record.run.id / "consist.json").is_file())
            super().record(record)

    store = store_on(tmp_path, Watching(), background_writes=False)
    store.persist(finished("r1"))
    store.close()
    assert seen == [True]


def test_own_records_are_read_before_the_catalog_stores_them(tmp_path: Path) -> None:
    catalog = SlowCatalog()
    store = store_on(tmp_path, catalog)
    store.persist(finished("r1"))
    assert catalog.run_ids() == set()  # the writer is still waiting
    assert store.reader.get_run("r1").status is RunStatus.COMPLETED
    assert store.run_exists("r1") and not store.run_exists("r2")
    token = store.catalog_change_token()
    catalog.release.set()
    store.flush()
    assert catalog.run_ids() == {"r1"}
    assert store.catalog_change_token() != token
    store.close()


def test_save_record_redacts_and_tells_who_derived_something_from_it(tmp_path: Path) -> None:
    store = store_on(tmp_path, DurableCatalog(), redactor=Redactor.of(r"token"))
    forgotten: list[str] = []
    store.on_replaced.append(forgotten.append)
    store.save_record(finished("r1", api_token="s3cret", size=3))
    store.close()
    on_disk = json.loads((tmp_path / "r1" / "consist.json").read_text())
    assert on_disk["run"]["config"] == {"api_token": "<redacted>", "size": 3}
    assert "s3cret" not in (tmp_path / "r1" / "consist.json").read_text()
    assert forgotten == ["r1"]


def test_a_refused_run_waits_in_the_outbox_and_sync_indexes_it_later(tmp_path: Path) -> None:
    catalog = PickyCatalog()
    store = store_on(tmp_path, catalog, background_writes=False)
    store.persist(finished("good"))
    store.persist(finished("bad"))
    assert catalog.run_ids() == {"good"}
    assert "cannot store bad" in store.snapshots.pending_reasons()["bad"]
    assert store.sync() == []  # refused again: still waiting, with its reason
    catalog.refused.clear()
    assert store.sync() == ["bad"]
    assert store.snapshots.pending() == []
    assert catalog.run_ids() == {"good", "bad"}
    store.close()


def test_an_empty_catalog_is_rebuilt_from_the_snapshots_when_the_store_opens(
    tmp_path: Path,
) -> None:
    first = store_on(tmp_path, DurableCatalog(), background_writes=False)
    for run_id in ("a", "b", "c"):
        first.persist(finished(run_id))
    first.close()
    replacement = DurableCatalog()  # the catalog file was deleted or replaced
    second = store_on(tmp_path, replacement)
    assert sorted(second.recover()) == ["a", "b", "c"]
    assert replacement.run_ids() == {"a", "b", "c"}
    second.close()
    third = store_on(tmp_path, DurableCatalog())
    assert third.rebuild() == 3
    third.close()


def test_a_run_acknowledged_but_never_indexed_comes_back_from_the_journal(
    tmp_path: Path,
) -> None:
    """The catalog stayed locked and the snapshot was lost: the journal holds the run."""
    first = store_on(tmp_path, LockedCatalog())
    first.persist(finished("kept"))
    first.close()  # the record waits in the journal segment, unapplied
    (tmp_path / "kept" / "consist.json").unlink()
    catalog = DurableCatalog()
    catalog.record(finished("other"))  # not empty: only the journal can know of "kept"
    second = store_on(tmp_path, catalog)
    second.recover()
    second.flush()
    assert (tmp_path / "kept" / "consist.json").is_file()  # written back from the journal
    assert catalog.run_ids() == {"other", "kept"}
    second.close()
    assert list((tmp_path / ".consist" / "journal").glob("*")) == []


def test_a_run_whose_process_died_is_marked_failed_when_the_store_opens(
    tmp_path: Path,
) -> None:
    first = store_on(tmp_path, DurableCatalog(), background_writes=False)
    first.persist(RunRecord(Run("lost", "step")))  # running
    first.close()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    marker = tmp_path / ".consist" / "active" / "lost.json"
    first.snapshots.mark_active("lost")  # as begin_run does; then its process ends
    host = json.loads(marker.read_text())["host"]
    marker.write_text(json.dumps({"pid": int(dead.stdout), "host": host}))
    catalog = DurableCatalog()
    second = store_on(tmp_path, catalog, background_writes=False)
    heard: list[RunRecord] = []
    second.recover(heard.append)
    run = second.reader.get_run("lost")
    assert run.status is RunStatus.FAILED and run.error_type == "Interrupted"
    assert [record.run for record in heard] == [run]
    assert not marker.exists()
    second.close()


@pytest.mark.parametrize("ephemeral", [True, False])
def test_only_a_catalog_that_outlives_the_process_gets_a_journal(
    tmp_path: Path, ephemeral: bool
) -> None:
    catalog = InMemoryCatalog() if ephemeral else DurableCatalog()
    store = store_on(tmp_path, catalog)
    assert (store.journal is None) is ephemeral
    store.close()
