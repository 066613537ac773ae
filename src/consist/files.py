"""Small file utilities every layer may use: atomic writes and SHA-256 of a file."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

_CHUNK = 1 << 20


def sha256_of_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def temp_file_beside(destination: Path) -> tuple[int, str]:
    """Create and open a new, empty ``.<name>.<random>`` file in ``destination``'s folder.

    Returns its descriptor (open for writing) and path. Unlike
    ``tempfile.mkstemp``, which always gives 0600, the file gets the
    permissions of any newly created file (0666 less the umask), and keeps
    them once it is renamed over ``destination``.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        name = destination.parent / f".{destination.name}.{os.urandom(6).hex()}"
        try:
            return os.open(name, flags, 0o666), str(name)
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file beside {destination}")


def write_atomically(destination: Path, chunks: Iterator[bytes], durable: bool = True) -> Path:
    """Write chunks to a temp file beside ``destination``, fsync, then rename over it.

    ``durable=False`` skips the fsync: readers still never see half a file, but a
    power cut may lose the newest version (fine for transient state). The file
    gets the usual permissions of a new file (0666 less the umask).
    """
    try:
        fd, temp_name = temp_file_beside(destination)
    except FileNotFoundError:  # first write into this folder
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = temp_file_beside(destination)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(temp_name, destination)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return destination
