"""``forward``: a facade member that is one collaborator's method, signature and docstring kept.

The Tracker is a facade over services (queries, artifact logging, data). Writing
each of their thirty-odd members out again on it (every parameter, every
docstring) would copy them, and copies drift. ``forward`` hands out the
collaborator's own bound method instead, and mypy sees its exact signature.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


class forward(Generic[S, P, R]):
    """``member = forward("collaborator_attribute", Service.member)`` in a facade class."""

    def __init__(self, collaborator: str, method: Callable[Concatenate[S, P], R]) -> None:
        self.collaborator = collaborator
        self.method = method
        self.name = method.__name__
        self.__doc__ = method.__doc__
        self.__wrapped__ = method  # inspect.signature and help() show the service's

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> forward[S, P, R]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Callable[P, R]: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return getattr(getattr(obj, self.collaborator), self.method.__name__)

    def __call__(self, obj: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        """``Tracker.get_run(tracker, ...)``: called on the class, as a plain method is."""
        bound: Callable[P, R] = self.__get__(obj)
        return bound(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<forward to {self.collaborator}.{self.method.__name__}>"
