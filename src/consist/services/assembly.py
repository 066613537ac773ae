"""Builds the collaborators a Tracker delegates to, each from the few parts it uses.

``assemble`` is the only place that knows how the rooms fit together: the run
store over the snapshots and the catalog, the queries and the artifact logging
over its layered view, the data room, the signer, the run lifecycle and the
step engine. The Tracker hands over itself only as the owner of the runs it
begins and of the artifacts it returns, and its open/closed check.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs

from consist.domain import MountTable, Run
from consist.domain.redaction import Redactor
from consist.ports import BlobStore, Catalog, Executor, RemoteFiles, TableStore
from consist.ports.execute import CallTask
from consist.services.data.tracker_data import DataVirtualization
from consist.services.identity.code_identity import CodeIdentity
from consist.services.identity.hashing import FileHasher, HashMemo
from consist.services.identity.signer import Signer
from consist.services.runs import context, owners
from consist.services.runs.active_run import RunOwner
from consist.services.runs.artifacts import ArtifactLogging
from consist.services.runs.events import EventHooks
from consist.services.runs.lifecycle import RunLifecycle, sign_by_hand
from consist.services.runs.queries import RunQueries
from consist.services.runs.remote_objects import RemoteObjects
from consist.services.sharing import archiving
from consist.services.sharing.restore import restore
from consist.services.steps.engine import Engine, FunctionExecutor
from consist.services.steps.hydration import Hydrator
from consist.services.steps.step_runs import StepRuns
from consist.services.store.catalog_reader import RecentRecords
from consist.services.store.run_store import RunStore

RUNS_MOUNT = "runs"


def _run_in_progress() -> Run | None:
    active = context.current_run_or_none()
    return active.run if active is not None else None


@attrs.frozen
class TrackerParts:
    """A Tracker's settings and collaborators (the attributes of the same names)."""

    run_dir: Path
    mounts: MountTable
    schemas: list[type]
    redactor: Redactor
    project_dir: Path
    archive: archiving.ArchivePolicy
    hasher: FileHasher
    remote: RemoteObjects
    events: EventHooks
    store: RunStore
    queries: RunQueries
    artifacts: ArtifactLogging
    output_archive: archiving.OutputArchiver
    data: DataVirtualization
    signer: Signer
    lifecycle: RunLifecycle
    hydrator: Hydrator
    engine: Engine


def assemble(
    run_dir: str | os.PathLike[str],
    *,
    owner: RunOwner,
    check_open: Callable[[], None],
    catalog: Catalog,
    blobs: BlobStore | None,
    tables: TableStore | None,
    mounts: Mapping[str, str | os.PathLike[str]] | None,
    schemas: Sequence[type] | None,
    hashing_strategy: str,
    code_identity: CodeIdentity,
    project_dir: str | os.PathLike[str] | None,
    background_writes: bool,
    progress: bool | None,
    sidecars: bool,
    archive: str | Sequence[str],
    secret_keys: str | re.Pattern[str] | None,
    remote_files: Callable[[], RemoteFiles] | None,
    events: EventHooks | None,
    executor: Executor[CallTask],
    recent_records: RecentRecords,
) -> TrackerParts:
    """The parts of a Tracker (see its docstring for the arguments)."""
    root = Path(os.path.abspath(os.fspath(run_dir)))
    root.mkdir(parents=True, exist_ok=True)
    user_mounts = dict(mounts or {})
    user_mounts.setdefault(RUNS_MOUNT, root)
    mount_table = MountTable.of(user_mounts)
    redactor = Redactor.of(secret_keys)
    hasher = FileHasher(
        HashMemo(root / ".consist" / "hash-memo.sqlite"), hashing_strategy, progress
    )
    remote = RemoteObjects(remote_files, root / ".consist" / "remote-cache", hasher.strategy)
    events = events if events is not None else EventHooks()
    policy = archiving.check_archive(archive)
    # Snapshots, the journal and the catalog writes (docs/design/durability.md).
    store = RunStore(
        root,
        catalog,
        recent_records,
        redactor=redactor,
        background_writes=background_writes,
        progress=progress,
    )
    queries = RunQueries(store.reader, functools.partial(owners.remember, owner))
    artifacts = ArtifactLogging(
        mounts=mount_table,
        snapshots=store.snapshots,
        hasher=hasher,
        remote=remote,
        reader=store.reader,
        find_artifacts=queries.find_artifacts,
        restore=functools.partial(restore, blobs) if blobs is not None else None,
    )
    output_archive = archiving.OutputArchiver(
        blobs, policy, store, artifacts.resolve_path, hasher.strategy
    )
    schema_list = list(schemas or [])
    data = DataVirtualization(
        catalog=catalog,
        tables=tables,
        blobs=blobs,
        schemas=schema_list,
        runs=queries,
        files=artifacts,
        remote=remote,
        flush=store.flush,
        change_token=store.catalog_change_token,
        run_in_progress=_run_in_progress,
    )
    project = Path(project_dir) if project_dir else Path.cwd()
    signer = Signer(
        hasher=hasher,
        mounts=mount_table,
        runs=store.reader,
        code_identity=code_identity,
        project_dir=project,
    )
    lifecycle = RunLifecycle(
        owner=owner,
        snapshots=store.snapshots,
        mounts=mount_table,
        redactor=redactor,
        events=events,
        hasher=hasher,
        rows=data,
        persist=lambda active: store.persist(active.record()),
        run_exists=store.run_exists,
        read_record=queries.get_record,
        sign=functools.partial(sign_by_hand, signer),
        archive=output_archive.archive,
        remember_signature=signer.remember,
        resolve_path=artifacts.resolve_path,
        sidecars=sidecars,
        check_open=check_open,
    )
    store.on_replaced.append(signer.forget)
    hydrator = Hydrator(artifacts, remote, root, mount_table)
    engine = Engine(
        runs=StepRuns(lifecycle, store, queries, artifacts, check_open),
        signer=signer,
        hydrator=hydrator,
        executor=FunctionExecutor(executor),
    )
    return TrackerParts(
        run_dir=root,
        mounts=mount_table,
        schemas=schema_list,
        redactor=redactor,
        project_dir=project,
        archive=policy,
        hasher=hasher,
        remote=remote,
        events=events,
        store=store,
        queries=queries,
        artifacts=artifacts,
        output_archive=output_archive,
        data=data,
        signer=signer,
        lifecycle=lifecycle,
        hydrator=hydrator,
        engine=engine,
    )
