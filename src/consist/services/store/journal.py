"""The catalog journal: durable record of catalog writes not yet applied.

Each Tracker appends to a segment of its own,
``<run_dir>/.consist/journal/<pid>-<nonce>@<host>.jsonl``, one JSON line per
record it persists (the whole record, so a lost snapshot rename can be
repaired), fsynced for a finished run before the run is acknowledged. The
catalog writer appends an ``applied`` line after each batch reaches the
catalog, and empties the segment when nothing is outstanding. The owner holds
an exclusive ``flock`` on its segment for as long as it lives: a segment
whose lock can be taken belongs to a process that is gone, and the next
Tracker replays what it left unapplied (see ``services/store/catalog_recovery.py``
and ``docs/design/durability.md``).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
from pathlib import Path
from typing import Any

import attrs

from consist.domain import RunRecord

try:
    import fcntl
except ImportError:  # Windows: liveness from the pid alone
    fcntl = None  # type: ignore[assignment]

SUFFIX = ".jsonl"


def fsync_directory(path: Path) -> None:
    """Make the names in ``path`` (a rename, a new file) survive a power cut."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # Windows cannot open a directory; its renames are journaled by NTFS
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _datasync(fd: int) -> None:
    sync = getattr(os, "fdatasync", os.fsync)  # macOS and Windows have no fdatasync
    sync(fd)


@attrs.frozen
class Leftover:
    """What a segment holds: records not applied yet, and the last run known applied."""

    path: Path
    unapplied: tuple[RunRecord, ...]
    witness: str | None


class Journal:
    """This Tracker's own segment; appends are serialised by a lock."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        nonce = secrets.token_hex(4)
        self.path = directory / f"{os.getpid()}-{nonce}@{socket.gethostname()}{SUFFIX}"
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._seq = 0
        self._applied = 0
        self.last_applied: str | None = None  # a run id: the high-water mark to leave behind

    @property
    def outstanding(self) -> int:
        """Records appended but not applied to the catalog yet."""
        return self._seq - self._applied

    def append(self, record: RunRecord, durable: bool) -> int:
        """Add ``record``; returns its sequence number. ``durable`` fsyncs before returning."""
        body = json.dumps(record.to_dict(), separators=(",", ":"), default=str)
        with self._lock:
            fd = self._open()
            self._seq += 1
            os.write(fd, f'{{"seq":{self._seq},"record":{body}}}\n'.encode())
            if durable:
                _datasync(fd)
            return self._seq

    def sync(self) -> None:
        """Make every record appended so far durable (one fdatasync)."""
        with self._lock:
            if self._fd is not None:
                _datasync(self._fd)

    def applied(self, seq: int, run_id: str) -> None:
        """Everything up to ``seq`` is in the catalog (or parked in the outbox)."""
        with self._lock:
            if self._fd is None or seq <= self._applied:
                return
            self._applied = seq
            self.last_applied = run_id
            if seq == self._seq:
                # Nothing outstanding: start the segment afresh, keeping only the
                # witness, so a later reader has little to skip.
                os.ftruncate(self._fd, 0)
            os.write(self._fd, json.dumps({"applied": seq, "run": run_id}).encode() + b"\n")

    def close(self) -> None:
        """Release the segment; it is removed when nothing in it is outstanding."""
        with self._lock:
            fd, self._fd = self._fd, None
            if fd is None:
                return
            if self._seq == self._applied:
                self.path.unlink(missing_ok=True)
            os.close(fd)  # after the unlink: no other process adopts it in between

    def _open(self) -> int:
        if self._fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fsync_directory(self.directory)
            self._fd = fd
        return self._fd


def read_segment(path: Path) -> Leftover:
    """Parse a segment; a torn last line (a crash mid-write) is ignored."""
    try:
        data = path.read_bytes()
    except OSError:
        return Leftover(path, (), None)
    records: dict[int, RunRecord] = {}
    applied, witness = 0, None
    for raw in data.splitlines():
        try:
            entry: dict[str, Any] = json.loads(raw)
            if "applied" in entry:
                if int(entry["applied"]) >= applied:
                    applied, witness = int(entry["applied"]), str(entry["run"])
            else:
                records[int(entry["seq"])] = RunRecord.from_dict(entry["record"])
        except (ValueError, KeyError, TypeError):
            continue
    latest: dict[str, RunRecord] = {}
    for seq in sorted(records):
        if seq > applied:
            latest.pop(records[seq].run.id, None)
            latest[records[seq].run.id] = records[seq]
    return Leftover(path, tuple(latest.values()), witness)


class SegmentClaim:
    """An exclusive hold on another process's segment, if that process is gone."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        """True if the owner is gone and the segment is now ours to replay."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except OSError:
            return False
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            try:  # removed by another adopter between our open and our lock
                if os.fstat(fd).st_ino != os.stat(self.path).st_ino:
                    raise FileNotFoundError
            except OSError:
                os.close(fd)
                return False
        elif not _owner_gone(self.path):
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self, remove: bool) -> None:
        if remove:
            self.path.unlink(missing_ok=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def segments(directory: Path, own: Path | None = None) -> list[Path]:
    """Every segment in ``directory`` except ``own``, oldest name first."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob(f"*{SUFFIX}") if p != own)


def _owner_gone(path: Path) -> bool:
    """Without flock: a segment of this host whose pid no longer runs."""
    pid_text, _, rest = path.name.partition("-")
    host = rest.partition("@")[2].removesuffix(SUFFIX)
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
