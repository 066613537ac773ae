"""Canonical JSON: one byte string per configuration value, whatever its spelling.

Two configs that mean the same thing must hash the same, so the encoding is
strict and deterministic:

- object keys are sorted; keys must be strings (ints, enums and paths are
  converted to their string form, other key types are an error);
- numbers are normalised: a float with an integral value is written as an int,
  so ``1``, ``1.0`` and ``1e0`` hash alike. ``True`` stays a bool and is never
  equal to ``1``. NaN and infinities have no JSON form and are refused;
- numpy scalars (``np.int64``, ``np.float32``, ``np.bool_``, 0-d arrays) are the
  Python values they equal, so ``np.int64(1)`` hashes as ``1``; they are
  recognised by the ``numbers`` ABCs and ``.item()``, numpy is never imported;
- ``pathlib`` paths become POSIX strings, ``datetime``/``date``/``time`` ISO 8601
  strings, enums their value, ``UUID`` and ``Decimal`` their string form
  (``Decimal`` integral values as ints), sets and frozensets sorted lists, tuples lists;
- pydantic models are dumped in JSON mode, dataclasses and attrs classes become
  objects of their fields;
- anything else raises :class:`ConfigNotSerializable` naming the key path
  (``config.solver.callback``) so the user knows which value to fix;
- text must be valid Unicode (a lone surrogate, left by decoding a non-UTF-8
  file name, is refused) and nesting deeper than ``MAX_DEPTH`` levels is refused
  with :class:`NestingTooDeep` (it also catches a value that contains itself).

Only the standard library is used; pydantic and attrs instances are recognised
by their protocol, not imported.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import json
import math
import numbers
import uuid
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from consist.domain.errors import ConfigNotSerializable, InvalidInput, NestingTooDeep

MAX_DEPTH = 100

JSONValue = None | bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"]


def normalize(value: Any, path: str = "config", _depth: int = 0) -> JSONValue:
    """Return the JSON-safe, normalised form of ``value``.

    Raises
    ------
    ConfigNotSerializable
        If ``value`` (or something nested in it) has no canonical form.
    NestingTooDeep
        If it is nested more than ``MAX_DEPTH`` levels deep.
    InvalidInput
        If text in it is not valid Unicode.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _checked_text(value, path)
    if _depth >= MAX_DEPTH:
        raise NestingTooDeep(
            f"{path.split('.')[0]} is nested more than {MAX_DEPTH} levels deep (at "
            f"{path[:120]!r}...); flatten it, or store the deep part in a file and log that file"
        )
    depth = _depth + 1
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _normalize_float(value, path)
    # numpy's integer and floating scalars register with the numbers ABCs.
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return _normalize_float(float(value), path)
    if isinstance(value, enum.Enum):
        return normalize(value.value, path, depth)
    if isinstance(value, Mapping):
        return _normalize_mapping(value, path, depth)
    if isinstance(value, (list, tuple)):
        return [normalize(item, f"{path}[{i}]", depth) for i, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        items = [normalize(item, f"{path}{{}}", depth) for item in value]
        return sorted(items, key=dumps)
    if isinstance(value, PurePath):
        return _checked_text(value.as_posix(), path)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return _normalize_decimal(value, path)
    if _is_array_scalar(value):
        return normalize(value.item(), path, depth)
    if hasattr(value, "model_dump") and hasattr(type(value), "model_fields"):
        return normalize(value.model_dump(mode="json"), path, depth)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return _normalize_mapping(fields, path, depth)
    attrs_fields = getattr(type(value), "__attrs_attrs__", None)
    if attrs_fields is not None:
        fields = {a.name: getattr(value, a.name) for a in attrs_fields}
        return _normalize_mapping(fields, path, depth)
    raise ConfigNotSerializable(path, value)


def _checked_text(text: str, path: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"text at {path[:120]!r} holds a lone surrogate at position {exc.start}: it is not "
            "valid Unicode (often a file name that is not UTF-8); pass the path to log_input "
            "instead, which records such names losslessly"
        ) from None
    return text


def dumps(value: Any) -> str:
    """Canonical JSON text of ``value``: sorted keys, no spaces, ASCII only."""
    return json.dumps(
        normalize(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def digest(value: Any) -> str:
    """SHA-256 hex digest of the canonical JSON of ``value``."""
    return hashlib.sha256(dumps(value).encode("ascii")).hexdigest()


def _is_array_scalar(value: Any) -> bool:
    """A numpy (or numpy-like) scalar or 0-d array, such as ``np.bool_(True)``: it has a
    dtype, no dimensions, and ``.item()`` gives the Python value it stands for."""
    return (
        getattr(value, "shape", None) == ()
        and hasattr(value, "dtype")
        and callable(getattr(value, "item", None))
    )


def _normalize_float(value: float, path: str) -> int | float:
    if not math.isfinite(value):
        raise ConfigNotSerializable(path, value)
    if value.is_integer():
        return int(value)
    return value


def _normalize_decimal(value: decimal.Decimal, path: str) -> int | float:
    if not value.is_finite():
        raise ConfigNotSerializable(path, value)
    if value == value.to_integral_value():
        return int(value)
    return _normalize_float(float(value), path)


def _normalize_mapping(value: Mapping[Any, Any], path: str, depth: int = 0) -> dict[str, JSONValue]:
    out: dict[str, JSONValue] = {}
    for raw_key, item in value.items():
        key = _checked_text(_key_text(raw_key, path), f"{path}.<key>")
        if key in out:
            raise ConfigNotSerializable(f"{path}.{key}", raw_key)
        out[key] = normalize(item, f"{path}.{key}", depth)
    return out


def _key_text(key: Any, path: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, enum.Enum):
        return _key_text(key.value, path)
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    if isinstance(key, numbers.Integral):
        return str(int(key))
    if isinstance(key, PurePath):
        return key.as_posix()
    raise ConfigNotSerializable(f"{path}.<key {key!r}>", key)
