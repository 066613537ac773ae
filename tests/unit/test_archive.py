"""Directory artifacts: put_tree / get_tree / is_manifest over the in-memory blob store."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from consist.domain.errors import BlobNotFound, IntegrityError, InvalidInput, MissingFile
from consist.memory import InMemoryBlobStore
from consist.services.sharing.archive import get_tree, is_manifest, put_tree, read_manifest


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "a.csv": b"x,y\n1,2\n",
        "nested/deeper/b.bin": bytes(range(256)) * 100,
        "nested/c.txt": b"",
        "z with space.json": b'{"k": 1}',
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def contents(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def store() -> InMemoryBlobStore:
    return InMemoryBlobStore()


def test_tree_round_trips_every_file(store: InMemoryBlobStore, tmp_path: Path) -> None:
    """Every file comes back under the same relative path with the same bytes."""
    files = make_tree(tmp_path / "src")
    digest = put_tree(store, tmp_path / "src")
    restored = get_tree(store, digest, tmp_path / "out" / "tree")
    assert restored == tmp_path / "out" / "tree"
    assert contents(restored) == files


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_restored_tree_gets_default_permissions(store: InMemoryBlobStore, tmp_path: Path) -> None:
    """Folders and files of a restored tree are as readable as new ones (the umask applies),
    not 0700 / 0600 from a private temporary folder."""
    make_tree(tmp_path / "src")
    digest = put_tree(store, tmp_path / "src")
    previous = os.umask(0o022)
    try:
        restored = get_tree(store, digest, tmp_path / "out" / "tree")
    finally:
        os.umask(previous)
    for path in [restored, *restored.rglob("*")]:
        expected = 0o755 if path.is_dir() else 0o644
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_manifest_lists_sorted_posix_paths_with_digest_and_size(
    store: InMemoryBlobStore, tmp_path: Path
) -> None:
    files = make_tree(tmp_path / "src")
    digest = put_tree(store, tmp_path / "src")
    with store.open(digest) as handle:
        document = json.loads(handle.read())
    assert list(document["files"]) == sorted(files)
    assert document["files"]["nested/deeper/b.bin"] == {
        "digest": hashlib.sha256(files["nested/deeper/b.bin"]).hexdigest(),
        "size": len(files["nested/deeper/b.bin"]),
    }
    assert read_manifest(store, digest)["a.csv"].size == len(files["a.csv"])
    for entry in document["files"].values():
        assert store.exists(entry["digest"])


def test_equal_trees_have_equal_digests(store: InMemoryBlobStore, tmp_path: Path) -> None:
    """The manifest digest names the content, not where or when it was stored."""
    make_tree(tmp_path / "one")
    make_tree(tmp_path / "two")
    assert put_tree(store, tmp_path / "one") == put_tree(store, tmp_path / "two")
    (tmp_path / "two" / "a.csv").write_bytes(b"changed")
    assert put_tree(store, tmp_path / "one") != put_tree(store, tmp_path / "two")


def test_is_manifest_tells_trees_from_files(store: InMemoryBlobStore, tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    tree = put_tree(store, tmp_path / "src")
    plain = store.put(tmp_path / "src" / "a.csv")
    (tmp_path / "lookalike.json").write_bytes(b'{"consist_manifest": "no"}')
    lookalike = store.put(tmp_path / "lookalike.json")
    (tmp_path / "prefix.json").write_bytes(b'{"consist_manifest":1,"files":[1]}')
    prefix_only = store.put(tmp_path / "prefix.json")
    assert is_manifest(store, tree)
    assert not is_manifest(store, plain)
    assert not is_manifest(store, lookalike)
    assert not is_manifest(store, prefix_only)


def test_get_tree_of_a_plain_blob_is_invalid_input(
    store: InMemoryBlobStore, tmp_path: Path
) -> None:
    (tmp_path / "f").write_bytes(b"not json")
    with pytest.raises(InvalidInput):
        get_tree(store, store.put(tmp_path / "f"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_corrupted_file_leaves_destination_untouched(
    store: InMemoryBlobStore, tmp_path: Path
) -> None:
    """A bad file aborts the restore: the old tree stays, no staging directory is left."""
    make_tree(tmp_path / "src")
    digest = put_tree(store, tmp_path / "src")
    victim = read_manifest(store, digest)["nested/deeper/b.bin"].digest
    store.corrupt_for_testing(victim, b"tampered")
    old = tmp_path / "out"
    old.mkdir()
    (old / "keep.txt").write_bytes(b"old")
    with pytest.raises(IntegrityError):
        get_tree(store, digest, old)
    assert contents(old) == {"keep.txt": b"old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_missing_file_blob_is_blob_not_found(store: InMemoryBlobStore, tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    digest = put_tree(store, tmp_path / "src")
    store.delete(read_manifest(store, digest)["a.csv"].digest)
    with pytest.raises(BlobNotFound):
        get_tree(store, digest, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_existing_destination_is_replaced(store: InMemoryBlobStore, tmp_path: Path) -> None:
    """Stale files in the destination do not survive a restore."""
    files = make_tree(tmp_path / "src")
    digest = put_tree(store, tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_bytes(b"stale")
    get_tree(store, digest, out)
    assert contents(out) == files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_manifest_escaping_the_tree_is_refused(store: InMemoryBlobStore, tmp_path: Path) -> None:
    """A manifest is untrusted input: '../' paths are never written."""
    (tmp_path / "f").write_bytes(b"payload")
    blob = store.put(tmp_path / "f")
    for rel in ["../escape.txt", "/abs.txt", "a/../../b", "a//b"]:
        evil = {"consist_manifest": 1, "files": {rel: {"digest": blob, "size": 7}}}
        (tmp_path / "m.json").write_text(json.dumps(evil))
        digest = store.put(tmp_path / "m.json")
        with pytest.raises(InvalidInput, match="relative path"):
            get_tree(store, digest, tmp_path / "out" / "tree")
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "out" / "tree").exists()


def test_size_mismatch_in_manifest_is_an_integrity_error(
    store: InMemoryBlobStore, tmp_path: Path
) -> None:
    (tmp_path / "f").write_bytes(b"payload")
    blob = store.put(tmp_path / "f")
    doc = {"consist_manifest": 1, "files": {"f": {"digest": blob, "size": 99}}}
    (tmp_path / "m.json").write_text(json.dumps(doc))
    with pytest.raises(IntegrityError, match="99 bytes"):
        get_tree(store, store.put(tmp_path / "m.json"), tmp_path / "out")


def test_put_tree_of_missing_or_file_path_is_clear(
    store: InMemoryBlobStore, tmp_path: Path
) -> None:
    with pytest.raises(MissingFile, match="nope"):
        put_tree(store, tmp_path / "nope")
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(InvalidInput, match="is a file"):
        put_tree(store, tmp_path / "file")


def test_empty_directory_round_trips(store: InMemoryBlobStore, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    restored = get_tree(store, put_tree(store, tmp_path / "empty"), tmp_path / "out")
    assert restored.is_dir() and list(restored.iterdir()) == []
