"""``consist db check``: is the catalog file sound, and does it agree with the snapshots?

The snapshots are the truth; the catalog is an index over them. The check
reads the catalog's own storage (the adapter's ``check``), then compares
run by run: a snapshot the catalog lacks, a catalog run without a snapshot,
and a run whose status differs between the two. Nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs

from consist.domain.errors import CatalogError
from consist.ports import Catalog, SupportsIntegrityCheck, SupportsSQL
from consist.services.store.snapshots import SnapshotStore


@attrs.frozen
class StatusMismatch:
    run_id: str
    snapshot: str
    catalog: str


@attrs.frozen
class CatalogCheck:
    """What ``check_catalog`` found; ``healthy`` when it found nothing."""

    integrity_checked: bool
    problems: tuple[str, ...] = ()
    compared: bool = True
    not_in_catalog: tuple[str, ...] = ()
    without_snapshot: tuple[str, ...] = ()
    status_mismatches: tuple[StatusMismatch, ...] = ()
    unreadable_snapshots: tuple[str, ...] = ()
    pending_writes: tuple[str, ...] = ()

    @property
    def healthy(self) -> bool:
        return not (
            self.problems
            or not self.compared
            or self.not_in_catalog
            or self.without_snapshot
            or self.status_mismatches
            or self.unreadable_snapshots
            or self.pending_writes
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "integrity_checked": self.integrity_checked,
            "problems": list(self.problems),
            "compared_with_snapshots": self.compared,
            "not_in_catalog": list(self.not_in_catalog),
            "without_snapshot": list(self.without_snapshot),
            "status_mismatches": [attrs.asdict(m) for m in self.status_mismatches],
            "unreadable_snapshots": list(self.unreadable_snapshots),
            "pending_writes": list(self.pending_writes),
        }


def check_catalog(
    open_catalog: Callable[[], Catalog],
    snapshots: SnapshotStore,
    open_tables: Callable[[], Any] | None = None,
) -> CatalogCheck:
    """Check the catalog ``open_catalog`` opens against the snapshots in ``snapshots``.

    The catalog is opened here so that a file too damaged to open is a finding
    in the report, not an exception. ``open_tables`` opens a table store kept
    in a file of its own (beside a SQLite catalog), whose tables are read too.
    """
    pending = tuple(snapshots.pending())
    data_problems = _table_store_problems(open_tables) if open_tables is not None else ()
    try:
        catalog = open_catalog()
    except CatalogError as exc:
        problems = (f"cannot open: {exc}", *data_problems)
        return CatalogCheck(True, problems, False, pending_writes=pending)
    try:
        checks = isinstance(catalog, SupportsIntegrityCheck)
        problems = tuple(catalog.check()) if isinstance(catalog, SupportsIntegrityCheck) else ()
        problems += data_problems
        try:
            in_catalog = _catalog_statuses(catalog)
        except CatalogError as exc:
            problems += (f"cannot list the runs: {exc}",)
            return CatalogCheck(checks, problems, False, pending_writes=pending)
    finally:
        catalog.close()
    in_snapshots, unreadable = _snapshot_statuses(snapshots)
    both = sorted(in_snapshots.keys() & in_catalog.keys())
    return CatalogCheck(
        integrity_checked=checks,
        problems=problems,
        not_in_catalog=tuple(sorted(in_snapshots.keys() - in_catalog.keys())),
        without_snapshot=tuple(sorted(in_catalog.keys() - in_snapshots.keys() - set(unreadable))),
        status_mismatches=tuple(
            StatusMismatch(run_id, in_snapshots[run_id], in_catalog[run_id])
            for run_id in both
            if in_snapshots[run_id] != in_catalog[run_id]
        ),
        unreadable_snapshots=tuple(unreadable),
        pending_writes=pending,
    )


def _table_store_problems(open_tables: Callable[[], Any]) -> tuple[str, ...]:
    try:
        store = open_tables()
    except CatalogError as exc:
        return (f"data file: cannot open: {exc}",)
    try:
        found = store.check() if isinstance(store, SupportsIntegrityCheck) else []
    except CatalogError as exc:
        found = [str(exc)]
    finally:
        store.close()
    return tuple(f"data file: {problem}" for problem in found)


def _catalog_statuses(catalog: Catalog) -> dict[str, str]:
    if isinstance(catalog, SupportsSQL):
        rows = catalog.query_sql("SELECT id, status FROM runs").to_pylist()
        return {str(row["id"]): str(row["status"]) for row in rows}
    return {run_id: catalog.get_run(run_id).status.value for run_id in catalog.run_ids()}


def _snapshot_statuses(snapshots: SnapshotStore) -> tuple[dict[str, str], list[str]]:
    """``{run id: status}`` from each snapshot, and the ids whose snapshot cannot be read.

    Only the run's id and status are needed, so the document is parsed as JSON
    and not turned into a full record.
    """
    statuses: dict[str, str] = {}
    unreadable: list[str] = []
    for path in snapshots.paths():
        try:
            run = json.loads(path.read_text())["run"]
            statuses[str(run["id"])] = str(run["status"])
        except (OSError, ValueError, KeyError, TypeError):
            unreadable.append(path.parent.name)
    return statuses, unreadable
