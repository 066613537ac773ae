"""Run ids on the command line: a unique prefix is enough, and the shell completes them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from consist.domain.errors import AmbiguousMatch, NotFound

if TYPE_CHECKING:
    from consist.tracking import Tracker

SHOWN_CANDIDATES = 10


def matching(prefix: str, run_ids: Iterable[str]) -> list[str]:
    """The ids that are ``prefix`` itself, else those that start with it (sorted)."""
    ids = set(run_ids)
    if prefix in ids:
        return [prefix]
    return sorted(i for i in ids if prefix and i.startswith(prefix))


def pick(prefix: str, candidates: list[str]) -> str:
    """The one candidate; NotFound for none, AmbiguousMatch (listing them) for several."""
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise NotFound(
            f"no run with id {prefix!r} or starting with it in the catalog; "
            "`consist runs` lists the runs there are"
        )
    # One id a line: a list of ids run together would wrap mid-id at 80 columns.
    listed = "".join(f"\n  {c}" for c in candidates[:SHOWN_CANDIDATES])
    more = len(candidates) - SHOWN_CANDIDATES
    rest = f"\n  ... and {more} more" if more > 0 else ""
    raise AmbiguousMatch(
        f"{prefix!r} matches {len(candidates)} runs; type more of the id:{listed}{rest}"
    )


def resolve_run_id(tracker: Tracker, prefix: str) -> str:
    """The full id of the run whose id is, or uniquely starts with, ``prefix``."""
    if tracker.run_exists(prefix):
        return prefix
    return pick(prefix, matching(prefix, tracker.catalog.run_ids()))


def scenario_id(tracker: Tracker, prefix: str) -> str:
    """A scenario filter: the id it uniquely begins, else the text as given (it may match none)."""
    try:
        return resolve_run_id(tracker, prefix)
    except AmbiguousMatch:
        raise
    except NotFound:
        return prefix


def resolve_run_ids(tracker: Tracker, prefixes: Iterable[str] | None) -> list[str] | None:
    if not prefixes:
        return None
    return [resolve_run_id(tracker, p) for p in prefixes]


def complete_run_id(ctx: Any, incomplete: str) -> list[str]:
    """Shell completion of a RUN argument from the catalog the command line points at.

    Completion must never print an error into the user's prompt: any problem
    (no catalog here yet, a locked file) completes nothing.
    """
    from consist.cli._common import locate
    from consist.container import build_catalog

    params = getattr(ctx, "params", None) or {}
    try:
        location = locate(params.get("catalog"), params.get("run_dir"))
        if location.catalog_file is not None and not location.catalog_file.is_file():
            return []
        catalog = build_catalog(location.catalog_url)
    except Exception:
        return []
    try:
        return sorted(i for i in catalog.run_ids() if i.startswith(incomplete))[:200]
    except Exception:
        return []
    finally:
        catalog.close()
