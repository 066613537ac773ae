"""How a record looks in a notebook or terminal: a small card, as HTML or as a rich renderable.

A :class:`Card` is plain data (a title, labelled fields, a few small tables).
:func:`card_html` turns it into HTML with the standard library only, escaping
every value. For the terminal, the domain cannot import rich: a module outside
it registers the renderer with :func:`register_rich_renderer`; until one is
registered, :func:`rich_of` gives a plain-text stand-in rich prints as is.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs

HASH_CHARS = 12
CELL_CHARS = 200  # a config or path longer than this is cut in a card (the record keeps it all)


def short_hash(digest: str | None) -> str:
    """The first characters of a hash, after its kind when it has one (``bytecode:1f2e...``)."""
    if not digest:
        return "-"
    kind, colon, rest = digest.rpartition(":") if ":" in digest[:20] else ("", "", digest)
    return f"{kind}{colon}{rest[:HASH_CHARS]}"


def clip(text: str, limit: int = CELL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rows(rows: Sequence[Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(row) for row in rows)


def _texts(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(items)


@attrs.frozen
class CardTable:
    """A small table inside a card (inputs, outputs, steps...)."""

    heading: str
    columns: tuple[str, ...] = attrs.field(converter=_texts)
    rows: tuple[tuple[str, ...], ...] = attrs.field(converter=_rows)


def _fields(items: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(label), str(value)) for label, value in items)


def _tables(items: Sequence[CardTable]) -> tuple[CardTable, ...]:
    return tuple(items)


@attrs.frozen
class Card:
    """What a notebook cell shows for one object."""

    kind: str  # "Run", "Artifact", ...
    title: str  # the id or name
    badge: str | None = None  # status: completed, hit, failed, running
    fields: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_fields)
    tables: tuple[CardTable, ...] = attrs.field(default=(), converter=_tables)

    def lines(self) -> Iterator[str]:
        """The card as plain text lines."""
        badge = f" [{self.badge}]" if self.badge else ""
        yield f"{self.kind} {self.title}{badge}"
        width = max((len(label) for label, _ in self.fields), default=0)
        for label, value in self.fields:
            yield f"  {label.ljust(width)}  {value}"
        for table in self.tables:
            yield f"  {table.heading}:" if table.rows else f"  {table.heading}: none"
            for row in table.rows:
                yield "    " + "  ".join(row)


BADGE_COLOURS = {
    "completed": "#1a7f37",
    "hit": "#0969da",
    "failed": "#cf222e",
    "running": "#9a6700",
}
_CELL = "padding:1px 8px 1px 0;text-align:left;vertical-align:top"


def _esc(value: str) -> str:
    return html.escape(value, quote=True)


def _html_table(table: CardTable) -> str:
    if not table.rows:
        return f"<div style='margin-top:4px'><b>{_esc(table.heading)}</b>: none</div>"
    head = "".join(f"<th style='{_CELL}'>{_esc(c)}</th>" for c in table.columns)
    body = "".join(
        "<tr>" + "".join(f"<td style='{_CELL}'><code>{_esc(v)}</code></td>" for v in row) + "</tr>"
        for row in table.rows
    )
    return (
        f"<details open style='margin-top:4px'><summary><b>{_esc(table.heading)}</b> "
        f"({len(table.rows)})</summary><table style='border-collapse:collapse'>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></details>"
    )


def card_html(card: Card) -> str:
    """The card as a self-contained HTML fragment (inline styles, every value escaped)."""
    colour = BADGE_COLOURS.get(card.badge or "", "#57606a")
    badge = (
        f" <span style='color:#fff;background:{colour};border-radius:8px;padding:0 6px;"
        f"font-size:85%'>{_esc(card.badge)}</span>"
        if card.badge
        else ""
    )
    fields = "".join(
        f"<tr><th style='{_CELL};color:#57606a;font-weight:normal'>{_esc(label)}</th>"
        f"<td style='{_CELL}'>{_esc(value)}</td></tr>"
        for label, value in card.fields
    )
    tables = "".join(_html_table(t) for t in card.tables)
    return (
        "<div class='consist-card' style='font-family:system-ui,sans-serif;font-size:13px;"
        "line-height:1.4;border-left:3px solid #d0d7de;padding:4px 10px'>"
        f"<div><b>{_esc(card.kind)}</b> <code>{_esc(card.title)}</code>{badge}</div>"
        f"<table style='border-collapse:collapse'>{fields}</table>{tables}</div>"
    )


class PlainCard:
    """The card as plain lines, for rich when no renderer is registered.

    Each line goes through the console's own ``render_str`` with markup off, so
    a value such as ``[bold]`` is printed, not obeyed.
    """

    def __init__(self, card: Card) -> None:
        self.card = card

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        for line in self.card.lines():
            yield console.render_str(line, markup=False, highlight=False, emoji=False)


_rich_renderer: list[Callable[[Card], Any]] = []


def register_rich_renderer(render: Callable[[Card], Any]) -> None:
    """Called by the presentation layer (``consist.display``) with its Card -> renderable."""
    _rich_renderer[:] = [render]


def rich_of(card: Card) -> Any:
    """What ``__rich__`` returns: the registered renderable, else a plain-text stand-in."""
    return _rich_renderer[0](card) if _rich_renderer else PlainCard(card)


class Displayable:
    """Mixin: ``_repr_html_`` and ``__rich__`` from the class's ``_card()``."""

    __slots__ = ()

    def _card(self) -> Card:
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return card_html(self._card())

    def __rich__(self) -> Any:
        return rich_of(self._card())
