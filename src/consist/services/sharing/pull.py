"""Run snapshots published by other machines, imported into this run store.

Each imported run is marked with ``meta["pulled_from"]`` (the store's URL,
without user information or query) and ``meta["pulled_version"]`` (the
publication's version token, so that a later pull skips it until it is
published again). Published snapshots are untrusted input: they pass the
checks of ``pull_checks.py`` first.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from consist.domain import RunRecord
from consist.domain.errors import InvalidInput, UntrustedSnapshot
from consist.ports import SupportsURL
from consist.ports.blobs import BlobStore, SupportsNamedVersions
from consist.services.sharing.publish import (
    PULL_MARKS,
    PULLED_FROM,
    PULLED_VERSION,
    SNAPSHOT_PREFIX,
    named_store,
    publishable,
)
from consist.services.sharing.pull_checks import check_known_artifacts, check_published
from consist.services.store.snapshots import check_run_id

if TYPE_CHECKING:
    from consist.services.store.run_store import RunStore

__all__ = ["PullReport", "pull", "source_of"]

logger = logging.getLogger("consist.sharing")
_USERINFO = re.compile(r"//[^/@]*@")


@attrs.frozen
class PullReport:
    """What :func:`pull` did, by run id."""

    imported: list[str]
    unchanged: list[str]
    conflicts: list[str]  # a local run of this id that was not pulled; left alone
    refused: list[str]  # published snapshots that failed a check (services/sharing/pull_checks.py)
    reasons: dict[str, str] = attrs.field(factory=dict)  # refused run id -> field: why

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def pull(
    store: RunStore, blobs: BlobStore | None, run_ids: Iterable[str] | None = None
) -> PullReport:
    """Import snapshots published in ``blobs`` (all, or ``run_ids``) into ``store``.

    Each is written as a local snapshot (so ``db rebuild`` keeps it) with
    ``meta["pulled_from"]``, and, when the store can tell
    (``SupportsNamedVersions``), the publication's version token in
    ``meta["pulled_version"]``. Runs of this machine with the same id are
    never replaced; a pulled run whose publication changed is updated. A
    pulled run whose publication still has the version it was imported at
    is not downloaded again.

    Raises
    ------
    InvalidInput
        No blob store, or one that cannot keep named objects.
    """
    named = named_store(blobs, "pull")
    wanted = set(run_ids) if run_ids is not None else None
    source = source_of(named)
    if isinstance(named, SupportsNamedVersions):
        listed = named.named_versions(SNAPSHOT_PREFIX)
    else:
        listed = dict.fromkeys(named.list_named(SNAPSHOT_PREFIX))
    report = PullReport([], [], [], [])
    for name, version in sorted(listed.items()):
        run_id = name[len(SNAPSHOT_PREFIX) :].removesuffix(".json")
        if not name.endswith(".json") or (wanted is not None and run_id not in wanted):
            continue
        local = _local_record(store, run_id)
        if local is not None and version is not None and _pulled_at(local, source) == version:
            report.unchanged.append(run_id)  # imported from this very publication
            continue
        payload = named.read_named(name)
        record = _parse(store, payload, run_id, report)
        if record is None:
            continue
        if local is not None and publishable(local) == payload:
            if version is not None and _pulled_at(local, source) is not None:
                # Remember the version: no download next time.
                _import(store, local, source, version)
            report.unchanged.append(run_id)
        elif local is not None and PULLED_FROM not in local.run.meta:
            logger.warning("pull: run %r exists here and was not pulled; kept as is", run_id)
            report.conflicts.append(run_id)
        else:
            _import(store, record, source, version)
            report.imported.append(run_id)
    return report


def source_of(store: object) -> str:
    """A store's URL for the record: user information and query string removed."""
    url = store.url if isinstance(store, SupportsURL) and store.url else type(store).__name__
    return _USERINFO.sub("//", url).partition("?")[0].partition("#")[0]


def _local_record(store: RunStore, run_id: str) -> RunRecord | None:
    try:
        check_run_id(run_id)
    except InvalidInput:
        return None  # _parse refuses it
    snapshots = store.snapshots
    return snapshots.read(run_id) if snapshots.exists(run_id) else None


def _pulled_at(local: RunRecord, source: str) -> str | None:
    """The publication version a run was pulled at from ``source``: "" if it was pulled
    from there before versions were recorded, None if it was not pulled from there."""
    if local.run.meta.get(PULLED_FROM) != source:
        return None
    version = local.run.meta.get(PULLED_VERSION)
    return version if isinstance(version, str) else ""


def _import(store: RunStore, record: RunRecord, source: str, version: str | None) -> None:
    meta = {k: v for k, v in record.run.meta.items() if k not in PULL_MARKS}
    meta[PULLED_FROM] = source
    if version is not None:
        meta[PULLED_VERSION] = version
    store.save_record(attrs.evolve(record, run=attrs.evolve(record.run, meta=meta)))


def _parse(store: RunStore, payload: bytes, run_id: str, report: PullReport) -> RunRecord | None:
    try:
        record = check_published(payload, run_id)
        check_known_artifacts(record, store.reader.get_artifact)
        return record
    except UntrustedSnapshot as exc:
        logger.warning("pull: %s", exc)
        report.refused.append(run_id)
        report.reasons[run_id] = f"{exc.field}: {exc.reason}"
        return None
