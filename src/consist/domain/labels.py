"""RunLabels: what a caller says about a run besides its id, checked once.

``start_run``, ``begin_run``, ``run`` and the scenario methods all take the same
labels (model, year, iteration, tags, parent, config, facet, meta). This value
holds them, validated and in canonical JSON form, and makes the new Run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from consist.domain import canonical
from consist.domain._values import as_tags, frozen_mapping
from consist.domain.checks import MAX_KEY_CHARS, check_facet_keys, check_int, check_run_id
from consist.domain.checks import check_text as _check_text
from consist.domain.errors import InvalidInput
from consist.domain.run import Run

# The keyword names under which the labels are passed, in the order of the signatures.
LABEL_NAMES = ("model", "year", "iteration", "tags", "parent_run_id", "config", "facet")


def _tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    listed = [value] if isinstance(value, str) else value
    if not isinstance(listed, list | tuple | set | frozenset):
        raise InvalidInput(f"tags must be a str or a list of str, not {type(value).__name__}")
    for tag in listed:
        _check_text(tag, "tag", max_chars=MAX_KEY_CHARS)
    return as_tags(listed)


def _as_object(value: Any, what: str) -> dict[str, Any]:
    """Canonical JSON of a config: a mapping, or any other value kept under ``value``."""
    normal = canonical.normalize(value if value is not None else {}, what)
    return normal if isinstance(normal, dict) else {"value": normal}


@attrs.frozen
class RunLabels:
    """A run's model, year, iteration, tags, parent, config, facet and meta.

    Build it with :meth:`of`, which checks every value and raises ``InvalidInput``
    (or ``ConfigNotSerializable``) naming the argument; the fields are then plain,
    frozen values: tags a tuple, config/facet/meta canonical JSON mappings.
    """

    model: str | None = None
    year: int | None = None
    iteration: int | None = None
    tags: tuple[str, ...] = ()
    parent: str | None = None
    config: Mapping[str, Any] = attrs.field(factory=dict, converter=frozen_mapping)
    facet: Mapping[str, Any] | None = None
    meta: Mapping[str, Any] = attrs.field(factory=dict, converter=frozen_mapping)

    @classmethod
    def of(
        cls,
        model: str | None = None,
        *,
        year: int | None = None,
        iteration: int | None = None,
        tags: Any = None,
        parent_run_id: str | None = None,
        config: Any = None,
        facet: Any = None,
        meta: Mapping[str, Any] | None = None,
    ) -> RunLabels:
        """Checked labels from the keyword arguments of ``start_run`` and friends.

        Raises
        ------
        InvalidInput
            A model that is not short text, a year or iteration that is not an int,
            tags that are not text, a parent that is not a run id, or facet keys
            that cannot be column names.
        ConfigNotSerializable
            ``config``, ``facet`` or ``meta`` has no canonical JSON form.
        """
        _check_text(model, "model", optional=True, max_chars=MAX_KEY_CHARS)
        check_int(year, "year", optional=True)
        check_int(iteration, "iteration", optional=True)
        checked_tags = _tags(tags)
        if parent_run_id is not None:
            check_run_id(parent_run_id)
        config_json = _as_object(config, "config")
        facet_json = canonical.normalize(facet, "facet") if facet is not None else None
        check_facet_keys(facet_json, "facet")
        meta_json = canonical.normalize(dict(meta or {}), "meta")
        return cls(
            model=model,
            year=year,
            iteration=iteration,
            tags=checked_tags,
            parent=parent_run_id,
            config=config_json,
            facet=facet_json if isinstance(facet_json, dict) else None,
            meta=meta_json if isinstance(meta_json, dict) else {},
        )

    def new_run(self, run_id: str, **meta: Any) -> Run:
        """A new (running) Run with these labels; ``meta`` adds to the labels' meta."""
        return Run(
            id=check_run_id(run_id),
            model=self.model,
            parent_run_id=self.parent,
            year=self.year,
            iteration=self.iteration,
            tags=self.tags,
            config=dict(self.config),
            facet=dict(self.facet) if self.facet is not None else None,
            meta={**self.meta, **meta},
        )

    def as_options(self) -> dict[str, Any]:
        """The labels as the keyword arguments they came from (``meta`` spread)."""
        return {
            "model": self.model,
            "year": self.year,
            "iteration": self.iteration,
            "tags": list(self.tags),
            "parent_run_id": self.parent,
            "config": dict(self.config),
            "facet": dict(self.facet) if self.facet is not None else None,
            **self.meta,
        }
