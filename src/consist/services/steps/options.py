"""The options of one cached step, typed: what ``tracker.run``, ``consist.run``,
``sc.run``, ``tracker.map``, ``sc.map`` and ``define_step`` accept as keywords.

Kept import-light: ``consist.api`` imports it at ``import consist`` time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

PathLike = str | os.PathLike[str]
Inputs = Mapping[str, Any] | Sequence[Any] | None
CodeIdentityOption = str | Callable[[Any], str] | None
# tracker.map and sc.map take, for an option that is data of one item, either a
# value or a function of the item.
Item = Any


class StepSettings(TypedDict, total=False):
    """How a step runs and is recorded (every option but its name, inputs and ids)."""

    config: Any
    outputs: Sequence[str] | str
    output_paths: Mapping[str, PathLike] | None
    load_inputs: bool
    runtime_kwargs: Mapping[str, Any] | None
    inject_context: bool | str
    capture_dir: PathLike | None
    capture_pattern: str
    depends_on: Sequence[PathLike]
    hash_inputs: Sequence[PathLike]
    cache_mode: str
    hydration_paths: Mapping[str, PathLike] | None
    hydration_dir: PathLike | None
    validate_cached_outputs: str
    year: int | None
    iteration: int | None
    tags: Sequence[str] | str | None
    facet: Any
    model: str | None
    code_identity: CodeIdentityOption
    meta: Mapping[str, Any]


class StepOptions(StepSettings, total=False):
    """What ``define_step`` may store as a step's defaults (see ``docs/``, Running steps)."""

    name: str
    inputs: Inputs
    cache_hydration: str | None


class RunOptions(StepOptions, total=False):
    """Options of one ``tracker.run`` / ``consist.run`` call: a step's options plus
    the ids that belong to one run only."""

    run_id: str | None
    parent_run_id: str | None


class MapSettings(TypedDict, total=False):
    """``sc.map``'s options: those of a step, where data of one item may be given as a
    function of the item (``config=lambda year: {...}``)."""

    name: str | Callable[[Item], str]
    run_id: str | Callable[[Item], str | None] | None
    inputs: Inputs | Callable[[Item], Inputs]
    config: Any
    outputs: Sequence[str] | str | Callable[[Item], Sequence[str] | str]
    output_paths: Mapping[str, PathLike] | Callable[[Item], Mapping[str, PathLike] | None] | None
    load_inputs: bool
    runtime_kwargs: Mapping[str, Any] | Callable[[Item], Mapping[str, Any] | None] | None
    inject_context: bool | str
    capture_dir: PathLike | None
    capture_pattern: str
    depends_on: Sequence[PathLike] | Callable[[Item], Sequence[PathLike]]
    hash_inputs: Sequence[PathLike] | Callable[[Item], Sequence[PathLike]]
    cache_mode: str
    hydration_paths: Mapping[str, PathLike] | Callable[[Item], Mapping[str, PathLike] | None] | None
    hydration_dir: PathLike | Callable[[Item], PathLike | None] | None
    validate_cached_outputs: str
    year: int | Callable[[Item], int | None] | None
    iteration: int | Callable[[Item], int | None] | None
    tags: Sequence[str] | str | Callable[[Item], Sequence[str] | str | None] | None
    facet: Any
    model: str | Callable[[Item], str | None] | None
    code_identity: CodeIdentityOption
    meta: Mapping[str, Any] | Callable[[Item], Mapping[str, Any]]


class MapOptions(MapSettings, total=False):
    """``tracker.map``'s options: ``sc.map``'s plus hydration and the parent run."""

    cache_hydration: str | None
    parent_run_id: str | None
