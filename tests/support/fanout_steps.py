"""Step functions for the fan-out tests, importable by pool and Dask worker processes."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def square(config: dict[str, Any], output_paths: dict[str, Path]) -> None:
    """Write x squared to the ``out`` output; count the call in ``calls_dir`` if given."""
    x = config["x"]
    if config.get("calls_dir"):
        Path(config["calls_dir"], f"{x}-{os.getpid()}-{os.urandom(4).hex()}").touch()
    Path(output_paths["out"]).write_text(str(x * x))


def fails_on(config: dict[str, Any], output_paths: dict[str, Path]) -> None:
    """Like ``square``, but raises for ``x == config["bad"]``."""
    if config["x"] == config["bad"]:
        raise ValueError(f"item {config['x']} is bad")
    Path(output_paths["out"]).write_text(str(config["x"]))


def dies_once(config: dict[str, Any], output_paths: dict[str, Path]) -> None:
    """Kill its own process the first time it runs for the item marked in config."""
    marker = Path(config["marker"])
    if config["x"] == config["victim"] and not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)  # the worker process dies mid-task
    Path(output_paths["out"]).write_text(str(config["x"]))


def grow(population: Path, config: dict[str, Any], output_paths: dict[str, Path]) -> None:
    """One year of a chain: next year's population from this year's."""
    people = int(population.read_text()) * (100 + config["rate"]) // 100
    Path(output_paths["population"]).write_text(str(people))


def interrupted(config: dict[str, Any], output_paths: dict[str, Path]) -> None:
    """Stands for Ctrl-C arriving while an item runs in the calling process."""
    raise KeyboardInterrupt


def slow_unless_bad(config: dict[str, Any], output_paths: dict[str, Path]) -> None:
    """Fails at once for the bad item; every other item takes ``config["sleep"]`` seconds."""
    if config["x"] == config["bad"]:
        raise ValueError(f"item {config['x']} is bad")
    time.sleep(config["sleep"])
    Path(output_paths["out"]).write_text(str(config["x"]))
