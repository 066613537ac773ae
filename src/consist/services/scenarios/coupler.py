"""The coupler: artifacts handed from one scenario step to the next, by key.

It also holds the scenario's declared outputs (which keys it promises to
produce, which of them are required) and the typed views made by
``@consist.coupler_schema`` classes.
"""

from __future__ import annotations

import difflib
import inspect
import warnings
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

import attrs

from consist.domain import Artifact
from consist.domain.errors import ConsistError, InvalidInput, UnknownCouplerKey

T = TypeVar("T")
SCHEMA_KEYS = "__consist_coupler_keys__"


class MissingCouplerOutputs(ConsistError, LookupError):
    """A scenario ended without setting coupler keys it declared as required."""

    def __init__(self, scenario: str, missing: list[str]) -> None:
        super().__init__(
            f"scenario {scenario!r} ended without the required output(s) {missing}; set them "
            "with sc.coupler.set(key, artifact) (or produce them from a step), or declare "
            "them with required=False"
        )
        self.missing = missing


class UndocumentedCouplerKey(UserWarning):
    """A coupler key was set that the scenario never declared (``warn_undocumented``)."""


@attrs.frozen
class DeclaredOutput:
    """A coupler key the scenario promises: whether it must be set, and what it is."""

    key: str
    required: bool = False
    description: str | None = None


class Coupler:
    """Artifacts by key, shared by the steps of one scenario.

    ``key in coupler``, ``coupler.keys()``, ``coupler[key]`` (same as
    :meth:`require`) work as for a mapping.
    """

    def __init__(self, scenario_id: str | None = None) -> None:
        self.scenario_id = scenario_id
        self._artifacts: dict[str, Artifact] = {}
        self._declared: dict[str, DeclaredOutput] = {}
        self.warn_undocumented = False

    # ------------------------------------------------------------------ values
    def set(self, key: str, artifact: Artifact) -> Artifact:
        """Store ``artifact`` under ``key`` (replacing what was there); returns it.

        Raises
        ------
        InvalidInput
            If ``artifact`` is not an Artifact or ``key`` is empty.
        """
        if not isinstance(key, str) or not key:
            raise InvalidInput(f"a coupler key must be a non-empty string, not {key!r}")
        if not isinstance(artifact, Artifact):
            raise InvalidInput(
                f"coupler key {key!r}: expected an Artifact (from log_artifact, "
                f"log_dataframe or a step's outputs), not {type(artifact).__name__}"
            )
        if self.warn_undocumented and key not in self._declared:
            warnings.warn(self._undocumented_message(key), UndocumentedCouplerKey, stacklevel=2)
        self._artifacts[key] = artifact
        return artifact

    def get(self, key: str, default: Artifact | None = None) -> Artifact | None:
        """The artifact under ``key``, or ``default``."""
        return self._artifacts.get(key, default)

    def require(self, key: str) -> Artifact:
        """The artifact under ``key``.

        Raises
        ------
        UnknownCouplerKey
            If nothing is set under ``key`` (the message lists the keys that are).
        """
        try:
            return self._artifacts[key]
        except KeyError:
            raise UnknownCouplerKey(key, list(self._artifacts)) from None

    def update(self, mapping: Mapping[str, Artifact] | None = None, **artifacts: Artifact) -> None:
        """Set every ``key: artifact`` of ``mapping`` (a step's ``outputs``, say)."""
        for key, artifact in {**dict(mapping or {}), **artifacts}.items():
            self.set(key, artifact)

    def resolve(self, key: str) -> Artifact | None:
        """The input resolver handed to the run engine: the artifact, or None."""
        return self._artifacts.get(key)

    def keys(self) -> list[str]:
        return list(self._artifacts)

    def items(self) -> list[tuple[str, Artifact]]:
        return list(self._artifacts.items())

    def as_dict(self) -> dict[str, Artifact]:
        return dict(self._artifacts)

    def __contains__(self, key: object) -> bool:
        return key in self._artifacts

    def __getitem__(self, key: str) -> Artifact:
        return self.require(key)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._artifacts))

    def __len__(self) -> int:
        return len(self._artifacts)

    def __repr__(self) -> str:
        return f"<Coupler {self.scenario_id!r} keys={sorted(self._artifacts)}>"

    # ------------------------------------------------------------------ declared outputs
    def declare(
        self,
        keys: tuple[str, ...],
        required: bool | Mapping[str, bool] = False,
        description: Mapping[str, str] | None = None,
    ) -> None:
        """Declare output keys (see ``Scenario.declare_outputs``)."""
        descriptions = dict(description or {})
        flags = dict(required) if isinstance(required, Mapping) else {}
        stray = sorted(set(flags) - set(keys))
        if stray:
            raise InvalidInput(
                f"required= names {stray}, which are not among the declared keys {list(keys)}"
            )
        for key in keys:
            if not isinstance(key, str) or not key:
                raise InvalidInput(f"a declared output must be a non-empty string, not {key!r}")
            flag = flags.get(key, False) if isinstance(required, Mapping) else bool(required)
            previous = self._declared.get(key)
            text = descriptions.get(key) or (previous.description if previous else None)
            self._declared[key] = DeclaredOutput(key, flag, text)
        for key, text in descriptions.items():
            if key not in self._declared:
                # Described but not listed: documented, not required.
                self._declared[key] = DeclaredOutput(key, False, text)

    def declared_outputs(self) -> dict[str, DeclaredOutput]:
        """Every declared key with its required flag and description."""
        return dict(self._declared)

    def missing_declared_outputs(self) -> list[str]:
        """Required declared keys that are not set yet, sorted."""
        return sorted(k for k, d in self._declared.items() if d.required and k not in self)

    def _undocumented_message(self, key: str) -> str:
        message = f"setting undocumented coupler key {key!r}"
        close = difflib.get_close_matches(key, list(self._declared), n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        return message + f"; declared keys: {sorted(self._declared)}"

    # ------------------------------------------------------------------ typed views
    def view(self, schema: type[T]) -> T:
        """An instance of a ``@coupler_schema`` class reading and writing this coupler.

        Raises
        ------
        InvalidInput
            If ``schema`` was not decorated with ``@consist.coupler_schema``.
        """
        if SCHEMA_KEYS not in vars(schema):
            raise InvalidInput(
                f"{schema.__name__} is not a coupler schema; decorate it with "
                "@consist.coupler_schema"
            )
        self.declare(tuple(schema_keys(schema)))
        view = object.__new__(schema)
        object.__setattr__(view, "_consist_coupler", self)
        return view


class _CouplerField:
    """Attribute of a coupler schema: reads and writes one coupler key."""

    def __init__(self, key: str, optional: bool) -> None:
        self.key = key
        self.optional = optional

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        coupler: Coupler = instance._consist_coupler
        return coupler.get(self.key) if self.optional else coupler.require(self.key)

    def __set__(self, instance: Any, value: Artifact) -> None:
        instance._consist_coupler.set(self.key, value)


def coupler_schema(cls: type[T]) -> type[T]:
    """Class decorator: annotated attributes become typed coupler keys.

    ``sc.coupler_schema(Cls)`` then returns an instance whose attributes read
    (``typed.skims`` is ``sc.coupler.require("skims")``) and write the coupler.
    An attribute given the default ``None`` is optional: reading it when unset
    gives None instead of raising ``UnknownCouplerKey``.

    Raises
    ------
    InvalidInput
        If the class annotates no attributes, or gives one a default other than None.
    """
    names = [n for n in inspect.get_annotations(cls) if not n.startswith("_")]
    if not names:
        raise InvalidInput(f"coupler schema {cls.__name__} annotates no attributes")
    for name in names:
        default = vars(cls).get(name, _NO_DEFAULT)
        if default is not _NO_DEFAULT and default is not None:
            raise InvalidInput(
                f"coupler schema {cls.__name__}.{name}: the only default allowed is None "
                "(an optional key)"
            )
        setattr(cls, name, _CouplerField(name, optional=default is None))
    setattr(cls, SCHEMA_KEYS, tuple(names))
    return cls


def schema_keys(schema: type) -> tuple[str, ...]:
    """The coupler keys a ``@coupler_schema`` class names."""
    keys: tuple[str, ...] = getattr(schema, SCHEMA_KEYS, ())
    return keys


_NO_DEFAULT = object()
