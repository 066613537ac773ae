"""A card as a rich renderable: a panel with the fields, then the small tables."""

from __future__ import annotations

from typing import Any

from consist.domain.display import Card

BADGE_STYLES = {"completed": "green", "hit": "blue", "failed": "bold red", "running": "yellow"}


def render_card(card: Card) -> Any:
    """Every value goes in as ``Text``: markup in names or config is shown, never obeyed."""
    from rich import box
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="dim", no_wrap=True)
    fields.add_column(overflow="fold")
    for label, value in card.fields:
        fields.add_row(Text(label), Text(value))
    parts: list[Any] = [fields]
    for table in card.tables:
        if not table.rows:
            parts.append(Text(f"{table.heading}: none", style="bold"))
            continue
        shown = Table(
            title=Text(table.heading, style="bold"),
            title_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
        )
        # One line per row: the first column (an id or key) is never shortened, the
        # others end in "…" when the console is narrow.
        for i, column in enumerate(table.columns):
            shown.add_column(Text(column), no_wrap=True, overflow="ellipsis", min_width=i and 4)
        for row in table.rows:
            shown.add_row(*(Text(value) for value in row))
        parts.append(shown)
    title = Text.assemble((card.kind, "bold"), " ", card.title)
    if card.badge:
        title.append(f" {card.badge}", style=BADGE_STYLES.get(card.badge, "bold"))
    return Panel(Group(*parts), title=title, title_align="left", expand=False)
