"""Scenarios: a sequence of steps sharing a coupler, and facet queries over them."""
