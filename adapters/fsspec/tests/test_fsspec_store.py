"""FsspecBlobStore beyond the shared contract: streaming, failures, durability, wiring."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import io
import os
import stat
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.implementations.local import LocalFileSystem
from tests.support.sized_files import MiB, write_file

from consist import plugins
from consist.container import build_blobs
from consist.domain.errors import (
    AdapterNotFound,
    BlobStoreError,
    IntegrityError,
    InvalidURI,
)
from consist_fsspec import FsspecBlobStore, _streams
from consist_fsspec._progress import Progress, wants_progress

# -- streaming -------------------------------------------------------------------


@pytest.mark.slow
def test_large_file_streams_in_bounded_memory(tmp_path: Path) -> None:
    """A 200 MB put and get never hold more than a few chunks in memory."""
    store = FsspecBlobStore(str(tmp_path / "store"))
    source = write_file(tmp_path / "big.bin", 200 * 1000 * 1000)
    tracemalloc.start()
    try:
        digest = store.put(source)
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        restored = store.get(digest, tmp_path / "restored.bin")
        _, get_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with store.open(digest) as handle:
            while handle.read(4 * MiB):
                pass
        _, open_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert max(put_peak, get_peak, open_peak) < 40 * MiB, (put_peak, get_peak, open_peak)
    assert restored.stat().st_size == source.stat().st_size
    with open(source, "rb") as handle:
        expected = hashlib.file_digest(handle, "sha256").hexdigest()
    assert digest == expected


def test_failed_local_put_leaves_nothing_behind(tmp_path: Path, monkeypatch: Any) -> None:
    """A copy that dies half-way leaves no blob and no temp file in the store."""
    import consist_fsspec._store as store_module

    store = FsspecBlobStore(str(tmp_path / "store"))

    def dies_half_way(source: Path, target: Path, advance: Any, **options: Any) -> Any:
        target.write_bytes(source.read_bytes()[:1000])
        raise OSError("disk full")

    monkeypatch.setattr(store_module, "copy_and_hash", dies_half_way)
    with pytest.raises(BlobStoreError, match="disk full"):
        store.put(write_file(tmp_path / "f", 20 * MiB))
    assert list(store.digests()) == []
    assert [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == []


def test_failed_streamed_put_leaves_nothing_behind(tmp_path: Path, monkeypatch: Any) -> None:
    """The same on a filesystem written through fsspec's open() (here memory://)."""
    import consist_fsspec._store as store_module

    store = FsspecBlobStore("memory://consist-failed-put")

    def dies_half_way(source: Any, write: Any, advance: Any) -> Any:
        write(source.read(1000))
        raise OSError("disk full")

    monkeypatch.setattr(store_module, "copy_hashing", dies_half_way)
    with pytest.raises(BlobStoreError, match="disk full"):
        store.put(write_file(tmp_path / "f", 20 * MiB))
    assert list(store.digests()) == []
    assert store._fs.find("/consist-failed-put") == []


def test_local_file_changing_during_put_keeps_nothing(tmp_path: Path, monkeypatch: Any) -> None:
    import consist_fsspec._store as store_module

    store = FsspecBlobStore(str(tmp_path / "store"))
    path = write_file(tmp_path / "f", MiB)
    real = store_module.copy_and_hash

    def copy_while_someone_appends(source: Path, target: Path, advance: Any, **options: Any) -> Any:
        result = real(source, target, advance, **options)
        with open(source, "ab") as handle:
            handle.write(b"late")
        return result

    monkeypatch.setattr(store_module, "copy_and_hash", copy_while_someone_appends)
    with pytest.raises(IntegrityError, match="changed while"):
        store.put(path)
    assert [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == []


def test_opening_a_store_removes_stale_temp_files_but_not_fresh_ones(tmp_path: Path) -> None:
    """Leftovers of writes interrupted an hour ago or more go; a younger temp file may be
    another process's put in progress, and is kept."""
    temp = tmp_path / "store" / "tmp"
    temp.mkdir(parents=True)
    stale, fresh, recent = temp / "stale", temp / "fresh", temp / "recent"
    for path in (stale, fresh, recent):
        path.write_bytes(b"half a blob")
    two_hours_ago = time.time() - 2 * 3600
    os.utime(stale, (two_hours_ago, two_hours_ago))
    os.utime(recent, (time.time() - 1800,) * 2)
    store = FsspecBlobStore(str(tmp_path / "store"))
    assert sorted(p.name for p in temp.iterdir()) == ["fresh", "recent"]
    # The store still works, and an explicit call takes an age.
    digest = store.put(write_file(tmp_path / "f", 1000))
    assert store.exists(digest)
    assert sorted(Path(key).name for key in store.remove_stale_temps(older_than=600)) == ["recent"]
    assert [p.name for p in temp.iterdir()] == ["fresh"]


def test_stale_temp_files_are_removed_on_other_staged_filesystems(tmp_path: Path) -> None:
    """fsspec's memory filesystem reports a creation time instead of an mtime."""
    fs = fsspec.filesystem("memory")
    root = f"/consist-tmp-{tmp_path.name}"
    fs.pipe_file(f"{root}/tmp/stale", b"x")
    fs.pipe_file(f"{root}/tmp/fresh", b"x")
    fs.store[f"{root}/tmp/stale"].created = dt.datetime.now(tz=dt.UTC) - dt.timedelta(hours=3)
    try:
        FsspecBlobStore(f"memory://{root}")
        assert fs.ls(f"{root}/tmp", detail=False) == [f"{root}/tmp/fresh"]
    finally:
        fs.rm(root, recursive=True)


def test_cleaning_never_removes_tmp_itself(tmp_path: Path) -> None:
    """A file where the tmp folder should be is not a leftover (listing it lists itself)."""
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "tmp").write_text("a file where a folder should be")
    store = FsspecBlobStore(str(tmp_path / "store"))
    assert store.remove_stale_temps(older_than=0) == []
    assert (tmp_path / "store" / "tmp").is_file()


def test_a_store_whose_tmp_cannot_be_listed_still_opens(tmp_path: Path, monkeypatch: Any) -> None:
    def refuse(self: Any, path: str, detail: bool = True, **kwargs: Any) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied", path)

    monkeypatch.setattr(LocalFileSystem, "ls", refuse)
    store = FsspecBlobStore(str(tmp_path / "store"))  # no error: tidying is best effort
    with pytest.raises(BlobStoreError, match=r"list tmp failed.*Permission denied"):
        store.remove_stale_temps()


def test_successful_put_leaves_no_temp_file(tmp_path: Path) -> None:
    store = FsspecBlobStore(f"file://{tmp_path}/store")
    digest = store.put(write_file(tmp_path / "f", 9 * MiB))
    files = [p.relative_to(tmp_path / "store").as_posix() for p in tmp_path.rglob("store/**/*")]
    assert [f for f in files if (tmp_path / "store" / f).is_file()] == [
        f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"
    ]


def test_local_put_and_get_flush_before_they_rename(tmp_path: Path, monkeypatch: Any) -> None:
    """By default the temp file is fsync-ed before the rename makes it visible."""
    store = FsspecBlobStore(str(tmp_path / "store"))
    source = write_file(tmp_path / "f", 3 * MiB)
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync-dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync")
        real_fsync(fd)

    def replace(old: Any, new: Any) -> None:
        events.append("rename")
        real_replace(old, new)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    digest = store.put(source)
    store.get(digest, tmp_path / "out" / "f")
    files_and_renames = [e for e in events if e != "fsync-dir"]
    assert files_and_renames == ["fsync", "rename", "fsync", "rename"]
    assert (tmp_path / "out" / "f").read_bytes() == source.read_bytes()


class SyncedDirectories:
    """Records which directories os.fsync flushed (by device and inode)."""

    def __init__(self, monkeypatch: Any) -> None:
        self.synced: list[tuple[int, int]] = []
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                self.synced.append((info.st_dev, info.st_ino))
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)

    @staticmethod
    def identity(path: Path) -> tuple[int, int]:
        info = path.stat()
        return info.st_dev, info.st_ino

    def __contains__(self, path: Path) -> bool:
        return self.identity(path) in self.synced


@pytest.mark.skipif(sys.platform == "win32", reason="directories cannot be opened on Windows")
def test_local_renames_are_made_durable_by_flushing_the_directory(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """After each rename the directory holding the new name is flushed, and so is the
    parent of every directory created for it (the fan-out folders of a first blob)."""
    store = FsspecBlobStore(str(tmp_path / "store"))
    source = write_file(tmp_path / "f", 3 * MiB)
    dirs = SyncedDirectories(monkeypatch)
    digest = store.put(source)
    blob_dir = tmp_path / "store" / "sha256" / digest[:2] / digest[2:4]
    for folder in (blob_dir, blob_dir.parent, blob_dir.parent.parent):
        assert folder in dirs, folder
    store.get(digest, tmp_path / "out" / "deeper" / "f")
    assert tmp_path / "out" / "deeper" in dirs and tmp_path / "out" in dirs
    store.write_named("snapshots/run-1.json", b"{}")
    assert tmp_path / "store" / "named" / "snapshots" in dirs
    dirs.synced.clear()
    store.get(digest, tmp_path / "out" / "deeper" / "again")  # nothing new created
    assert dirs.synced == [dirs.identity(tmp_path / "out" / "deeper")]


def test_durable_false_flushes_no_directory(tmp_path: Path, monkeypatch: Any) -> None:
    store = FsspecBlobStore(str(tmp_path / "store"), durable=False)
    dirs = SyncedDirectories(monkeypatch)
    digest = store.put(write_file(tmp_path / "f", MiB))
    store.get(digest, tmp_path / "out" / "f")
    store.write_named("snapshots/run-1.json", b"{}")
    assert dirs.synced == []


def test_a_directory_that_cannot_be_flushed_is_not_an_error(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Some filesystems refuse fsync on a directory (EINVAL); the blob is stored all the same."""
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "Invalid argument")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    store = FsspecBlobStore(str(tmp_path / "store"))
    source = write_file(tmp_path / "f", MiB)
    digest = store.put(source)
    assert store.get(digest, tmp_path / "out").read_bytes() == source.read_bytes()


def test_durable_false_skips_the_flush_but_not_the_checks(tmp_path: Path, monkeypatch: Any) -> None:
    """The opt-out for scratch disks drops fsync only: a corrupted blob is still refused."""
    store = FsspecBlobStore(str(tmp_path / "store"), durable=False)
    source = write_file(tmp_path / "f", 3 * MiB)
    flushes: list[int] = []
    monkeypatch.setattr(os, "fsync", flushes.append)
    digest = store.put(source)
    assert store.get(digest, tmp_path / "out").read_bytes() == source.read_bytes()
    store.write_named("snapshots/a.json", b"{}")
    assert flushes == []
    blob = tmp_path / "store" / "sha256" / digest[:2] / digest[2:4] / digest
    data = bytearray(blob.read_bytes())
    data[MiB] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        store.get(digest, tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


@pytest.mark.parametrize(
    "failure", [errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL], ids=errno.errorcode.get
)
def test_local_copy_falls_back_when_the_kernel_copy_is_refused(
    tmp_path: Path, monkeypatch: Any, failure: int
) -> None:
    """copy_file_range and sendfile refused (other filesystem, FUSE, old kernel): read/write."""
    calls: list[int] = []

    def refused(source: int, target: int, offset: int, count: int) -> int:
        calls.append(offset)
        raise OSError(failure, os.strerror(failure))

    monkeypatch.setattr(_streams, "_KERNEL_STEPS", [refused, refused])
    monkeypatch.setattr(_streams, "COPY_CHUNK", MiB)
    source = write_file(tmp_path / "f", 5 * MiB + 7)
    digest, size = _streams.copy_and_hash(source, tmp_path / "copy", lambda n: None)
    assert (tmp_path / "copy").read_bytes() == source.read_bytes()
    assert (digest, size) == (hashlib.sha256(source.read_bytes()).hexdigest(), 5 * MiB + 7)
    assert calls == [0, 0]


def test_local_copy_takes_over_where_the_kernel_copy_stopped(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A kernel step that fails, or reports EOF early, part-way leaves no gap in the copy."""
    real = _streams._copy_file_range if _streams._KERNEL_STEPS else _streams._read_write

    def stops_after_two_chunks(source: int, target: int, offset: int, count: int) -> int:
        if offset >= 2 * MiB:
            raise OSError(errno.EXDEV, "cross-device")
        return real(source, target, offset, count)

    def ends_early(source: int, target: int, offset: int, count: int) -> int:
        return 0 if offset >= 3 * MiB else real(source, target, offset, count)

    monkeypatch.setattr(_streams, "_KERNEL_STEPS", [stops_after_two_chunks, ends_early])
    monkeypatch.setattr(_streams, "COPY_CHUNK", MiB)
    source = write_file(tmp_path / "f", 6 * MiB + 1)
    _streams.copy_and_hash(source, tmp_path / "copy", lambda n: None)
    assert (tmp_path / "copy").read_bytes() == source.read_bytes()


def test_disk_full_during_a_local_copy_is_not_retried(tmp_path: Path, monkeypatch: Any) -> None:
    """ENOSPC is the real answer, not a reason to try a slower copy."""

    def full(source: int, target: int, offset: int, count: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_streams, "_KERNEL_STEPS", [full])
    monkeypatch.setattr(_streams, "_read_write", full)
    store = FsspecBlobStore(str(tmp_path / "store"))
    with pytest.raises(BlobStoreError, match="No space left"):
        store.put(write_file(tmp_path / "f", 20 * MiB))
    assert [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("size", [0, 1, 4 * MiB - 1, 4 * MiB, 9 * MiB + 3])
def test_hash_file_matches_hashlib_and_reports_every_byte(tmp_path: Path, size: int) -> None:
    path = tmp_path / "f"
    path.write_bytes(os.urandom(size))
    for flush in (False, True):
        advanced: list[int] = []
        digest, hashed = _streams.hash_file(path, advanced.append, flush=flush)
        assert (digest, hashed) == (hashlib.sha256(path.read_bytes()).hexdigest(), size)
        assert sum(advanced) == size


def test_read_error_while_hashing_ahead_is_raised_not_hung(tmp_path: Path) -> None:
    """The reading worker's failure reaches the caller; nothing waits forever."""
    from concurrent.futures import ThreadPoolExecutor

    class Failing(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def readinto(self, buffer: Any) -> int:
            self.calls += 1
            if self.calls > 3:
                raise OSError(errno.EIO, "Input/output error")
            buffer[:] = b"x" * len(buffer)
            return len(buffer)

    with ThreadPoolExecutor(2) as pool, pytest.raises(OSError, match="Input/output"):
        _streams._hash_read_ahead(Failing(), lambda n: None, pool)


def test_open_verifies_only_an_unbroken_read(tmp_path: Path) -> None:
    """After a seek the handle still serves bytes but can no longer vouch for them."""
    store = FsspecBlobStore(str(tmp_path / "store"))
    digest = store.put(write_file(tmp_path / "f", 1000))
    with store.open(digest) as handle:
        handle.read()
        assert handle.verified  # type: ignore[attr-defined]
    with store.open(digest) as handle:
        handle.seek(10)
        assert len(handle.read()) == 990
        assert not handle.verified  # type: ignore[attr-defined]
    with store.open(digest) as handle:
        assert io.BufferedReader(handle).read() == (tmp_path / "f").read_bytes()  # type: ignore[arg-type]


# -- wiring, URLs, progress --------------------------------------------------------


def test_entry_points_and_wiring_build_the_store(tmp_path: Path) -> None:
    assert plugins.load(plugins.BLOBS, "s3") is FsspecBlobStore
    assert plugins.load(plugins.BLOBS, "gcs") is FsspecBlobStore  # fsspec fallback
    built = build_blobs(f"file://{tmp_path}/s", {})
    assert isinstance(built, FsspecBlobStore)
    assert isinstance(build_blobs("memory://bucket/x", {}), FsspecBlobStore)


def test_unknown_scheme_is_invalid_uri() -> None:
    with pytest.raises(InvalidURI, match="nosuchscheme"):
        FsspecBlobStore("nosuchscheme://bucket/x")


def test_scheme_without_its_package_says_what_to_install() -> None:
    try:
        import gcsfs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("gcsfs is installed here, so gcs:// opens")
    with pytest.raises(AdapterNotFound, match=r"consist-fsspec\[gcs\]"):
        FsspecBlobStore("gcs://bucket/x")


def test_progress_bar_follows_fsspec_callbacks() -> None:
    """The fsspec callback drives the rich task: size from set_size, bytes from updates."""
    with Progress(enabled=True, threshold=100) as progress:
        callback = progress.callback("uploading x")
        callback.set_size(1000)
        callback.relative_update(400)
        callback.absolute_update(1000)
        (task,) = progress._bars.tasks
        assert (task.description, task.total, task.completed) == ("uploading x", 1000, 1000)
    with Progress(enabled=True, threshold=100) as small:
        small.start("tiny", 99)
        small.advance(99)
        assert small._bars is None


def test_progress_defaults_to_whether_stderr_is_a_terminal(monkeypatch: Any) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert wants_progress(None) is False
    assert wants_progress(True) is True
    monkeypatch.setattr("sys.stderr", os.fdopen(os.dup(2), "w"))
    assert wants_progress(None) is os.isatty(2)
