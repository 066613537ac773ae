"""What every `consist` command shares: finding the catalog, opening a Tracker, output, errors."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import functools
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import attrs
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from consist.domain import RunQuery
from consist.domain.errors import ConsistError

if TYPE_CHECKING:
    from consist.tracking import Tracker

CATALOG_ENV = "CONSIST_CATALOG"
RUN_DIR_ENV = "CONSIST_RUN_DIR"
BLOBS_ENV = "CONSIST_BLOBS"
# JSON object handed to fsspec (endpoint_url, profile, ...); never printed or stored.
STORAGE_OPTIONS_ENV = "CONSIST_STORAGE_OPTIONS"
DEFAULT_CATALOG = "provenance.duckdb"
DEFAULT_RUN_DIR = "runs"
DEMO_DIR = "consist-demo"
# What a run records of where it ran: ``<run_dir>/<run id>``, holding its snapshot.
RECORDED_WORKSPACE = "_physical_run_dir"
SNAPSHOT_NAME = "consist.json"

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

CatalogOption = Annotated[
    str | None,
    typer.Option(
        "--catalog",
        "-c",
        envvar=CATALOG_ENV,
        help="Catalog file (.duckdb, .sqlite) or URL. Default: ./provenance.duckdb.",
        show_default=False,
    ),
]
RunDirOption = Annotated[
    str | None,
    typer.Option(
        "--run-dir",
        "-r",
        envvar=RUN_DIR_ENV,
        help=(
            "Run directory holding the consist.json snapshots. Default: the one the "
            "catalog's runs recorded, else ./runs."
        ),
        show_default=False,
    ),
]
RunArgument = Annotated[
    str,
    typer.Argument(
        metavar="RUN",
        help="Run id, or a unique beginning of one.",
        autocompletion=lambda ctx, incomplete: _complete_run_id(ctx, incomplete),
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts, not tables.")]
BlobsOption = Annotated[
    str | None,
    typer.Option(
        "--blobs",
        "-b",
        envvar=BLOBS_ENV,
        help=(
            "Blob store URL (s3://bucket/prefix, a directory, ...). Storage options as a "
            f"JSON object in ${STORAGE_OPTIONS_ENV}; credentials from the usual sources."
        ),
        show_default=False,
    ),
]

F = TypeVar("F", bound=Callable[..., Any])


def _complete_run_id(ctx: Any, incomplete: str) -> list[str]:
    from consist.cli._run_ids import complete_run_id

    return complete_run_id(ctx, incomplete)


class CliError(ConsistError):
    """An expected problem the CLI reports in one line (exit code 1)."""


@attrs.frozen
class Location:
    """Where a command looks: the catalog (URL, and file when it is one) and the run directory."""

    catalog_url: str
    catalog_file: Path | None
    run_dir: Path


def locate(catalog: str | None, run_dir: str | None, cwd: Path | None = None) -> Location:
    """Resolve ``--catalog``/``--run-dir`` (or their environment variables) to a Location.

    Without either, ``./provenance.duckdb`` and ``./runs`` are used; when neither
    exists but ``./consist-demo/`` holds a demo catalog, the demo's are used.
    With a catalog but no run directory, the run directory is the one the
    catalog's runs were recorded in (else ``runs`` beside the catalog file).
    """
    from consist.tracking import catalog_url_for

    here = cwd or Path.cwd()
    base = here
    demo = here / DEMO_DIR
    if (
        catalog is None
        and run_dir is None
        and not (here / DEFAULT_CATALOG).exists()
        and not (here / DEFAULT_RUN_DIR).is_dir()
        and (demo / DEFAULT_CATALOG).exists()
    ):
        base = demo
    chosen_run_dir = Path(os.path.abspath(run_dir)) if run_dir else base / DEFAULT_RUN_DIR
    raw = catalog or str(base / DEFAULT_CATALOG)
    if "://" in raw:
        url, file = raw, _file_of_url(raw)
    else:
        file = Path(os.path.abspath(raw))
        url = catalog_url_for(file)
    if catalog is not None and run_dir is None:
        chosen_run_dir = _run_dir_of(url, file) or chosen_run_dir
    return Location(url, file, chosen_run_dir)


def _run_dir_of(url: str, file: Path | None) -> Path | None:
    """The run directory a catalog's newest runs were recorded in, if it is still there,
    else a ``runs`` folder beside the catalog file."""
    from consist.container import build_catalog

    if file is not None and not file.is_file():
        return None
    try:
        opened = build_catalog(url)
    except ConsistError:
        return None
    try:
        for run in opened.find_runs(RunQuery(limit=50)):
            recorded = run.meta.get(RECORDED_WORKSPACE)
            if isinstance(recorded, str):
                candidate = Path(recorded).parent
                if (candidate / run.id / SNAPSHOT_NAME).is_file():
                    return candidate
    except ConsistError:
        pass
    finally:
        opened.close()
    beside = file.parent / DEFAULT_RUN_DIR if file is not None else None
    return beside if beside is not None and beside.is_dir() else None


def _file_of_url(url: str) -> Path | None:
    scheme, _, rest = url.partition("://")
    if scheme in ("duckdb", "sqlite") and rest.startswith("/") and ":memory:" not in rest:
        return Path(rest)
    return None


def storage_options_from_env() -> dict[str, Any]:
    """``$CONSIST_STORAGE_OPTIONS`` as a dict (empty when unset); its values are never shown."""
    raw = os.environ.get(STORAGE_OPTIONS_ENV, "").strip()
    if not raw:
        return {}
    try:
        options = json.loads(raw)
    except ValueError:
        options = None
    if not isinstance(options, dict):
        raise CliError(
            f"${STORAGE_OPTIONS_ENV} must hold a JSON object, such as "
            '{"client_kwargs": {"endpoint_url": "https://minio.example.org"}}'
        )
    return options


def open_tracker(
    location: Location, *, must_exist: bool = True, blobs: str | None = None
) -> Tracker:
    """A Tracker on ``location``; refuses (CliError) to invent a catalog that is not there.

    With ``blobs``, the Tracker uses that blob store (storage options from the
    environment) and archives nothing itself: commands only read and publish.
    """
    from consist.tracking import Tracker

    if must_exist:
        if location.catalog_file is not None and not location.catalog_file.exists():
            raise CliError(
                f"no catalog at {location.catalog_file}; pass --catalog, set {CATALOG_ENV}, "
                "or run `consist demo` to make one"
            )
        if not location.run_dir.is_dir():
            raise CliError(
                f"no run directory at {location.run_dir}; pass --run-dir or set {RUN_DIR_ENV}"
            )
    if blobs is None:
        return Tracker(location.run_dir, catalog=location.catalog_url, background_writes=False)
    return Tracker(
        location.run_dir,
        catalog=location.catalog_url,
        background_writes=False,
        blobs=blobs,
        storage_options=storage_options_from_env(),
        archive="none",
    )


@contextlib.contextmanager
def tracker_for(
    catalog: str | None,
    run_dir: str | None,
    *,
    blobs: str | None = None,
    must_exist: bool = True,
) -> Iterator[Tracker]:
    """Open, yield and always close a Tracker for one command."""
    tracker = open_tracker(locate(catalog, run_dir), must_exist=must_exist, blobs=blobs)
    try:
        yield tracker
    finally:
        tracker.close()


def reports_errors(fn: F) -> F:
    """Turn Consist's expected errors into one line on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConsistError as exc:
            message = str(exc).strip() or type(exc).__name__
            err_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def emit_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout (no markup, no wrapping)."""
    typer.echo(json.dumps(value, indent=2, default=_json_default))


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A rich table of plain values (markup in values is escaped)."""
    # At least as wide as its title, which would otherwise wrap to a narrow table's width.
    width = len(title) if title else None
    out = Table(title=title, title_justify="left", header_style="bold", min_width=width)
    for column in columns:
        # Rich narrows only wrappable columns: the others fold so that ids stay whole.
        out.add_column(column, overflow="fold", no_wrap=is_id_column(str(column)))
    for row in rows:
        out.add_row(*(escape(cell_text(value)) for value in row))
    return out


ID_COLUMNS = frozenset({"id", "run", "scenario", "producer", "cached_from", "cached from"})


def is_id_column(name: str) -> bool:
    """Columns of run or artifact ids, such as ``id``, ``run_id`` or ``consist_run_id``."""
    return name in ID_COLUMNS or name.endswith("_id")


def table_or_records(
    title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> Any:
    """A table when it fits the terminal, else one field per line for each row
    (narrowed columns of a wide result would fold every value, ids included)."""
    from consist.cli._fit import boxed_width, records

    names = [str(c) for c in columns]
    texts = [[cell_text(v) for v in row] for row in rows]
    if not rows or boxed_width(names, texts) <= console.width:
        return table(title, columns, rows)
    note = f"(one field per line: the table is wider than {console.width} columns)"
    return records(f"{title} {note}" if title else note, names, texts)


def cell_text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-3 else f"{value:,.2f}"
    if isinstance(value, dt.datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    amount = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if amount < 1024 or unit == "TB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{size} B"


def seconds_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"


def short(digest: str | None, width: int = 12) -> str:
    return "-" if not digest else digest[:width]


def get_run_or_fail(tracker: Tracker, run_id: str) -> Any:
    """The run whose id is, or uniquely starts with, ``run_id``.

    NotFound says how to list the runs there are; AmbiguousMatch lists the candidates.
    """
    from consist.cli._run_ids import resolve_run_id

    return tracker.get_run(resolve_run_id(tracker, run_id))


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    """A bad choice is a malformed command line: usage on stderr, exit code 2."""
    if value not in choices:
        raise typer.BadParameter(
            f"must be one of {', '.join(choices)}, not {value!r}", param_hint=f"'{name}'"
        )
    return value
