"""Where the misses of a fan-out run: in this process, a process pool, or a Dask cluster.

A worker gets a :class:`WorkOrder` (the function, its arguments, where its outputs
go) and answers a :class:`WorkReport`. It never opens the catalog: the client
records every run. This module stays light, since every worker imports it.
"""

from __future__ import annotations

import concurrent.futures as cf
import importlib
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from consist.domain.errors import ExecutionError, InvalidInput

if TYPE_CHECKING:
    from consist.ports.blobs import BlobStore


class WorkerLost(ExecutionError):
    """The process running an item died, and the executor gave up on the item."""


@attrs.frozen
class WorkOrder:
    """One item's call, as a worker runs it.

    ``blobs``: when set, the worker stores every output file it wrote there
    (content-addressed), so the client neither re-uploads nor needs the bytes.
    """

    run_id: str
    fn: Callable[..., Any]
    kwargs: Mapping[str, Any]
    output_paths: Mapping[str, str] = attrs.field(factory=dict)
    blobs: BlobStore | None = None


@attrs.frozen
class WorkReport:
    """What came back from a worker: the value, where and how long, what it uploaded."""

    value: Any
    started: float
    seconds: float
    host: str
    pid: int
    uploaded: Mapping[str, str] = attrs.field(factory=dict)  # absolute file path -> digest


def run_work_order(order: WorkOrder) -> WorkReport:
    """Run one item on a worker. An exception from the function propagates to the client."""
    started = time.time()
    clock = time.perf_counter()
    value = order.fn(**order.kwargs)
    seconds = time.perf_counter() - clock
    uploaded: dict[str, str] = {}
    if order.blobs is not None:
        for path in _written_files(order, value):
            uploaded[str(path)] = order.blobs.put(path)
    return WorkReport(value, started, seconds, socket.gethostname(), os.getpid(), uploaded)


def _written_files(order: WorkOrder, value: Any) -> list[Path]:
    returned = value.values() if isinstance(value, Mapping) else [value]
    candidates: list[str | os.PathLike[str]] = [*order.output_paths.values()]
    candidates += [v for v in returned if isinstance(v, (str, os.PathLike))]
    files = {Path(os.path.abspath(os.fspath(c))) for c in candidates}
    return sorted(p for p in files if p.is_file())


Outcome = WorkReport | BaseException


class MapRunner(Protocol):
    """Runs work orders and hands back each outcome as it finishes."""

    remote: bool  # orders cross a process boundary (arguments are pickled)

    def check(self, fn: Callable[..., Any]) -> None:
        """Raise ``InvalidInput`` if the workers cannot run ``fn`` at all (before any run opens)."""
        ...

    def submit(self, orders: Sequence[tuple[int, WorkOrder]]) -> None:
        """Send orders (index, order) to run, all in one go where the executor can."""
        ...

    def next_done(self) -> list[tuple[int, Outcome]]:
        """Block until at least one submitted order finishes; every finished one so far,
        with its index and report (or exception)."""
        ...

    def cancel_pending(self) -> list[int]:
        """Drop every order not yet handed back (cancelled, or left to end unrecorded);
        their indices."""
        ...

    def close(self) -> None: ...


class InProcessRunner:
    """Calls each order at once, in this process (the default)."""

    remote = False

    def __init__(self) -> None:
        self._done: list[tuple[int, Outcome]] = []

    def check(self, fn: Callable[..., Any]) -> None:
        pass

    def submit(self, orders: Sequence[tuple[int, WorkOrder]]) -> None:
        for index, order in orders:
            try:
                outcome: Outcome = run_work_order(order)
            except Exception as exc:
                outcome = exc
            self._done.append((index, outcome))

    def next_done(self) -> list[tuple[int, Outcome]]:
        done, self._done = self._done, []
        return done

    def cancel_pending(self) -> list[int]:
        cancelled = [index for index, _ in self._done]
        self._done.clear()
        return cancelled

    def close(self) -> None:
        pass


class PoolRunner:
    """A ``concurrent.futures`` executor (a ``ProcessPoolExecutor``, usually)."""

    remote = True

    def __init__(self, pool: cf.Executor, *, owned: bool = False) -> None:
        self._pool = pool
        self._owned = owned
        self._pending: dict[cf.Future[WorkReport], int] = {}

    def check(self, fn: Callable[..., Any]) -> None:
        pass  # a forked worker has every module this process imported

    def submit(self, orders: Sequence[tuple[int, WorkOrder]]) -> None:
        for index, order in orders:
            self._pending[self._pool.submit(run_work_order, order)] = index

    def next_done(self) -> list[tuple[int, Outcome]]:
        done, _ = cf.wait(self._pending, return_when=cf.FIRST_COMPLETED)
        return [(self._pending.pop(future), _outcome(future)) for future in done]

    def cancel_pending(self) -> list[int]:
        indices = list(self._pending.values())
        for future in self._pending:
            future.cancel()
        cf.wait(self._pending)  # a running call cannot be stopped: it ends, unrecorded
        self._pending.clear()
        return indices

    def close(self) -> None:
        if self._owned:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _outcome(future: cf.Future[WorkReport]) -> Outcome:
    error = future.exception()
    if isinstance(error, cf.process.BrokenProcessPool):
        return WorkerLost(f"the pool's worker process died: {error}")
    return error if error is not None else future.result()


class DaskRunner:
    """A ``distributed.Client``: each order is one task, keyed by its run id.

    Dask reschedules a task whose worker died; the client records the run once,
    when the task's one future resolves.
    """

    remote = True

    def __init__(self, client: Any) -> None:
        from distributed import as_completed

        self._client = client
        self._pending: dict[str, int] = {}
        self._futures: dict[str, Any] = {}
        self._completed = as_completed([], with_results=False)  # type: ignore[no-untyped-call]

    def check(self, fn: Callable[..., Any]) -> None:
        # A task whose function a worker cannot import is not an error Dask reports:
        # the worker drops its connection and the task waits forever. Ask first.
        module = getattr(fn, "__module__", None)
        if not module or module == "__main__":
            return  # shipped by value
        try:
            self._client.run(importlib.import_module, module)
        except ImportError as exc:
            raise InvalidInput(
                f"the Dask workers cannot import {module!r}, which defines "
                f"{getattr(fn, '__qualname__', fn)!r} ({exc}); install it on the workers "
                "or put its folder on their PYTHONPATH"
            ) from None

    def submit(self, orders: Sequence[tuple[int, WorkOrder]]) -> None:
        if not orders:
            return
        keys = [f"consist-map-{order.run_id}" for _, order in orders]
        # One client.map: one message to the scheduler for the whole batch.
        futures = self._client.map(
            run_work_order, [order for _, order in orders], key=keys, pure=False
        )
        for (index, _), future in zip(orders, futures, strict=True):
            self._pending[future.key] = index
            self._futures[future.key] = future
            self._completed.add(future)  # type: ignore[no-untyped-call]

    def next_done(self) -> list[tuple[int, Outcome]]:
        batch = self._completed.next_batch(block=True)  # type: ignore[no-untyped-call]
        return [self._settled(future) for future in batch]

    def _settled(self, future: Any) -> tuple[int, Outcome]:
        index = self._pending.pop(future.key)
        self._futures.pop(future.key)  # released on the scheduler once we drop it
        if future.status == "cancelled":
            return index, WorkerLost("the task was cancelled on the cluster")
        error = future.exception()
        if error is not None:
            if type(error).__name__ == "KilledWorker":
                return index, WorkerLost(f"Dask gave up on the task: {error}")
            return index, error
        return index, future.result()

    def cancel_pending(self) -> list[int]:
        cancelled = list(self._pending.values())
        self._client.cancel(list(self._futures.values()))
        self._pending.clear()
        self._futures.clear()
        self._completed.clear()  # type: ignore[no-untyped-call]
        return cancelled

    def close(self) -> None:
        pass


def runner_for(executor: Any) -> MapRunner:
    """The runner for ``executor=``: None or "inprocess", "processes", a
    ``concurrent.futures.Executor``, or a ``distributed.Client``.

    Raises
    ------
    InvalidInput
        For anything else.
    """
    if executor is None or executor == "inprocess":
        return InProcessRunner()
    if executor == "processes":
        return PoolRunner(cf.ProcessPoolExecutor(), owned=True)
    if isinstance(executor, cf.Executor):
        return PoolRunner(executor)
    if type(executor).__module__.startswith("distributed") and hasattr(executor, "submit"):
        return DaskRunner(executor)
    raise InvalidInput(
        f"executor must be None, 'inprocess', 'processes', a concurrent.futures.Executor "
        f"or a distributed.Client, not {executor!r}"
    )
