"""What one cached step is asked (:class:`StepRequest`) and what it returns (:class:`RunResult`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from consist.display import cards
from consist.domain import Artifact, Run
from consist.domain.checks import CACHE_MODES as CACHE_MODES  # re-exported
from consist.domain.checks import check_cache_mode as check_cache_mode
from consist.domain.display import Card, Displayable
from consist.domain.errors import InvalidInput
from consist.services.steps import hydration
from consist.services.steps.step_io import InputResolver

if TYPE_CHECKING:
    from consist.services.steps.collaborators import StepExecutor
    from consist.services.steps.options import RunOptions, StepOptions

VALIDATION_MODES = ("lazy", "strict")
STEP_ATTRIBUTE = "__consist_step__"
F = TypeVar("F", bound=Callable[..., Any])


@attrs.frozen
class RunResult(Displayable):
    """What ``tracker.run`` returns.

    Attributes
    ----------
    run : Run
        The run record (for a readonly miss, a record that was not persisted).
    outputs : Mapping[str, Artifact]
        Output artifacts by key (also available as ``artifacts``).
    cache_hit : bool
    cached_from : str | None
        Id of the run whose outputs were reused.
    value : Any
        What the function returned (None on a hit: it was not called).
    """

    run: Run
    outputs: Mapping[str, Artifact]
    cache_hit: bool = False
    cached_from: str | None = None
    value: Any = None
    hydrated: Mapping[str, Path] = attrs.field(factory=dict)

    @property
    def artifacts(self) -> Mapping[str, Artifact]:
        return self.outputs

    @property
    def run_id(self) -> str:
        return self.run.id

    def _card(self) -> Card:
        return cards.result_card(self.run, self.outputs, self.value)


def check_validation(mode: str) -> str:
    if mode not in VALIDATION_MODES:
        raise InvalidInput(
            f"validate_cached_outputs must be one of {VALIDATION_MODES}, not {mode!r}"
        )
    return mode


def step_defaults(fn: Callable[..., Any] | None) -> dict[str, Any]:
    return dict(getattr(fn, STEP_ATTRIBUTE, None) or {})


@attrs.define
class StepRequest:
    """Everything ``tracker.run`` was asked, after defaults are applied.

    ``executor``: runs the step instead of calling ``fn`` (a container); its
    identity of the task is hashed into the signature.
    """

    fn: Callable[..., Any] | None
    name: str
    run_id: str | None = None
    inputs: Mapping[str, Any] | Sequence[Any] | None = None
    config: Any = None
    outputs: Sequence[str] = ()
    output_paths: Mapping[str, str | os.PathLike[str]] | None = None
    load_inputs: bool = True
    runtime_kwargs: Mapping[str, Any] | None = None
    inject_context: bool | str = False
    capture_dir: str | os.PathLike[str] | None = None
    capture_pattern: str = "*"
    depends_on: Sequence[str | os.PathLike[str]] = ()
    hash_inputs: Sequence[str | os.PathLike[str]] = ()
    cache_mode: str = "reuse"
    cache_hydration: str | None = None
    hydration_paths: Mapping[str, str | os.PathLike[str]] | None = None
    hydration_dir: str | os.PathLike[str] | None = None
    validate_cached_outputs: str = "lazy"
    year: int | None = None
    iteration: int | None = None
    tags: Sequence[str] | str | None = None
    facet: Any = None
    model: str | None = None
    parent_run_id: str | None = None
    code_identity: Any = None
    input_resolver: InputResolver | None = None
    executor: StepExecutor | None = None
    meta: Mapping[str, Any] = attrs.field(factory=dict)

    def validate(self) -> None:
        check_cache_mode(self.cache_mode)
        check_validation(self.validate_cached_outputs)
        hydration.check_hydration(self.cache_hydration)
        if self.fn is None and self.executor is None:
            raise InvalidInput("tracker.run needs fn=... (the step function)")


_FIELDS = frozenset(f.name for f in attrs.fields(StepRequest)) - {"fn", "executor"}


def build_request(
    fn: Callable[..., Any] | None,
    options: RunOptions | Mapping[str, Any],
    *,
    input_resolver: InputResolver | None = None,
    executor: StepExecutor | None = None,
) -> StepRequest:
    """Merge ``define_step`` defaults with the call's options (the call wins).

    Raises
    ------
    TypeError
        For an option ``tracker.run`` does not know.
    InvalidCacheMode, InvalidInput
        For a bad cache mode, validation or hydration mode, or no ``fn``.
    """
    merged = {**step_defaults(fn), **{k: v for k, v in options.items() if v is not None}}
    name = merged.pop("name", None) or getattr(fn, "__name__", None) or "step"
    unknown = sorted(set(merged) - _FIELDS)
    if unknown:
        raise TypeError(f"tracker.run got unexpected option(s) {unknown}")
    if isinstance(merged.get("outputs"), str):
        merged["outputs"] = [merged["outputs"]]
    if isinstance(merged.get("outputs"), Mapping):  # {key: path or URL}: declared and placed
        merged["output_paths"] = {**merged["outputs"], **(merged.get("output_paths") or {})}
        merged["outputs"] = list(merged["outputs"])
    if input_resolver is not None:
        merged["input_resolver"] = input_resolver
    request = StepRequest(fn=fn, name=name, executor=executor, **merged)
    request.validate()
    return request


def define_step(defaults: StepOptions) -> Callable[[F], F]:
    """Decorator storing defaults for ``tracker.run`` on a function, checked now.

    Raises what ``tracker.run`` would raise for the same options (an unknown
    option, a bad cache mode...), at decoration time rather than at the first run.
    """
    build_request(lambda: None, defaults)

    def decorate(fn: F) -> F:
        setattr(fn, STEP_ATTRIBUTE, dict(defaults))
        return fn

    return decorate
