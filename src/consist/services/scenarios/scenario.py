"""Scenarios: a parent run grouping the steps of one multi-step, multi-year study.

The scenario's own run (the *header*, id = scenario name) is a container, not a
computation: entering the same scenario again re-opens it (see
``docs/scenarios.md``). Each step is a child run (``parent_run_id`` = scenario
id) made by :meth:`Scenario.run` (cached, skipped on a hit) or
:meth:`Scenario.trace` (a block that always executes). Artifacts flow between
steps through the :class:`~consist.services.scenarios.coupler.Coupler`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

import attrs

from consist.display import cards
from consist.domain import Artifact, Run, RunStatus, Signature, canonical
from consist.domain.display import Card, Displayable
from consist.domain.errors import (
    DuplicateRun,
    InvalidInput,
    NotFound,
    RunFailed,
    UnknownCouplerKey,
)
from consist.services import current
from consist.services.runs import context
from consist.services.scenarios.coupler import Coupler, MissingCouplerOutputs
from consist.services.scenarios.scenario_steps import (
    Inputs,
    StepTrace,
    as_config,
    combine_inputs,
    free_run_id,
    new_step_id,
    run_step_as,
)
from consist.services.scenarios.step_log import StepLog
from consist.services.steps import hydration
from consist.services.steps.engine import RunResult, step_defaults
from consist.services.steps.options import MapSettings, StepSettings
from consist.services.steps.step_io import resolve_inputs
from consist.services.store.snapshots import check_run_id

if TYPE_CHECKING:
    from consist.services.runs.active_run import ActiveRun
    from consist.services.steps.fanout import MapResults
    from consist.services.tracker import Tracker

T = TypeVar("T")
SCENARIO_FLAG = "consist_scenario"
COUPLER_META = "coupler"  # key -> artifact id, as the last pass left the coupler


class Scenario(Displayable):
    """A multi-step workflow under one parent run; use as ``with consist.scenario(...) as sc``.

    Parameters
    ----------
    name
        The scenario id: its header run's id and every step's ``parent_run_id``.
    tracker
        Defaults to the active one (``consist.use_tracker``) when the block is entered.
    model
        The header run's model (``"scenario"`` unless given).
    config, tags, facet
        Recorded on the header run.
    step_cache_hydration
        Default ``cache_hydration`` of every ``sc.run`` step; with
        ``"inputs-missing"`` trace steps also restore missing input files.
    **meta
        Extra metadata of the header run.
    """

    def __init__(
        self,
        name: str,
        tracker: Tracker | None = None,
        *,
        model: str | None = None,
        config: Any = None,
        tags: Sequence[str] | str | None = None,
        facet: Any = None,
        step_cache_hydration: str | None = None,
        **meta: Any,
    ) -> None:
        check_run_id(name)
        self.id = name
        self.name = name
        self.model = model or "scenario"
        self.config = config
        self.tags = tags
        self.facet = facet
        self.step_cache_hydration = hydration.check_hydration(step_cache_hydration)
        self.meta = meta
        self.coupler = Coupler(name)
        self._given_tracker = tracker
        self._tracker: Tracker | None = None
        self._header: ActiveRun | None = None
        self._final: Run | None = None
        self._log = StepLog()
        self._uses = contextlib.ExitStack()

    # ------------------------------------------------------------------ the header run
    def __enter__(self) -> Scenario:
        if self._header is not None or self._final is not None:
            raise InvalidInput(f"scenario {self.id!r} was entered already; create a new one")
        tracker = current.current_tracker(self._given_tracker, "consist.scenario")
        self._tracker = tracker
        self._header = self._open_header(tracker)
        self._restore_coupler(tracker, self._header.run.meta.get(COUPLER_META))
        # The header is not made the current run: a tracker.run in the block
        # (outside any step) stays an independent run, not a scenario child.
        # The tracker is made current, for consist.run, consist.find_runs ...
        self._uses.enter_context(current.use_tracker(tracker))
        return self

    def _restore_coupler(self, tracker: Tracker, saved: Any) -> None:
        """A scenario entered again starts where its last pass left the coupler."""
        for key, artifact_id in dict(saved or {}).items():
            with contextlib.suppress(NotFound):
                self.coupler.set(key, tracker.get_artifact(artifact_id))

    def _open_header(self, tracker: Tracker) -> ActiveRun:
        config = as_config(self.config)
        meta: dict[str, Any] = {**canonical.normalize(self.meta, "meta"), SCENARIO_FLAG: True}  # type: ignore[dict-item]
        meta["steps"] = []
        meta["step_cache_hydration"] = self.step_cache_hydration
        if not tracker.run_exists(self.id):
            return tracker.begin_run(
                self.id, self.model, tags=self.tags, config=config, facet=self.facet,
                enter_context=False, **{**meta, "passes": 1},
            )  # fmt: skip
        previous = tracker.store.record_of(self.id).run  # the snapshot, else the catalog
        if not previous.meta.get(SCENARIO_FLAG):
            raise DuplicateRun(self.id)
        facet = canonical.normalize(self.facet, "facet") if self.facet is not None else None
        return tracker.reopen_run(
            self.id,
            enter_context=False,
            model=self.model,
            tags=self.tags or (),
            config=config,
            facet=facet,
            meta={
                **previous.meta,
                **meta,
                "passes": int(previous.meta.get("passes", 1)) + 1,
                "pid": os.getpid(),
                "entered_at": dt.datetime.now(dt.UTC).isoformat(),
            },
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._uses:
            if exc is not None:
                self._finish(exc)
                return
            missing = self.coupler.missing_declared_outputs()
            if missing:
                error = MissingCouplerOutputs(self.id, missing)
                self._finish(error)
                raise error
            failure = self._log.failure
            self._finish(RunFailed(failure) if failure else None)

    def _finish(self, error: BaseException | None) -> None:
        header = self._open("the end of a scenario")
        tracker = self.tracker
        header.set_meta(
            steps=list(self._log.entries),
            **{COUPLER_META: {k: a.id for k, a in self.coupler.items()}},
        )
        identities = {f"input:{k}": tracker.input_identity(a) for k, a in header.inputs.items()}
        # Artifacts logged on the header are identified by content: the header
        # computes nothing, so its signature alone cannot vouch for them.
        identities.update(
            {f"output:{k}": a.content_hash or f"uri:{a.uri}" for k, a in header.outputs.items()}
        )
        signature = tracker.make_signature(
            step=f"scenario:{self.id}",
            config_hash=header.config_hash(),
            input_identities=identities,
        )
        self._final = tracker.end_run(header, error=error, signature=signature)
        self._header = None

    def _open(self, what: str) -> ActiveRun:
        if self._header is None:
            raise InvalidInput(
                f"{what} needs an open scenario: use it inside `with consist.scenario(...) as sc:`"
            )
        return self._header

    @property
    def tracker(self) -> Tracker:
        if self._tracker is None:
            raise InvalidInput(f"scenario {self.id!r} has not been entered yet")
        return self._tracker

    @property
    def header(self) -> Run:
        """The scenario's own run as it stands (its final state once the block has ended)."""
        if self._header is not None:
            return self._header.run
        if self._final is not None:
            return self._final
        raise InvalidInput(f"scenario {self.id!r} has not been entered yet")

    @property
    def steps(self) -> list[dict[str, Any]]:
        """This pass's steps: run id, name, kind, status, cache_hit, year, iteration."""
        return [dict(step) for step in self._log.entries]

    # ------------------------------------------------------------------ steps
    @contextlib.contextmanager
    def trace(
        self,
        name: str,
        run_id: str | None = None,
        *,
        year: int | None = None,
        iteration: int | None = None,
        inputs: Inputs = None,
        input_keys: Sequence[str] = (),
        optional_input_keys: Sequence[str] = (),
        config: Any = None,
        facet: Any = None,
        tags: Sequence[str] | str | None = None,
        model: str | None = None,
        **meta: Any,
    ) -> Iterator[StepTrace]:
        """A block recorded as a step run; it always executes, hit or not.

        Parameters
        ----------
        name
            Step name (the run's model unless ``model`` is given; the facet namespace).
        run_id
            Explicit id; used again on a later pass it becomes ``<run_id>@2``, ``@3``...
        inputs
            Coupler keys (a list), or ``{key: path | Artifact | coupler key}``.
        input_keys, optional_input_keys
            Coupler keys added to the inputs; optional ones only if set.
        config, facet, tags, year, iteration, **meta
            Recorded on the run; ``config`` counts in the signature, the rest does not.

        Outputs logged inside the block go into the coupler under their keys
        when it ends. An exception marks the step and the scenario failed and
        propagates.

        Raises
        ------
        UnknownCouplerKey
            If an input key is not in the coupler.
        """
        self._open("sc.trace")
        tracker = self.tracker
        combined = combine_inputs(self.coupler, inputs, input_keys, optional_input_keys)
        step_inputs = resolve_inputs(tracker.mounts, combined, self.coupler.resolve)
        active = tracker.begin_run(
            free_run_id(tracker.run_exists, run_id) if run_id else new_step_id(name),
            model or name, year=year, iteration=iteration, tags=tags,
            parent_run_id=self.id, config=config, facet=facet,
            **{**meta, "consist_step": "trace"},
        )  # fmt: skip
        signature: Signature | None = None
        handle: StepTrace | None = None
        try:
            for item in step_inputs:
                source = item.artifact or item.path
                assert source is not None  # resolve_inputs sets one of the two
                tracker.log_artifact(source, item.key, "input", run=active)
            if self.step_cache_hydration == "inputs-missing":
                tracker.hydrator.backfill_inputs(active.inputs)
            signature = tracker.signature_of_active(active)
            active.run = attrs.evolve(active.run, signature=signature)
            handle = StepTrace(active, tracker.find_by_signature(signature.digest))
            yield handle
        except BaseException as exc:
            run = tracker.end_run(active, error=exc, signature=signature)
            self._log.record(run, "trace", handle is not None and handle.cache_hit)
            raise
        run = tracker.end_run(active, signature=signature)
        if run.status is RunStatus.COMPLETED:
            self.coupler.update(active.outputs)
        self._log.record(run, "trace", handle.cache_hit)

    # ``with sc.step(name="simulate"):`` reads better for a block; it is a trace.
    step = trace

    def run(
        self,
        name: str | Callable[..., Any] | None = None,
        fn: Callable[..., Any] | None = None,
        *,
        inputs: Inputs = None,
        input_keys: Sequence[str] = (),
        optional_input_keys: Sequence[str] = (),
        run_id: str | None = None,
        cache_hydration: str | None = None,
        **options: Unpack[StepSettings],
    ) -> RunResult:
        """Run ``fn`` as a cached step of the scenario (the options of ``tracker.run``).

        String inputs are coupler keys first, paths otherwise. On a cache hit
        ``fn`` is not called; either way the outputs go into the coupler.
        ``cache_hydration`` defaults to the scenario's ``step_cache_hydration``.
        An explicit ``run_id`` that exists already (a later pass that is not a
        hit on that very run) becomes ``<run_id>@2``, ``@3``...

        Raises
        ------
        UnknownCouplerKey
            If an input key is not in the coupler (nor an existing path).
        """
        self._open("sc.run")
        tracker = self.tracker
        if callable(name) and fn is None:
            name, fn = None, name
        step = (
            str(name or step_defaults(fn).get("name") or "")
            or getattr(fn, "__name__", None)
            or "step"
        )
        step_options: dict[str, Any] = {
            **options,
            "name": step,
            "inputs": combine_inputs(self.coupler, inputs, input_keys, optional_input_keys),
            "parent_run_id": self.id,
            "cache_hydration": cache_hydration or self.step_cache_hydration,
        }
        started = dt.datetime.now(dt.UTC)
        try:
            result = run_step_as(tracker, fn, run_id, step_options, self.coupler.resolve)
        except BaseException:
            self._log.record_failure(
                tracker.find_runs, self.id, options.get("model") or step, started
            )
            raise
        self.coupler.update(result.outputs)
        self._log.record(result.run, "run", result.cache_hit)
        return result

    def map(
        self,
        fn: Callable[..., Any],
        items: Iterable[Any],
        *,
        input_keys: Sequence[str] = (),
        optional_input_keys: Sequence[str] = (),
        cache_hydration: str | None = None,
        executor: Any = None,
        fail_fast: bool = False,
        chain: str | Mapping[str, str] | None = None,
        progress: bool | None = None,
        **options: Unpack[MapSettings],
    ) -> MapResults:
        """``tracker.map`` as steps of this scenario: string inputs are coupler keys,
        and the outputs of completed items go into the coupler in item order."""
        from consist.services.steps.fanout import MapStopped

        self._open("sc.map")
        map_options: dict[str, Any] = {
            "name": step_defaults(fn).get("name") or fn.__name__,
            **options,
            "parent_run_id": self.id,
            "cache_hydration": cache_hydration or self.step_cache_hydration,
        }

        def with_coupler(item_options: dict[str, Any]) -> dict[str, Any]:
            inputs = item_options.get("inputs")
            combined = combine_inputs(self.coupler, inputs, input_keys, optional_input_keys)
            return {**item_options, "inputs": combined}

        try:
            results = self.tracker.map_steps(
                fn, items, map_options,
                executor=executor, fail_fast=fail_fast, chain=chain, progress=progress,
                input_resolver=self.coupler.resolve, prepare=with_coupler,
            )  # fmt: skip
        except MapStopped as stopped:
            self._log.record_items(stopped.results, self.coupler.update)
            raise
        self._log.record_items(results, self.coupler.update)
        return results

    def require_outputs(
        self,
        *keys: str,
        warn_undocumented: bool = False,
        description: Mapping[str, str] | None = None,
    ) -> None:
        """Keys this scenario must set in the coupler before it ends.

        With ``warn_undocumented=True`` setting any key that was not declared
        (here, with ``declare_outputs`` or by a coupler schema) warns
        ``UndocumentedCouplerKey``. Keys only in ``description`` are documented,
        not required. Ending the scenario with a required key unset fails it
        with ``MissingCouplerOutputs`` naming the keys.
        """
        self.coupler.declare(keys, True, description)
        if warn_undocumented:
            self.coupler.warn_undocumented = True

    def declare_outputs(
        self,
        *keys: str,
        required: bool | Mapping[str, bool] = False,
        description: Mapping[str, str] | None = None,
    ) -> None:
        """Declare output keys; ``required`` is one flag or ``{key: bool}`` (default False)."""
        self.coupler.declare(keys, required, description)

    def coupler_schema(self, schema: type[T]) -> T:
        """A typed view of the coupler for a ``@consist.coupler_schema`` class."""
        return self.coupler.view(schema)

    def collect_by_keys(self, outputs: Mapping[str, Artifact], *keys: str) -> dict[str, Artifact]:
        """Put ``outputs[key]`` for each key (all of them if none given) into the coupler.

        Raises
        ------
        UnknownCouplerKey
            If ``outputs`` lacks a key (the message lists the keys it has).
        """
        wanted = keys or tuple(outputs)
        absent = [k for k in wanted if k not in outputs]
        if absent:
            raise UnknownCouplerKey(absent[0], list(outputs))
        collected = {key: outputs[key] for key in wanted}
        self.coupler.update(collected)
        return collected

    def log_artifacts(
        self,
        paths: Mapping[str, str | os.PathLike[str] | Artifact],
        *,
        metadata_by_key: Mapping[str, Mapping[str, Any]] | None = None,
        direction: str = "output",
        **common_meta: Any,
    ) -> dict[str, Artifact]:
        """Log several files (to the current step, else the scenario run) into the coupler."""
        header = self._open("sc.log_artifacts")
        current = context.current_run_or_none()
        owner = header
        if current is not None and current.run.parent_run_id == self.id:
            owner = current
        logged = self.tracker.log_artifacts(
            paths, direction=direction, metadata_by_key=metadata_by_key, run=owner, **common_meta
        )
        self.coupler.update(logged)
        return logged

    def _card(self) -> Card:
        header = self._header.run if self._header is not None else self._final
        return cards.scenario_card(self, header)

    def __repr__(self) -> str:
        return f"<Scenario {self.id!r} steps={len(self._log.entries)} keys={self.coupler.keys()}>"
