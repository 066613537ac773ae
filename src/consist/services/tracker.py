"""The Tracker: run lifecycle, artifacts, JSON-first persistence, queries.

This class talks to ports only. ``consist.Tracker`` (in ``consist.tracking``)
is the public face that also builds adapters from URLs.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Unpack, overload

from consist.display import cards
from consist.domain import (
    Artifact,
    Run,
    RunQuery,
    Signature,
)
from consist.domain.display import Card, Displayable
from consist.domain.errors import (
    InvalidInput,
)
from consist.ports import BlobStore, Catalog, Executor, RemoteFiles, TableStore
from consist.ports.execute import CallTask
from consist.services.assembly import assemble
from consist.services.data.tracker_data import DataVirtualization
from consist.services.forwarding import forward
from consist.services.identity.code_identity import CodeIdentity
from consist.services.runs import context
from consist.services.runs.active_run import ActiveRun
from consist.services.runs.artifacts import (
    ArtifactLogging,
)
from consist.services.runs.events import EventHooks
from consist.services.runs.explain import Explanation, explain_run
from consist.services.runs.lifecycle import RunLifecycle, sign_by_hand
from consist.services.runs.queries import RunQueries
from consist.services.sharing import archiving
from consist.services.sharing.publish import PushReport, push
from consist.services.sharing.pull import PullReport
from consist.services.sharing.pull import pull as pull_snapshots
from consist.services.sharing.restore import restore
from consist.services.steps.engine import (
    RunResult,
    StepRequest,
    build_request,
    define_step,
    run_step,
)
from consist.services.steps.options import MapOptions, RunOptions, StepOptions
from consist.services.store.catalog_reader import RecentRecords
from consist.services.store.run_store import RunStore

if TYPE_CHECKING:
    from consist.services.data.matrix import MatrixViewFactory
    from consist.services.data.views import ViewFactory
    from consist.services.steps.fanout import MapResults

logger = logging.getLogger("consist")
# Runs a step some other way than calling a function: (tracker, fn, options) -> result.
StepRunner = Callable[["Tracker", Callable[..., Any] | None, dict[str, Any]], RunResult]

_open_trackers: weakref.WeakSet[Tracker] = weakref.WeakSet()


@atexit.register
def _close_open_trackers() -> None:
    """Finish the catalog writes of trackers the program did not close."""
    for tracker in list(_open_trackers):
        try:
            tracker.close()
        except Exception:  # exiting anyway; the snapshots still hold every run
            logger.warning("closing a tracker at exit failed", exc_info=True)


class Tracker(Displayable):
    """Records runs and their artifacts, decides cache hits, answers queries.

    Parameters
    ----------
    run_dir
        Directory holding one sub-directory (workspace + ``consist.json``) per run.
    catalog
        The Catalog adapter (an index over the snapshots).
    blobs, tables
        Optional BlobStore (archive of outputs) and TableStore (ingested rows).
    mounts
        ``{name: root}``: paths under a root are stored as ``name://relative``.
        ``workspace`` (each run's directory) and ``runs`` (``run_dir``) are added.
    hashing_strategy
        ``"full"`` (SHA-256 of bytes) or ``"fast"`` (size + mtime) for raw files.
    code_identity
        ``"git"``, ``"module"``, ``"function"``, a version string or a callable.
    sidecars
        Write ``<output>.provenance.json`` (run id, signature, hashes) beside
        every output file a completed run produced.
    archive
        With a blob store: ``"outputs"`` (default) stores every output a run
        produced when it completes, ``"none"`` nothing, a list only those keys
        (see ``docs/blob-storage.md``).
    remote_files
        Builds the ``RemoteFiles`` adapter that artifacts at URLs (``s3://...``)
        go through, on first use; without it such artifacts raise ``AdapterNotFound``.
    events
        Lifecycle hooks to fire, with listeners already attached (so they hear
        the runs this tracker marks interrupted as it opens); new ones by default.
    secret_keys
        Regular expression searched (case-insensitively) in config, facet and
        meta keys: their values are stored as ``"<redacted>"`` (default:
        ``consist.domain.redaction.DEFAULT_SECRET_KEYS``; see ``docs/concepts.md``).
    executor, recent_records
        Supplied by the wiring (``consist.container.in_process_parts``): the Executor
        that calls Python steps, and the empty in-memory catalog that lets this
        process read its own records before the catalog has stored them.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        catalog: Catalog,
        blobs: BlobStore | None = None,
        tables: TableStore | None = None,
        mounts: Mapping[str, str | os.PathLike[str]] | None = None,
        schemas: Sequence[type] | None = None,
        hashing_strategy: str = "full",
        code_identity: CodeIdentity = "git",
        project_dir: str | os.PathLike[str] | None = None,
        background_writes: bool = True,
        progress: bool | None = None,
        sidecars: bool = False,
        archive: str | Sequence[str] = "outputs",
        secret_keys: str | re.Pattern[str] | None = None,
        remote_files: Callable[[], RemoteFiles] | None = None,
        events: EventHooks | None = None,
        executor: Executor[CallTask],
        recent_records: RecentRecords,
    ) -> None:
        self._closed = False
        parts = assemble(
            run_dir, owner=self, check_open=self._check_open, catalog=catalog, blobs=blobs,
            tables=tables, mounts=mounts, schemas=schemas, hashing_strategy=hashing_strategy,
            code_identity=code_identity, project_dir=project_dir,
            background_writes=background_writes, progress=progress, sidecars=sidecars,
            archive=archive, secret_keys=secret_keys, remote_files=remote_files, events=events,
            executor=executor, recent_records=recent_records,
        )  # fmt: skip
        self.catalog, self.blobs, self.tables = catalog, blobs, tables
        self.code_identity, self.sidecars, self.progress = code_identity, sidecars, progress
        self.executor = executor
        self.run_dir, self.mounts, self.schemas = parts.run_dir, parts.mounts, parts.schemas
        self.redactor, self.project_dir = parts.redactor, parts.project_dir
        self.archive, self.hasher, self.remote = parts.archive, parts.hasher, parts.remote
        self.events, self.store, self.queries = parts.events, parts.store, parts.queries
        self.snapshots, self._reader = parts.store.snapshots, parts.store.reader
        self.artifacts, self.output_archive = parts.artifacts, parts.output_archive
        self.data, self.signer, self.lifecycle = parts.data, parts.signer, parts.lifecycle
        self.hydrator, self.engine = parts.hydrator, parts.engine
        # executor=<name> in run(): steps that are not Python functions (containers).
        # The wiring layer (consist.Tracker) registers them; services name none.
        self.step_executors: dict[str, StepRunner] = {}
        _open_trackers.add(self)
        # Runs indexed from their snapshots as this tracker opened (`db sync` reports them).
        self.indexed_on_open = self.store.recover(self.events.fire_recorded)

    # ------------------------------------------------------------------ queries
    get_run = forward("queries", RunQueries.get_run)
    get_record = forward("queries", RunQueries.get_record)

    @overload
    def find_runs(
        self, /, query: RunQuery | None = None, *, as_: Literal["list"] = "list", **filters: Any
    ) -> list[Run]: ...

    @overload
    def find_runs(self, /, query: RunQuery | None = None, *, as_: str, **filters: Any) -> Any: ...

    def find_runs(
        self, /, query: RunQuery | None = None, *, as_: str = "list", **filters: Any
    ) -> Any:
        return self.queries.find_runs(query, as_=as_, **filters)

    find_runs.__doc__ = RunQueries.find_runs.__doc__
    history = forward("queries", RunQueries.history)
    find_by_signature = forward("queries", RunQueries.find_by_signature)
    get_artifact = forward("queries", RunQueries.get_artifact)
    find_artifacts = forward("queries", RunQueries.find_artifacts)
    get_artifacts_for_run = forward("queries", RunQueries.get_artifacts_for_run)
    get_producer = forward("queries", RunQueries.get_producer)
    lineage = forward("queries", RunQueries.lineage)
    links_of_artifact = forward("queries", RunQueries.links_of_artifact)
    resolve_artifact = forward("queries", RunQueries.resolve_artifact)

    # ------------------------------------------------------------------ artifacts
    log_artifact = forward("artifacts", ArtifactLogging.log_artifact)
    log_input = forward("artifacts", ArtifactLogging.log_input)
    log_output = forward("artifacts", ArtifactLogging.log_output)
    log_artifacts = forward("artifacts", ArtifactLogging.log_artifacts)
    log_dataframe = forward("artifacts", ArtifactLogging.log_dataframe)
    find_produced_artifact = forward("artifacts", ArtifactLogging.find_produced_artifact)
    resolve_path = forward("artifacts", ArtifactLogging.resolve_path)
    artifact_path = forward("artifacts", ArtifactLogging.artifact_path)

    # ------------------------------------------------------------------ data
    ingest = forward("data", DataVirtualization.ingest)
    ingestion_of = forward("data", DataVirtualization.ingestion_of)
    read_ingested = forward("data", DataVirtualization.read_ingested)
    create_view = forward("data", DataVirtualization.create_view)
    sql_target = forward("data", DataVirtualization.sql_target)
    sql = forward("data", DataVirtualization.sql)

    @property
    def views(self) -> ViewFactory:
        """Views across runs: ``tracker.views.Person`` for each registered schema."""
        return self.data.views

    @property
    def matrix(self) -> MatrixViewFactory:
        """Zarr/NetCDF outputs of many runs as one lazy xarray Dataset: ``.load(key)``."""
        return self.data.matrix

    @property
    def sql_dialect(self) -> str:
        """``sqlite`` for SQLite catalogs, ``postgresql`` (DuckDB-compatible) otherwise."""
        return self.data.sql_dialect

    def start_view_maintenance(self) -> None:
        """Rebuild views after each completed run (the wiring layer calls this once)."""
        self.data.start_view_maintenance(self.events.on_run_complete)

    def run_query(
        self,
        statement: Any,
        params: Sequence[Any] | None = None,
        as_: str = "pandas",
        allow_write: bool = False,
    ) -> Any:
        """``consist.run_query`` on this tracker: reads only, unless ``allow_write``."""
        # Entered: parts of a statement built without a tracker (consist.pivot_facets)
        # read what they need from the current one as it compiles.
        with context.use_tracker(self):
            return self.data.run_query(statement, params, as_, allow_write)

    # ------------------------------------------------------------------ lifecycle
    start_run = forward("lifecycle", RunLifecycle.start_run)
    begin_run = forward("lifecycle", RunLifecycle.begin_run)

    end_run = forward("lifecycle", RunLifecycle.end_run)
    reopen_run = forward("lifecycle", RunLifecycle.reopen_run)

    def signature_of_active(
        self, active: ActiveRun, fn: Callable[..., Any] | None = None
    ) -> Signature:
        """Signature of a manually tracked run from its config and the inputs it logged."""
        return sign_by_hand(self.signer, active, fn)

    def make_signature(
        self,
        *,
        step: str,
        config_hash: str,
        input_identities: Mapping[str, str],
        fn: Callable[..., Any] | None = None,
        code_identity: CodeIdentity | None = None,
    ) -> Signature:
        """A signature from its parts (see :class:`~consist.services.identity.signer.Signer`)."""
        return self.signer.sign(
            step=step,
            config_hash=config_hash,
            input_identities=input_identities,
            fn=fn,
            code_identity=code_identity,
        )

    def input_identity(self, artifact: Artifact) -> str:
        """Merkle identity for an artifact a run produced; its content hash otherwise."""
        return self.signer.input_identity(artifact)

    # ------------------------------------------------------------------ cached steps
    def run(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        executor: str | None = None,
        container: Mapping[str, Any] | None = None,
        **options: Unpack[RunOptions],
    ) -> RunResult:
        """Run ``fn`` as a cached step, or reuse an earlier identical run.

        See ``docs/`` (Running steps) for every option: ``inputs``, ``config``,
        ``outputs``, ``output_paths``, ``load_inputs``, ``runtime_kwargs``,
        ``inject_context``, ``capture_dir``/``capture_pattern``, ``depends_on``,
        ``hash_inputs``, ``cache_mode``, ``cache_hydration`` (+ ``hydration_paths``
        / ``hydration_dir``), ``validate_cached_outputs``, ``year``, ``iteration``,
        ``tags``, ``facet``, ``model``, ``name``, ``run_id``, ``parent_run_id``,
        ``code_identity``; ``executor="container"`` with ``container={...}`` runs a
        container instead of ``fn`` (see ``docs/containers.md``).

        Raises
        ------
        InvalidCacheMode
            For a cache mode other than reuse, overwrite or readonly.
        ConfigNotSerializable
            If the config cannot be hashed (the message names the key).
        MissingInputFile
            If an input path does not exist.
        """
        self._check_open()
        if executor is not None:
            return self._run_with(executor, fn, {**options, "container": container})
        if container is not None:
            raise InvalidInput("container={...} runs only with executor='container'")
        return self.run_request(build_request(fn, options))

    def run_request(self, request: StepRequest) -> RunResult:
        """Run a step built with ``build_request`` (a scenario step, a container step).

        Its parent is the active run of this tracker unless the request names one.
        """
        self._check_open()
        if request.parent_run_id is None:
            active = context.current_run_or_none()
            if active is not None and active.tracker is self:
                request.parent_run_id = active.run.id
        return run_step(self.engine, request)

    def map(
        self,
        fn: Callable[..., Any],
        items: Iterable[Any],
        *,
        executor: Any = None,
        fail_fast: bool = False,
        chain: str | Mapping[str, str] | None = None,
        progress: bool | None = None,
        **options: Unpack[MapOptions],
    ) -> MapResults:
        """Run ``fn`` as a cached step once per item; results in item order.

        Every item is signed here first: hits are served without submitting
        anything, misses run on ``executor`` (None: this process; ``"processes"``
        or a ``concurrent.futures`` executor; a ``distributed.Client``). Options
        are those of :meth:`run`; a callable given for a per-item option (config,
        inputs, year, ...) is called with the item, otherwise each item is a
        mapping of options. A failing item is recorded as failed and the others
        finish; ``fail_fast=True`` stops and raises ``MapStopped``. ``chain="key"``
        (or ``{input: output key}``) feeds each item's output into the next item's
        input and runs the items in order. See ``docs/cluster.md``.
        """
        return self.map_steps(
            fn, items, dict(options),
            executor=executor, fail_fast=fail_fast, chain=chain, progress=progress,
        )  # fmt: skip

    def map_steps(
        self,
        fn: Callable[..., Any],
        items: Iterable[Any],
        options: Mapping[str, Any],
        *,
        executor: Any = None,
        fail_fast: bool = False,
        chain: str | Mapping[str, str] | None = None,
        progress: bool | None = None,
        input_resolver: Callable[[str], Artifact | None] | None = None,
        prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> MapResults:
        """:meth:`map` with options as a mapping, plus a scenario's input resolver
        and per-item preparation (``sc.map``)."""
        from consist.services.steps.fanout import FanOutSettings, run_map

        self._check_open()
        options = dict(options)
        active = context.current_run_or_none()
        if active is not None and active.tracker is self:
            options.setdefault("parent_run_id", active.run.id)
        settings = FanOutSettings(
            blobs=self.blobs,
            archive=self.archive,
            progress=progress if progress is not None else self.progress,
        )
        return run_map(
            self.engine, settings, fn, items, options,
            executor=executor, fail_fast=fail_fast, chain=chain,
            input_resolver=input_resolver, prepare=prepare,
        )  # fmt: skip

    def _run_with(
        self, executor: str, fn: Callable[..., Any] | None, options: dict[str, Any]
    ) -> RunResult:
        runner = self.step_executors.get(executor)
        if runner is None:
            known = ", ".join(repr(name) for name in sorted(self.step_executors)) or "none"
            raise InvalidInput(
                f"no step executor {executor!r} on this tracker (registered: {known}); "
                "executor='container' needs consist.Tracker and consist-containers installed"
            )
        return runner(self, fn, options)

    def define_step(
        self, **defaults: Unpack[StepOptions]
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator storing defaults (``outputs=[...]``, ``config``, ...) for ``tracker.run``."""
        return define_step(defaults)

    def explain(self, run: Run | str) -> Explanation:
        """Why this run was not a cache hit: what differs from the closest earlier run."""
        run = run if isinstance(run, Run) else self.get_run(run)
        return explain_run(self.queries, self.input_identity, run)

    def restore_from_blobs(self, artifact: Artifact, destination: Path) -> Path | None:
        """Fetch an artifact's file or directory from the blob store, verified.

        Returns None if there is no blob store or it does not hold the artifact;
        raises ``IntegrityError`` for corrupted bytes (see ``services/sharing/restore.py``).
        """
        return restore(self.blobs, artifact, destination)

    def push(self, run_ids: Sequence[str] | None = None) -> PushReport:
        """Publish run snapshots (all, or ``run_ids``) to the blob store; idempotent."""
        return push(self.store, self.blobs, self.output_archive, run_ids)

    def pull(self, run_ids: Sequence[str] | None = None) -> PullReport:
        """Import snapshots published to the blob store into this catalog and run_dir."""
        return pull_snapshots(self.store, self.blobs, run_ids)

    def archive_pending(self, run_ids: Sequence[str] | None = None) -> archiving.ArchiveReport:
        """Archive outputs whose archiving failed when their run ended (all runs, or ``run_ids``).

        Their keys are in the run's ``meta["archive_pending"]``; ``push`` does this too.
        """
        return self.output_archive.archive_pending(run_ids)

    # ------------------------------------------------------------------ persistence
    save_record = forward("store", RunStore.save_record)
    resubmit = forward("store", RunStore.resubmit)
    remember = forward("store", RunStore.remember)
    flush = forward("store", RunStore.flush)
    sync = forward("store", RunStore.sync)
    rebuild = forward("store", RunStore.rebuild)
    run_exists = forward("store", RunStore.run_exists)
    catalog_change_token = forward("store", RunStore.catalog_change_token)

    def close(self) -> None:
        """Finish pending catalog writes and release adapters. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.store.close()
        self.hasher.memo.close()
        if self.tables is not None:
            self.tables.close()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidInput("this Tracker is closed; create a new one")

    def _card(self) -> Card:
        return cards.tracker_card(self, is_open=not self._closed)

    def __repr__(self) -> str:
        return f"<Tracker run_dir={str(self.run_dir)!r} catalog={type(self.catalog).__name__}>"
