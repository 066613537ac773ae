"""The catalog layout's versions: migration steps, the version guard and the health checks.

Each engine writes its own ``CREATE TABLE`` statements (types differ); which
tables make a catalog, when a file must be refused, and what a consistent
catalog looks like are the same for all and written here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from consist.domain.errors import CatalogError

from .dialect import Dialect

__all__ = [
    "OWN_TABLES",
    "PRUNE_FACETS",
    "Migration",
    "check_schema_version",
    "consistency_problems",
    "version_problems",
]

Fetch = Callable[[str], list[tuple[Any, ...]]]


class Migration(NamedTuple):
    """One forward step of the catalog layout; applied once, in its own transaction.

    ``apply`` takes the engine's connection.
    """

    version: int
    summary: str
    apply: Callable[[Any], None]


OWN_TABLES = frozenset(
    {
        "runs",
        "artifacts",
        "run_artifact_links",
        "config_facet",
        "run_config_kv",
        "artifact_facet",
        "artifact_kv",
        "file_schemas",
    }
)

# Facets no run or artifact names any more (``vacuum``).
PRUNE_FACETS = (
    "DELETE FROM config_facet WHERE facet_id NOT IN "
    "(SELECT facet_id FROM runs WHERE facet_id IS NOT NULL)",
    "DELETE FROM artifact_facet WHERE facet_id NOT IN "
    "(SELECT facet_id FROM artifacts WHERE facet_id IS NOT NULL)",
)


def check_schema_version(
    where: str, current: int, tables: set[str], latest: int, dialect: Dialect
) -> None:
    """Refuse a file Consist did not write, or one a newer Consist wrote.

    ``current`` is the stored schema version (0 when none), ``tables`` the
    tables in the file, ``latest`` the newest version this code knows.

    Raises
    ------
    CatalogError
        Naming the file and what to do.
    """
    if current == 0 and tables & OWN_TABLES:
        raise CatalogError(
            f"{where} has tables named like a Consist catalog's but no schema_version table; "
            "it was not written by Consist. Point the catalog at another file"
        )
    if current > latest:
        raise CatalogError(
            f"the catalog {where} has schema version {current}, but this {dialect.package} "
            f"knows versions up to {latest}; upgrade it (pip install -U {dialect.package}) "
            "rather than let an older version write to a newer catalog"
        )


def version_problems(version: Any, latest: int) -> list[str]:
    """The ``check`` finding for a stored version other than the newest."""
    return [] if version == latest else [f"schema version is {version}, expected {latest}"]


# Each counts rows that point at nothing; NOT EXISTS is an anti-join in both engines.
_DANGLING = (
    (
        "SELECT count(*) FROM run_artifact_links l WHERE NOT EXISTS "
        "(SELECT 1 FROM artifacts a WHERE a.id = l.artifact_id)",
        "links name an artifact that is not in the catalog",
    ),
    (
        "SELECT count(*) FROM run_artifact_links l WHERE NOT EXISTS "
        "(SELECT 1 FROM runs r WHERE r.id = l.run_id)",
        "links name a run that is not in the catalog",
    ),
    (
        "SELECT count(*) FROM runs r WHERE r.facet_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM config_facet f WHERE f.facet_id = r.facet_id)",
        "runs name a config facet that is not stored",
    ),
    (
        "SELECT count(*) FROM artifacts a WHERE a.facet_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM artifact_facet f WHERE f.facet_id = a.facet_id)",
        "artifacts name a facet that is not stored",
    ),
    (
        "SELECT count(*) FROM run_config_kv k WHERE NOT EXISTS "
        "(SELECT 1 FROM runs r WHERE r.id = k.run_id)",
        "run_config_kv rows belong to no run",
    ),
    (
        "SELECT count(*) FROM artifact_kv k WHERE NOT EXISTS "
        "(SELECT 1 FROM artifacts a WHERE a.id = k.artifact_id)",
        "artifact_kv rows belong to no artifact",
    ),
)


def consistency_problems(fetch: Fetch) -> list[str]:
    """Rows of the layout that name a row that is not there, one finding per kind."""
    problems = []
    for sql, what in _DANGLING:
        count = fetch(sql)[0][0]
        if count:
            problems.append(f"{count} {what}")
    return problems
