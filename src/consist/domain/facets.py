"""Facets: small, queryable descriptions of runs and artifacts, flattened to key/value rows.

A facet such as ``{"mode": "car", "cost": {"fuel": 1.5}}`` becomes rows
``mode -> str "car"`` and ``cost.fuel -> float 1.5``. Dots inside a key are
escaped (``a.b`` -> ``a\\.b``) so nested keys stay unambiguous. Lists and
empty objects are kept whole as JSON values. Facets never affect a signature.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from consist.domain import canonical

VALUE_TYPES = ("str", "int", "float", "bool", "null", "json")


@attrs.frozen
class FacetValue:
    """One flattened leaf: its dotted key, its type and the value in the matching column."""

    key: str
    value_type: str
    value: Any

    @property
    def columns(self) -> dict[str, Any]:
        """``value_str``/``value_int``/... with only the typed column set."""
        out: dict[str, Any] = {f"value_{t}": None for t in VALUE_TYPES if t != "null"}
        if self.value_type == "json":
            out["value_json"] = json.dumps(self.value, sort_keys=True)
        elif self.value_type != "null":
            out[f"value_{self.value_type}"] = self.value
        return out


def escape_key(key: str) -> str:
    return key.replace("\\", "\\\\").replace(".", "\\.")


def facet_id(namespace: str, facet: Mapping[str, Any]) -> str:
    """Stable id of a facet within its namespace: identical facets are stored once."""
    return canonical.digest({"namespace": namespace, "facet": facet})


def flatten(facet: Mapping[str, Any], prefix: str = "") -> list[FacetValue]:
    """Leaf values of a (normalised) facet, keys joined with escaped dots, in key order."""
    normal = canonical.normalize(facet, "facet")
    if not isinstance(normal, dict):
        raise TypeError("a facet must be a mapping or a pydantic model")
    return _flatten(normal, prefix)


def _flatten(node: dict[str, Any], prefix: str) -> list[FacetValue]:
    rows: list[FacetValue] = []
    for key in sorted(node):
        dotted = f"{prefix}{escape_key(key)}"
        value = node[key]
        if isinstance(value, dict) and value:
            rows.extend(_flatten(value, dotted + "."))
        else:
            rows.append(FacetValue(dotted, _type_of(value), value))
    return rows


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return "json"
