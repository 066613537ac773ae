"""Tables that fit the terminal: ids stay whole on one line, other columns give way.

Rich shrinks every column of a too-wide table and folds its cells, which breaks
a run id in the middle. Here each row stays one line: id columns keep their full
width, the other columns are cut with an ellipsis, and when even that does not
fit, the least useful columns are left out (and named under the table).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
from rich import box
from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

GAP = 2  # columns are separated by two spaces (no vertical rules)
NARROWEST = 6  # a shortened column keeps at least this many cells (or its natural width)


@attrs.frozen
class Col:
    """One column: ``whole`` ones (ids) are never cut; ``drop`` ranks the rest (highest goes first).

    Other columns are left out before this one is cut below ``keep`` cells.
    """

    name: str
    whole: bool = False
    drop: int = 0  # 0: always shown
    keep: int = 12


def plain_width(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def _narrowest(col: Col, natural: int, floor: int | None = None) -> int:
    if col.whole:
        return natural
    return min(natural, max(NARROWEST if floor is None else floor, cell_len(col.name)))


def _needed(widths: Sequence[int]) -> int:
    return sum(widths) + GAP * max(len(widths) - 1, 0)


def _caps(naturals: list[int], floors: list[int], room: int) -> list[int]:
    """Largest common cap on the shrinkable columns so that they fit in ``room``."""
    if sum(naturals) <= room:
        return naturals
    cap = max(naturals)
    while (
        cap > 0 and sum(max(f, min(n, cap)) for n, f in zip(naturals, floors, strict=True)) > room
    ):
        cap -= 1
    return [max(f, min(n, cap)) for n, f in zip(naturals, floors, strict=True)]


def fitted_table(
    title: str | None,
    columns: Sequence[Col],
    rows: Sequence[Sequence[str]],
    width: int,
) -> RenderableType:
    """A table of ``rows`` (already text), one line per row, fitted into ``width``."""
    naturals = [
        max([cell_len(col.name), *(plain_width(row[i]) for row in rows)])
        for i, col in enumerate(columns)
    ]
    shown = list(range(len(columns)))
    hidden: list[int] = []
    droppable = sorted((c.drop, i) for i, c in enumerate(columns) if c.drop > 0)
    while (
        _needed([_narrowest(columns[i], naturals[i], columns[i].keep) for i in shown]) > width
        and droppable
    ):
        _, gone = droppable.pop()
        shown.remove(gone)
        hidden.append(gone)
    room = width - GAP * max(len(shown) - 1, 0)
    room -= sum(naturals[i] for i in shown if columns[i].whole)
    flexible = [i for i in shown if not columns[i].whole]
    caps = dict(
        zip(
            flexible,
            _caps(
                [naturals[i] for i in flexible],
                [_narrowest(columns[i], naturals[i]) for i in flexible],
                room,
            ),
            strict=True,
        )
    )
    out = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        collapse_padding=True,
        min_width=cell_len(title) if title else None,
    )
    for i in shown:
        col = columns[i]
        width_i = naturals[i] if col.whole else caps[i]
        out.add_column(col.name, no_wrap=True, overflow="ellipsis", width=width_i)
    for row in rows:
        out.add_row(*(Text(row[i]) for i in shown))
    if not hidden:
        return out
    names = ", ".join(columns[i].name for i in sorted(hidden))
    note = f"(hidden at this width: {names}; see --json)"
    return Group(out, Text(note, style="dim"))


def boxed_width(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """Width of a rich box table of these cells unshortened: 3 cells a column for
    the rule and padding, plus the closing rule."""
    naturals = [
        max([plain_width(name), *(plain_width(row[i]) for row in rows)])
        for i, name in enumerate(columns)
    ]
    return sum(naturals) + 3 * len(naturals) + 1


def records(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> RenderableType:
    """Each row as ``column  value`` lines under a rule: for a result too wide to be a table."""
    parts: list[RenderableType] = [Text(title, style="bold")]
    for n, row in enumerate(rows, 1):
        parts.append(Rule(f"row {n}", align="left", style="dim"))
        parts.append(key_values(list(zip(columns, row, strict=True))))
    return Group(*parts)


def key_values(facts: Sequence[tuple[str, Any]]) -> Table:
    """``label  value`` lines; values fold rather than run off the screen."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in facts:
        grid.add_row(escape(label), Text(value))
    return grid
