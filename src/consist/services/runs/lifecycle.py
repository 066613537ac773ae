"""A run's life: opened (begin_run), ended completed or failed (end_run), re-opened.

The Tracker builds one ``RunLifecycle`` and hands it what a run's life touches:
the snapshots, the mounts, the redactor, the event hooks, and functions for
what other rooms own (persisting a record, signing, archiving outputs).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from consist.domain import Artifact, MountTable, Run, RunRecord, RunStatus, Signature
from consist.domain.checks import check_cache_mode, check_run_id
from consist.domain.errors import ConsistError, DuplicateRun, InvalidInput
from consist.domain.labels import RunLabels
from consist.domain.redaction import Redactor
from consist.services.identity.provenance import write_sidecar
from consist.services.runs import context, deferred_outputs
from consist.services.runs.active_run import ActiveRun, RunOwner
from consist.services.runs.events import EventHooks
from consist.services.store.snapshots import SnapshotStore

if TYPE_CHECKING:
    from consist.services.identity.hashing import FileHasher
    from consist.services.identity.signer import Signer
    from consist.services.runs.deferred_outputs import IngestedRows

# Writes the run's record (snapshot first, then the catalog); returns what was recorded.
Persist = Callable[[ActiveRun], RunRecord | None]
# The signature of a run tracked by hand, from its config and logged inputs.
Sign = Callable[[ActiveRun, Callable[..., Any] | None], Signature]


def sign_by_hand(
    signer: Signer, active: ActiveRun, fn: Callable[..., Any] | None = None
) -> Signature:
    """Signature of a manually tracked run from its config and the inputs it logged."""
    return signer.sign_inputs(
        step=active.run.model or "run",
        config_hash=active.config_hash(),
        inputs=active.inputs,
        extra_identities=active.extra_identities,
        fn=fn,
    )


class RunLifecycle:
    """Opens, ends and re-opens runs.

    Parameters
    ----------
    owner
        The tracker the runs belong to (what ``ActiveRun.tracker`` is).
    snapshots, mounts, redactor, events
        Run folders and markers, the mount table, secret redaction, the hooks.
    hasher, rows
        To settle outputs logged before their file existed.
    persist, run_exists, read_record
        The run store: write a record, ask whether an id is taken, read one back.
    sign, archive, remember_signature
        Sign a hand-tracked run; archive a completed run's outputs; tell the
        signer a run's signature (None: not a usable Merkle parent).
    resolve_path, sidecars
        Where an output file is, and whether a provenance sidecar goes beside it.
    check_open
        Raises if the tracker is closed (called before a run starts).
    """

    def __init__(
        self,
        *,
        owner: RunOwner,
        snapshots: SnapshotStore,
        mounts: MountTable,
        redactor: Redactor,
        events: EventHooks,
        hasher: FileHasher,
        rows: IngestedRows,
        persist: Persist,
        run_exists: Callable[[str], bool],
        read_record: Callable[[str], RunRecord],
        sign: Sign,
        archive: Callable[[ActiveRun], object],
        remember_signature: Callable[[str, str | None], object],
        resolve_path: Callable[[Artifact], Path],
        sidecars: bool = False,
        check_open: Callable[[], None] = lambda: None,
    ) -> None:
        self.owner = owner
        self.snapshots = snapshots
        self.mounts = mounts
        self.redactor = redactor
        self.events = events
        self.hasher = hasher
        self.rows = rows
        self.persist = persist
        self.run_exists = run_exists
        self.read_record = read_record
        self.sign = sign
        self.archive = archive
        self.remember_signature = remember_signature
        self.resolve_path = resolve_path
        self.sidecars = sidecars
        self.check_open = check_open

    @contextlib.contextmanager
    def start_run(
        self,
        /,
        run_id: str,
        model: str | None = None,
        *,
        year: int | None = None,
        iteration: int | None = None,
        tags: Sequence[str] | str | None = None,
        parent_run_id: str | None = None,
        config: Any = None,
        facet: Any = None,
        **meta: Any,
    ) -> Iterator[ActiveRun]:
        """Track a block of code as one run.

        An exception inside marks the run failed (type and message recorded),
        writes its snapshot, fires ``on_run_failed`` and propagates.
        ``cache_mode="readonly"`` records nothing (a sandbox); ``"reuse"`` and
        ``"overwrite"`` record the run as usual, since a block always executes.
        """
        active = self.begin_run(
            run_id,
            model,
            year=year,
            iteration=iteration,
            tags=tags,
            parent_run_id=parent_run_id,
            config=config,
            facet=facet,
            **meta,
        )
        try:
            yield active
        except BaseException as exc:
            self.end(active, error=exc)
            raise
        else:
            self.end(active)

    def begin_run(
        self,
        /,
        run_id: str,
        model: str | None = None,
        *,
        year: int | None = None,
        iteration: int | None = None,
        tags: Sequence[str] | str | None = None,
        parent_run_id: str | None = None,
        config: Any = None,
        facet: Any = None,
        enter_context: bool = True,
        cache_mode: str | None = None,
        **meta: Any,
    ) -> ActiveRun:
        """Start a run without a with-block; finish it with :meth:`end_run`.

        Raises
        ------
        DuplicateRun
            If a run with this id exists already (runs are never overwritten).
        ConfigNotSerializable
            If ``config`` or ``facet`` has no canonical JSON form.
        InvalidCacheMode
            For a ``cache_mode`` other than reuse, overwrite or readonly.
        """
        self.check_open()
        check_run_id(run_id)
        labels = RunLabels.of(
            model,
            year=year,
            iteration=iteration,
            tags=tags,
            parent_run_id=parent_run_id,
            config=config,
            facet=facet,
            meta=meta,
        )
        persist = True
        extra: dict[str, Any] = {}
        if cache_mode is not None:
            persist = check_cache_mode(cache_mode) != "readonly"
            extra["cache_mode"] = cache_mode
        return self.open(run_id, labels, persist=persist, enter_context=enter_context, meta=extra)

    def end_run(
        self,
        /,
        active: ActiveRun | None = None,
        *,
        error: BaseException | None = None,
        signature: Signature | None = None,
        fn: Callable[..., Any] | None = None,
    ) -> Run:
        """Finish a run begun with :meth:`begin_run`: completed, or failed with ``error``."""
        active = active or context.current_run("end_run")
        return self.end(active, error=error, signature=signature, fn=fn)

    def reopen_run(
        self, /, run_id: str, *, enter_context: bool = True, **changes: Any
    ) -> ActiveRun:
        """Open a finished run again (a scenario header entered anew); finish with end_run.

        Its artifacts and links are kept, ``changes`` replace Run fields, and its
        signature is cleared until it ends. Only containers should be re-opened:
        a computation gets a new run instead.

        Raises
        ------
        RunNotFound
            If there is no such run.
        InvalidInput
            If the run is still running.
        """
        self.check_open()
        return self.reopen(run_id, enter_context=enter_context, changes=changes)

    def _active(self, run: Run) -> ActiveRun:
        workspace = self.snapshots.workspace(run.id)
        return ActiveRun(self.owner, run, workspace, self.mounts.with_workspace(workspace))

    def open(
        self,
        run_id: str,
        labels: RunLabels,
        *,
        persist: bool = True,
        check_unique: bool = True,
        write_start: bool = True,
        enter_context: bool = True,
        meta: Mapping[str, Any] | None = None,
    ) -> ActiveRun:
        """A new run with ``labels`` (and ``meta`` added), started and made current.

        Raises ``DuplicateRun`` if ``check_unique`` and a run with this id exists.
        """
        if persist and check_unique and self.run_exists(run_id):
            raise DuplicateRun(run_id)
        workspace = self.snapshots.workspace(run_id)
        if persist and write_start:
            workspace.mkdir(parents=True, exist_ok=True)
        run = labels.new_run(
            run_id,
            **(meta or {}),
            _physical_run_dir=str(workspace),
            pid=os.getpid(),
            host=socket.gethostname(),
        )
        active = self._active(run)
        active.redact(self.redactor)  # the config hash is taken from the real values first
        active.persist = persist
        if persist and write_start:
            self.snapshots.mark_active(run_id)
            self.persist(active)
        if enter_context:
            active.context_token = context.push_run(active)
        if persist:
            self.events.fire_started(active.run)
        return active

    def end(
        self,
        active: ActiveRun,
        *,
        error: BaseException | None = None,
        signature: Signature | None = None,
        fn: Callable[..., Any] | None = None,
    ) -> Run:
        """Finish ``active``: completed, or failed with ``error``; a no-op once ended."""
        if active.run.status is not RunStatus.RUNNING:
            return active.run
        unsettled = None
        if error is None and active.deferred_outputs:
            try:
                deferred_outputs.settle(self.hasher, self.rows, active)
            except ConsistError as exc:
                error = unsettled = exc
        try:
            signature = signature or active.run.signature or self.sign(active, fn)
        except ConsistError as exc:
            if error is None:
                error = exc
            signature = None
        run = attrs.evolve(active.run, signature=signature)
        run = run.completed() if error is None else run.failed(type(error).__name__, str(error))
        active.run = run = self.redactor.run(run)
        recorded = None
        if active.persist:
            if error is None:
                self.archive(active)  # records blob digests on the outputs
            recorded = self.persist(active)
            self.snapshots.clear_active(run.id)
            self.remember_signature(run.id, run.signature_digest if error is None else None)
        if active.context_token is not None:
            context.pop_run(active)
        if error is None:
            if self.sidecars and active.persist:
                self._write_sidecars(active)
            self.events.fire_complete(run, list(active.outputs.values()))
        else:
            self.events.fire_failed(run, error)
        if recorded is not None:
            self.events.fire_recorded(recorded)
        if unsettled is not None:
            raise unsettled
        return run

    def reopen(
        self, run_id: str, *, enter_context: bool = True, changes: Mapping[str, Any]
    ) -> ActiveRun:
        """A finished run running again, its artifacts and links kept, ``changes`` applied.

        Raises ``RunNotFound`` for an unknown id, ``InvalidInput`` for a running run.
        """
        exists = self.snapshots.exists(run_id)
        record = self.snapshots.read(run_id) if exists else self.read_record(run_id)
        if record.run.status is RunStatus.RUNNING:
            raise InvalidInput(f"run {run_id!r} is still running; it cannot be re-opened")
        run = attrs.evolve(record.run, **changes, status=RunStatus.RUNNING, signature=None)
        run = attrs.evolve(run, ended_at=None, error_type=None, error_message=None)
        active = self._active(run)
        active.workspace.mkdir(parents=True, exist_ok=True)
        kept = record.run.signature if "config" not in changes else None  # config stored redacted
        active.redact(self.redactor, config_hash=kept.config_hash if kept else None)
        by_id = {a.id: a for a in record.artifacts}
        for link in record.links:
            if link.artifact_id in by_id:
                active.link(by_id[link.artifact_id], link.direction, link.key)
        self.remember_signature(run_id, None)  # not a usable Merkle parent until it ends again
        self.snapshots.mark_active(run_id)
        self.persist(active)
        if enter_context:
            active.context_token = context.push_run(active)
        return active

    def _write_sidecars(self, active: ActiveRun) -> None:
        """``<output>.provenance.json`` beside each output file this run produced."""
        run = active.run
        for key, artifact in active.outputs.items():
            if artifact.producer_run_id != run.id:
                continue  # a cache hit's outputs already have their producer's sidecar
            with contextlib.suppress(ConsistError, OSError):
                write_sidecar(
                    self.resolve_path(artifact),
                    {
                        "run_id": run.id,
                        "model": run.model,
                        "signature": run.signature_digest,
                        "code_hash": run.signature.code_hash if run.signature else None,
                        "config_hash": run.signature.config_hash if run.signature else None,
                        "output_key": key,
                        "content_hash": artifact.content_hash,
                        "uri": artifact.uri,
                        "created_at": run.created_at.isoformat(),
                        "year": run.year,
                        "iteration": run.iteration,
                        "parent_run_id": run.parent_run_id,
                    },
                )
