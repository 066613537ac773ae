"""The service packages import each other in one direction only.

import-linter's layers contract (pyproject.toml) pins the order we chose; this
test asks a weaker question that holds whatever the order: is there any cycle
between service packages? Imports under ``TYPE_CHECKING`` count, since a cycle
of type hints still means neither package can be read without the other.
"""

from __future__ import annotations

import graphlib
import pkgutil

import grimp
import pytest

import consist.services

SERVICES = "consist.services"


def service_units() -> list[str]:
    """Each package of ``consist.services`` and each module directly inside it."""
    return sorted(f"{SERVICES}.{m.name}" for m in pkgutil.iter_modules(consist.services.__path__))


def package_edges(graph: grimp.ImportGraph, units: list[str]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {unit: set() for unit in units}
    for importer in units:
        for imported in units:
            if importer != imported and graph.direct_import_exists(
                importer=importer, imported=imported, as_packages=True
            ):
                edges[importer].add(imported)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(graphlib.TopologicalSorter(edges).static_order())
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None


def test_no_cycle_between_service_packages() -> None:
    graph = grimp.build_graph("consist", include_external_packages=False)
    units = service_units()
    assert {"consist.services.store", "consist.services.steps"} <= set(units)

    cycle = find_cycle(package_edges(graph, units))

    assert cycle is None, "service packages import each other in a circle: " + " -> ".join(
        name.removeprefix(f"{SERVICES}.") for name in cycle or []
    )


def test_the_check_sees_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}

    cycle = find_cycle(edges)

    assert cycle is not None and set(cycle) == {"a", "b", "c"}


@pytest.mark.parametrize("unit", ["consist.services.tracker", "consist.services.runs"])
def test_units_are_found(unit: str) -> None:
    assert unit in service_units()
