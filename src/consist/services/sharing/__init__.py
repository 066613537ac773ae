"""Sharing runs between machines: archive, publish and pull."""
