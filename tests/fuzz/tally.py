"""Counting fuzzed calls: how many, how many raised our errors, how many raised others."""

from __future__ import annotations

import time
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs

from consist.domain.errors import ConsistError


@attrs.define
class Tally:
    calls: int = 0
    ours: int = 0
    raw: int = 0
    our_kinds: Counter[str] = attrs.field(factory=Counter)
    raw_seen: list[str] = attrs.field(factory=list)
    seconds: float = 0.0
    runs_rebuilt: int = 0

    def attempt(self, what: str, call: Callable[[], Any]) -> Any:
        """Run one public call; our errors are expected answers, anything else is a finding."""
        self.calls += 1
        started = time.perf_counter()
        try:
            return call()
        except ConsistError as exc:
            self.ours += 1
            self.our_kinds[type(exc).__name__] += 1
        except Exception as exc:
            self.raw += 1
            shown = "".join(traceback.format_exception(exc)[-3:])
            self.raw_seen.append(f"{what}: {type(exc).__name__}: {exc!r:.300}\n{shown}")
        finally:
            self.seconds += time.perf_counter() - started
        return None

    def summary(self, catalog: str) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in self.our_kinds.most_common(6))
        return (
            f"{catalog}: {self.calls} calls, {self.ours} our errors, {self.raw} raw exceptions,"
            f" {self.runs_rebuilt} runs rebuilt alike ({self.seconds:.0f} s inside the calls;"
            f" most common of ours: {kinds})"
        )


TALLIES: dict[str, Tally] = {}
