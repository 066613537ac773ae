"""Files of a chosen size with deterministic bytes, for blob store tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

MiB = 1 << 20


def write_file(path: Path, size: int, seed: bytes = b"consist") -> Path:
    block = hashlib.sha256(seed).digest() * (MiB // 32)
    with open(path, "wb") as handle:
        left = size
        while left > 0:
            handle.write(block[:left])
            left -= len(block)
    return path
