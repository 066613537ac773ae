"""Notebook and terminal displays of Consist's objects.

Importing this package registers the rich renderer of the domain's cards
(:mod:`consist.domain.display`); rich itself loads only when a card is shown.
"""

from __future__ import annotations

from consist.display.terminal import render_card
from consist.domain.display import register_rich_renderer

register_rich_renderer(render_card)

__all__ = ["render_card"]
