"""Hashing: strategies, the persistent memo, directories, git code identity."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from consist.domain import UNKNOWN_CODE_VERSION
from consist.domain.errors import InvalidInput, MissingFile
from consist.services.identity import code_identity, hashing
from consist.services.identity.hashing import FileHasher, HashMemo


def test_full_hash_is_sha256_of_bytes(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 10_000_000)
    assert (
        FileHasher(HashMemo(None)).identity(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    )


def test_memo_skips_reading_an_unchanged_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second hasher on the same memo file answers with a stat, not a read."""
    path = tmp_path / "big.bin"
    path.write_bytes(b"a" * 1000)
    memo_file = tmp_path / "memo.sqlite"
    first = FileHasher(HashMemo(memo_file)).identity(path)
    reads = []
    real = hashing.sha256_file
    monkeypatch.setattr(hashing, "sha256_file", lambda p, progress=None: reads.append(p) or real(p))
    again = FileHasher(HashMemo(memo_file))
    assert again.identity(path) == first and reads == []
    path.write_bytes(b"b" * 1000)
    assert again.identity(path) != first and len(reads) == 1


def test_fast_strategy_uses_size_and_mtime(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    identity = FileHasher(HashMemo(None), "fast").identity(path)
    assert identity.startswith("fast:3:")


def test_unknown_strategy_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="hashing_strategy"):
        FileHasher(HashMemo(None), "quick")
    with pytest.raises(MissingFile, match="nope"):
        FileHasher(HashMemo(None)).identity(tmp_path / "nope")


def test_several_files_hash_in_parallel_in_order(tmp_path: Path) -> None:
    paths = []
    for i in range(6):
        paths.append(tmp_path / f"{i}")
        paths[-1].write_bytes(bytes([i]) * 1000)
    hasher = FileHasher(HashMemo(None))
    assert hasher.identities(paths) == [hasher.identity(p) for p in paths]


def test_git_identity_commit_dirty_and_unknown(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "model.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "c"], cwd=repo, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    code_identity.forget_git_identities()
    assert code_identity.git_identity(repo) == head
    (repo / "model.py").write_text("x = 2\n")
    code_identity.forget_git_identities()
    dirty = code_identity.git_identity(repo)
    assert dirty.startswith(f"{head}-dirty-") and len(dirty) == len(head) + 7 + 64
    outside = tmp_path / "plain"
    outside.mkdir()
    code_identity.forget_git_identities()
    assert code_identity.git_identity(outside) == UNKNOWN_CODE_VERSION


def test_user_code_identity_forms() -> None:
    assert code_identity.code_hash("v2.1", None, Path.cwd()) == "user:v2.1"
    assert code_identity.code_hash(lambda fn: "mine", None, Path.cwd()) == "mine"
    with pytest.raises(InvalidInput):
        code_identity.code_hash(lambda fn: "", None, Path.cwd())


@pytest.mark.parametrize("strategy", ["full", "fast"])
def test_a_folder_holding_a_file_name_that_is_not_utf8_has_an_identity(
    tmp_path: Path, strategy: str
) -> None:
    folder = tmp_path / "outputs"
    folder.mkdir()
    try:
        (folder / "caf\udce9.csv").write_text("a\n1\n")  # b"caf\xe9.csv" on disk
    except (UnicodeEncodeError, OSError):
        pytest.skip("this file system refuses names that are not UTF-8")
    hasher = FileHasher(HashMemo(None), strategy)

    first = hasher.identity(folder)
    (folder / "caf\udce9.csv").write_text("a\n2\n")

    assert first.startswith("dir:")
    assert hasher.identity(folder) != first or strategy == "fast"
