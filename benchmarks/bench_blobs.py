"""FsspecBlobStore put/get against a raw fsspec copy of the same file to the same filesystem.

For a local directory and for S3 (moto's server on loopback), each repeat
times the store's operation and fs.put_file / fs.get_file back to back; the
figure is the median of their ratios (target <= 1.3: hashing, verification
and the atomic commit may cost at most 30% over a plain copy). A last pair
times a local put with the progress bar forced on against one without.

The store runs in its default, durable configuration (fsync before the
rename); the raw copy is a plain put_file / get_file, not flushed. For local
disks a second baseline, labelled ``raw_fsync``, adds that flush to the raw
copy. Before every timed operation the page cache's dirty pages are written
out (``os.sync``, untimed), so that the writeback one copy leaves behind is
not charged to whichever operation happens to run next.
"""

from __future__ import annotations

import functools
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._harness import report
from consist_fsspec import FsspecBlobStore
from consist_fsspec._streams import fsync_path

MiB = 1 << 20
RATIO_LIMIT = 1.3
PROGRESS_LIMIT = 1.05


def _make_file(path: Path, size: int) -> Path:
    block = os.urandom(8 * MiB)
    with open(path, "wb") as handle:
        left = size
        while left > 0:
            handle.write(block[:left])
            left -= len(block)
    return path


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _forget_all(store: FsspecBlobStore) -> None:
    for digest in list(store.digests()):
        store.delete(digest)


def _settle(reset: Callable[[], Any]) -> None:
    reset()
    os.sync()


def _compare(
    name: str,
    size: int,
    repeat: int,
    store_op: Callable[[], Any],
    raw_op: Callable[[], Any],
    reset: Callable[[], Any],
    raw_label: str = "raw_fsspec",
) -> None:
    store_times, raw_times, ratios = [], [], []
    for i in range(repeat + 1):  # the first pair warms caches and connections
        _settle(reset)
        raw = _timed(raw_op)
        _settle(reset)
        ours = _timed(store_op)
        if i:
            raw_times.append(raw)
            store_times.append(ours)
            ratios.append(ours / raw)
    mb = size / 1e6
    raw_speed = round(mb / statistics.median(raw_times))
    store_speed = round(mb / statistics.median(store_times))
    report(f"{name}.{raw_label}", raw_times, unit="s", mb_per_s=raw_speed)
    report(f"{name}.store", store_times, unit="s", mb_per_s=store_speed)
    limit = RATIO_LIMIT if raw_label == "raw_fsspec" else None
    report(f"{name}.ratio_vs_{raw_label}", ratios, unit="x", limit=limit, size_mib=size // MiB)


def _bench_backend(
    label: str, store: FsspecBlobStore, source: Path, scratch: Path, repeat: int
) -> None:
    fs = store._fs
    size = source.stat().st_size
    raw_key = f"{store._root}/raw-benchmark/{uuid.uuid4().hex}"
    fs.makedirs(fs._parent(raw_key), exist_ok=True)
    destination = scratch / "restored.bin"
    digests: list[str] = []

    def forget_copies() -> None:
        # Without this the next put would find the blob and skip the upload.
        # The raw copy goes to a new name too: overwriting a 1 GiB local file
        # first frees its blocks, which costs the raw side about half a second.
        _forget_all(store)
        if fs.exists(raw_key):
            fs.rm_file(raw_key)

    def put() -> None:
        digests[:] = [store.put(source)]

    def get() -> None:
        store.get(digests[0], destination)

    def clear_destination() -> None:
        destination.unlink(missing_ok=True)

    def raw_put() -> None:
        fs.put_file(str(source), raw_key)

    def raw_get() -> None:
        fs.get_file(raw_key, str(destination))

    def durable_raw_put() -> None:
        raw_put()
        fsync_path(raw_key)

    def durable_raw_get() -> None:
        raw_get()
        fsync_path(destination)

    _compare(f"blobs.{label}.put", size, repeat, put, raw_put, forget_copies)
    put()
    raw_put()
    _compare(f"blobs.{label}.get", size, repeat, get, raw_get, clear_destination)
    if store._local:
        # The local store fsyncs before renaming; these baselines show what
        # the same durability costs a plain copy.
        _compare(
            f"blobs.{label}.put", size, repeat, put, durable_raw_put, forget_copies, "raw_fsync"
        )
        put()
        raw_put()
        _compare(
            f"blobs.{label}.get", size, repeat, get, durable_raw_get, clear_destination, "raw_fsync"
        )
    forget_copies()
    clear_destination()


def _bench_progress(root: Path, source: Path, repeat: int) -> None:
    quiet = FsspecBlobStore(str(root / "quiet"), progress=False)
    loud = FsspecBlobStore(str(root / "loud"), progress=True)
    os.environ.setdefault("FORCE_COLOR", "1")  # render as on a terminal, even if piped
    ratios = []
    for i in range(repeat + 1):
        # Each store goes first in turn: the second of two back-to-back 1 GiB
        # durable writes is often slower on a VM disk, whichever it is.
        times = {}
        for store in (quiet, loud) if i % 2 else (loud, quiet):
            _settle(functools.partial(_forget_all, store))
            times[store] = _timed(functools.partial(store.put, source))
        if i:
            ratios.append(times[loud] / times[quiet])
    report("blobs.local.put.progress_overhead", ratios, unit="x", limit=PROGRESS_LIMIT)


def main(quick: bool) -> None:
    size = (64 if quick else 1024) * MiB
    repeat = 5
    with tempfile.TemporaryDirectory(prefix="consist-bench-blobs-") as tmp:
        root = Path(tmp)
        source = _make_file(root / "source.bin", size)
        local = FsspecBlobStore(f"file://{root}/store", progress=False)
        _bench_backend("local", local, source, root, repeat)
        _bench_progress(root, source, repeat)
        try:
            from tests.support.s3 import BUCKET, start_server, storage_options
        except ImportError as exc:
            print(f"# S3 benchmark skipped: tests.support.s3 not importable ({exc})")
            return
        endpoint, why = start_server()
        if endpoint is None:
            print(f"# S3 benchmark skipped: {why}")
            return
        s3 = FsspecBlobStore(
            f"s3://{BUCKET}/bench-{uuid.uuid4().hex}",
            # moto assembles a 1 GiB multipart upload slowly; botocore's 60 s
            # read timeout would retry CompleteMultipartUpload after it succeeded.
            storage_options={
                **storage_options(endpoint),
                "config_kwargs": {"read_timeout": 900},
            },
            progress=False,
        )
        _bench_backend("s3_moto", s3, source, root, repeat if quick else 2)


if __name__ == "__main__":
    import sys

    main(quick="--quick" in sys.argv)
