"""Fan-out: one step over many items, cache decided here, misses run on an executor.

The client signs every item first (the engine's own signature code), serves the
hits itself and sends only the misses to a runner (``map_executors``). Workers
return values and timings; this process alone writes snapshots and the catalog.
A chain (``chain="key"``) feeds item N's output into item N+1 and runs in order.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from consist.domain import Artifact, Direction
from consist.domain.errors import InvalidInput, RunFailed
from consist.services.steps.engine import (
    Engine,
    OpenStep,
    PreparedCall,
    RunResult,
    StepRequest,
    build_request,
    fail_step,
    finish_step,
    open_step,
    prepare_call,
    record_call,
    serve_cached,
    sign_step,
    url_outputs,
)
from consist.services.steps.map_executors import (
    MapRunner,
    Outcome,
    WorkOrder,
    WorkReport,
    runner_for,
)

if TYPE_CHECKING:
    from consist.ports.blobs import BlobStore
    from consist.services.steps.step_io import InputResolver

# Options that are data of one item, so a callable given for them is called with the item.
PER_ITEM_OPTIONS = frozenset(
    {
        "config", "inputs", "outputs", "output_paths", "runtime_kwargs", "year", "iteration",
        "tags", "facet", "model", "name", "run_id", "depends_on", "hash_inputs",
        "hydration_paths", "hydration_dir", "meta",
    }
)  # fmt: skip
EXECUTED_ON = "executed_on"
SUBMIT_BATCH = 8


class MapStopped(RunFailed):
    """``fail_fast=True`` and an item failed: the map stopped; ``results`` has every item."""

    def __init__(self, message: str, results: MapResults) -> None:
        super().__init__(message)
        self.results = results


@attrs.frozen
class MapResult:
    """The outcome of one item of a map.

    ``status`` is ``"completed"`` (executed now), ``"cached"`` (a hit, nothing ran),
    ``"failed"`` (recorded as a failed run, never a cache hit later), ``"cancelled"``
    (a fail-fast map stopped before it finished) or ``"skipped"`` (a chain whose
    previous item did not complete).
    """

    index: int
    item: Any
    status: str
    result: RunResult | None = None
    error_type: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("completed", "cached")

    @property
    def cache_hit(self) -> bool:
        return self.status == "cached"

    @property
    def run_id(self) -> str | None:
        return self.result.run.id if self.result is not None else None

    @property
    def outputs(self) -> Mapping[str, Artifact]:
        return self.result.outputs if self.result is not None else {}

    @property
    def value(self) -> Any:
        return self.result.value if self.result is not None else None


@attrs.frozen
class MapResults(Sequence[MapResult]):
    """Every item's :class:`MapResult`, in item order; ``submitted`` counts tasks sent."""

    results: tuple[MapResult, ...]
    submitted: int = 0

    def __getitem__(self, index: Any) -> Any:
        return self.results[index]

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[MapResult]:
        return iter(self.results)

    @property
    def failed(self) -> list[MapResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def hits(self) -> int:
        return sum(r.cache_hit for r in self.results)


@attrs.frozen
class FanOutSettings:
    """The tracker settings a fan-out reads: where workers upload outputs, the
    archive policy (``"none"``, ``"outputs"`` or the keys), the progress bar."""

    blobs: BlobStore | None = None
    archive: str | tuple[str, ...] = "outputs"
    progress: bool | None = None


@attrs.define
class _Pending:
    request: StepRequest
    opened: OpenStep
    call: PreparedCall


def item_options(
    index: int, item: Any, shared: Mapping[str, Any], callables: set[str]
) -> dict[str, Any]:
    """One item's run options: the shared ones, callables called with the item.

    With no callable option, the item itself must be a mapping of run options
    (``{"config": ..., "year": ...}``), which override the shared ones.
    """
    if callables:
        return {k: (v(item) if k in callables else v) for k, v in shared.items()}
    if not isinstance(item, Mapping):
        raise InvalidInput(
            f"items[{index}] is {item!r}: without a callable option (config=lambda item: "
            "...), each item must be a mapping of run options such as {'config': {...}}"
        )
    unknown = sorted(str(k) for k in item if k not in PER_ITEM_OPTIONS)
    if unknown:
        raise InvalidInput(
            f"items[{index}] has keys {unknown} that are not per-item run options "
            f"{sorted(PER_ITEM_OPTIONS)}; wrap a config as {{'config': {{...}}}}"
        )
    return {**shared, **item}


def run_map(
    engine: Engine,
    settings: FanOutSettings,
    fn: Callable[..., Any],
    items: Iterable[Any],
    options: Mapping[str, Any],
    *,
    executor: Any = None,
    fail_fast: bool = False,
    chain: str | Mapping[str, str] | None = None,
    input_resolver: InputResolver | None = None,
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> MapResults:
    """Run ``fn`` once per item (see ``Tracker.map``)."""
    items = list(items)
    links = _chain_links(chain)
    callables = {k for k, v in options.items() if k in PER_ITEM_OPTIONS and callable(v)}
    per_item = [item_options(i, item, options, callables) for i, item in enumerate(items)]
    runner = runner_for(executor)
    runner.check(fn)
    fan = _FanOut(engine, settings, fn, items, runner, fail_fast)
    fan.input_resolver = input_resolver
    fan.prepare = prepare
    with _ProgressBar(settings.progress, len(items), getattr(fn, "__name__", "step")) as tick:
        fan.tick = tick
        try:
            if links:
                fan.run_chain(per_item, links)
            else:
                fan.run_independent(per_item)
        finally:
            fan.close()
    results = MapResults(tuple(fan.results[i] for i in range(len(items))), fan.submitted)
    if fail_fast and results.failed:
        first = results.failed[0]
        raise MapStopped(
            f"map stopped: items[{first.index}] failed with {first.error_type}: {first.error}",
            results,
        )
    return results


def _chain_links(chain: str | Mapping[str, str] | None) -> dict[str, str]:
    if chain is None:
        return {}
    links = {chain: chain} if isinstance(chain, str) else chain
    if (
        not isinstance(links, Mapping)
        or not links
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in links.items())
    ):
        raise InvalidInput(
            f"chain must be an output key or a mapping {{input name: output key}}, not {chain!r}"
        )
    return dict(links)


class _FanOut:
    def __init__(
        self,
        engine: Engine,
        settings: FanOutSettings,
        fn: Callable[..., Any],
        items: list[Any],
        runner: MapRunner,
        fail_fast: bool,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.fn = fn
        self.items = items
        self.runner = runner
        self.fail_fast = fail_fast
        self.input_resolver: InputResolver | None = None
        self.prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.results: dict[int, MapResult] = {}
        self.pending: dict[int, _Pending] = {}
        self.submitted = 0
        self.stopped = False
        self.tick: Callable[[MapResult], None] = lambda _: None

    # -- the two shapes of a map ---------------------------------------------------------
    def run_independent(self, per_item: list[dict[str, Any]]) -> None:
        requests = [self._request(options) for options in per_item]
        signed = [sign_step(self.engine, request) for request in requests]
        misses, hits = [], []
        known = self.engine.runs.completed_signatures([s.signature.digest for s in signed])
        with self.engine.runs.one_sync():
            for index, (request, step) in enumerate(zip(requests, signed, strict=True)):
                maybe = step.signature.digest in known
                hit = serve_cached(self.engine, request, step) if maybe else None
                if hit is None:
                    misses.append(index)
                else:
                    hits.append(MapResult(index, self.items[index], "cached", hit))
        for result in hits:  # acknowledged once the batch is durable
            self._done(result)
        if not self.runner.remote:  # one at a time, so fail_fast stops before the next
            for index in misses:
                if self.stopped:
                    self._done(MapResult(index, self.items[index], "cancelled"))
                else:
                    self._submit([self._order(index, requests[index], signed[index])])
                    self._settle_next()
            return
        # Small batches: workers start on the first while the client opens the rest.
        for start in range(0, len(misses), SUBMIT_BATCH):
            batch = misses[start : start + SUBMIT_BATCH]
            self._submit([self._order(i, requests[i], signed[i]) for i in batch])
        while self.pending:
            self._settle_next()

    def run_chain(self, per_item: list[dict[str, Any]], links: Mapping[str, str]) -> None:
        previous: MapResult | None = None
        for index, options in enumerate(per_item):
            if previous is not None and (not previous.ok or self.stopped):
                status = "cancelled" if self.stopped else "skipped"
                why = f"items[{previous.index}] did not complete ({previous.status})"
                self._done(MapResult(index, self.items[index], status, None, None, why))
                previous = self.results[index]
                continue
            if previous is not None:
                options = _fed_by(options, previous, links, index)
            request = self._request(options)
            step = sign_step(self.engine, request)
            hit = serve_cached(self.engine, request, step)
            if hit is not None:
                self._done(MapResult(index, self.items[index], "cached", hit))
            else:
                self._submit([self._order(index, request, step)])
                self._settle_next()
            previous = self.results[index]

    # -- one item ------------------------------------------------------------------------
    def _request(self, options: dict[str, Any]) -> StepRequest:
        if self.prepare is not None:
            options = self.prepare(options)
        request = build_request(self.fn, options, input_resolver=self.input_resolver)
        if self.runner.remote and (request.inject_context or request.capture_dir is not None):
            raise InvalidInput(
                "inject_context and capture_dir need the step to run in this process; "
                "use executor=None, or return or write outputs to output_paths instead"
            )
        if request.executor is not None:
            raise InvalidInput("map runs Python functions; a container step has no fn to map")
        return request

    def _order(self, index: int, request: StepRequest, step: Any) -> tuple[int, WorkOrder]:
        """Begin the item's run and write down the call a worker makes for it."""
        opened = open_step(self.engine, request, step, enter_context=False)
        try:
            call = prepare_call(self.engine, request, opened)
        except BaseException as exc:
            fail_step(self.engine, opened, exc)
            raise
        assert request.fn is not None
        bound_for_urls = url_outputs(request, opened.active)
        order = WorkOrder(
            opened.active.id,
            request.fn,
            dict(call.kwargs),
            # Files bound for a URL go there from the client, not also to the blob store.
            {k: str(p) for k, p in call.output_paths.items() if k not in bound_for_urls},
            self._upload_to(opened),
        )
        self.pending[index] = _Pending(request, opened, call)
        return index, order

    def _submit(self, orders: list[tuple[int, WorkOrder]]) -> None:
        self.submitted += len(orders)
        self.runner.submit(orders)

    def _upload_to(self, opened: OpenStep) -> Any:
        settings = self.settings
        wanted = self.runner.remote and opened.active.persist and settings.archive != "none"
        return settings.blobs if wanted else None

    def _settle_next(self) -> None:
        """Record whatever finished since the last call, made durable together."""
        with self.engine.runs.one_sync():
            settled = [
                self._settle(index, self.pending.pop(index), outcome)
                for index, outcome in self.runner.next_done()
            ]
        for result in settled:
            self._done(result)

    def _settle(self, index: int, pending: _Pending, outcome: Outcome) -> MapResult:
        active = pending.opened.active
        item = self.items[index]
        try:
            if isinstance(outcome, BaseException):
                raise outcome
            _note_worker(active, outcome)
            record_call(self.engine, pending.request, pending.opened, pending.call, outcome.value)
            _adopt_uploads(self.settings.archive, pending.opened, outcome)
            result = finish_step(self.engine, pending.opened, outcome.value)
        except Exception as exc:
            run = fail_step(self.engine, pending.opened, exc)
            failed = RunResult(run, dict(active.outputs))
            return MapResult(index, item, "failed", failed, type(exc).__name__, str(exc))
        return MapResult(index, item, "completed", result)

    def _done(self, result: MapResult) -> None:
        self.results[result.index] = result
        self.tick(result)
        if result.status == "failed" and self.fail_fast and not self.stopped:
            self.stopped = True
            self._cancel()

    def _cancel(self) -> None:
        self.runner.cancel_pending()
        for index, pending in list(self.pending.items()):  # opened here: each is ended here
            del self.pending[index]
            error = RunFailed("cancelled: the map stopped before this item finished")
            run = self.engine.runs.end(pending.opened.active, error=error)
            self.results[index] = MapResult(
                index, self.items[index], "cancelled", RunResult(run, {}), "RunFailed", str(error)
            )

    def close(self) -> None:
        try:
            if self.pending:  # interrupted (Ctrl-C, a bad item): nothing left running
                self._cancel()
        finally:
            self.runner.close()


def _fed_by(
    options: dict[str, Any], previous: MapResult, links: Mapping[str, str], index: int
) -> dict[str, Any]:
    inputs = options.get("inputs") or {}
    if not isinstance(inputs, Mapping):
        raise InvalidInput(f"items[{index}]: a chain needs inputs as a mapping, not {inputs!r}")
    fed = dict(inputs)
    for name, key in links.items():
        if key not in previous.outputs:
            raise InvalidInput(
                f"chain: items[{previous.index}] has no output {key!r} to feed input {name!r} "
                f"of items[{index}] (outputs: {sorted(previous.outputs)})"
            )
        fed[name] = previous.outputs[key]
    return {**options, "inputs": fed}


def _note_worker(active: Any, report: WorkReport) -> None:
    where = {
        "host": report.host,
        "pid": report.pid,
        "started": report.started,
        "seconds": round(report.seconds, 6),
        "uploaded": len(report.uploaded),  # output files the worker stored in the blob store
    }
    active.run = attrs.evolve(active.run, meta={**active.run.meta, EXECUTED_ON: where})


def _adopt_uploads(policy: str | tuple[str, ...], opened: OpenStep, report: WorkReport) -> None:
    """Mark outputs a worker stored in the blob store, so the client does not upload them.

    Under the full hashing strategy the client's own content hash must equal the
    worker's digest; a mismatch leaves the output for the usual archiving.
    """
    from consist.domain.digests import BLOB_DIGEST, is_digest

    if not report.uploaded:
        return
    active = opened.active
    for key, artifact in list(active.outputs.items()):
        if artifact.producer_run_id != active.id or artifact.abs_path is None:
            continue
        if isinstance(policy, tuple) and key not in policy:
            continue
        digest = report.uploaded.get(artifact.abs_path)
        if digest is None or (is_digest(artifact.content_hash) and artifact.content_hash != digest):
            continue
        adopted = attrs.evolve(artifact, meta={**artifact.meta, BLOB_DIGEST: digest})
        active.link(adopted, Direction.OUTPUT, key)


class _ProgressBar:
    """A rich progress bar over the items; silent off a terminal or with progress=False."""

    def __init__(self, progress: bool | None, total: int, name: str) -> None:
        self._show = progress if progress is not None else sys.stderr.isatty()
        self._total = total
        self._name = name
        self._bar: Any = None
        self._counts = {"cached": 0, "failed": 0}

    def __enter__(self) -> Callable[[MapResult], None]:
        if not self._show:
            return lambda _: None
        from rich.console import Console
        from rich.progress import Progress

        self._bar = Progress(console=Console(stderr=True), transient=False)
        self._bar.start()
        self._task = self._bar.add_task(f"map {self._name}", total=self._total)
        return self._tick

    def _tick(self, result: MapResult) -> None:
        if result.status in self._counts:
            self._counts[result.status] += 1
        hits, failed = self._counts["cached"], self._counts["failed"]
        self._bar.update(
            self._task, advance=1, description=f"map {self._name} ({hits} hits, {failed} failed)"
        )

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
