"""Mount tables: portable URIs, and no way out of a mount root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from consist.domain import MountTable
from consist.domain.errors import InvalidURI, PathEscapesMount

segment = st.text(
    alphabet=st.characters(blacklist_characters="/\\\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", ".."))


@given(st.lists(segment, min_size=1, max_size=5))
def test_path_uri_round_trip(parts: list[str]) -> None:
    """Any path under a mount comes back unchanged from its URI."""
    table = MountTable.of({"inputs": "/mnt/data"})
    path = Path("/mnt/data", *parts)
    uri = table.to_uri(path)
    assert uri.startswith("inputs://")
    assert table.to_path(uri) == path


@given(st.lists(segment | st.just(".."), min_size=1, max_size=6))
def test_traversal_is_always_refused(parts: list[str]) -> None:
    """A URI whose relative part climbs above the root is refused, never resolved."""
    depth = 0
    escapes = False
    for part in parts:
        depth += -1 if part == ".." else 1
        escapes = escapes or depth < 0
    assume(escapes)
    table = MountTable.of({"inputs": "/mnt/data"})
    with pytest.raises(PathEscapesMount):
        table.to_path("inputs://" + "/".join(parts))


def test_absolute_relative_part_is_refused() -> None:
    table = MountTable.of({"inputs": "/mnt/data"})
    with pytest.raises(PathEscapesMount):
        table.to_path("inputs:///etc/passwd")


def test_most_specific_mount_wins() -> None:
    table = MountTable.of({"data": "/mnt/data", "skims": "/mnt/data/skims"})
    assert table.to_uri("/mnt/data/skims/am.zarr") == "skims://am.zarr"
    assert table.to_uri("/mnt/data/other.csv") == "data://other.csv"
    assert table.to_uri("/mnt/database/x") == "file:///mnt/database/x"


def test_unmounted_paths_become_file_uris(tmp_path: Path) -> None:
    table = MountTable.of({})
    uri = table.to_uri(tmp_path / "a b.csv")
    assert uri.startswith("file://")
    assert table.to_path(uri) == tmp_path / "a b.csv"


def test_workspace_mount(tmp_path: Path) -> None:
    table = MountTable.of({}).with_workspace(tmp_path / "run1")
    assert table.to_uri(tmp_path / "run1" / "out.parquet") == "workspace://out.parquet"


def test_unknown_mount_names_the_known_ones() -> None:
    table = MountTable.of({"inputs": "/mnt/data"})
    with pytest.raises(InvalidURI, match="inputs"):
        table.to_path("outputs://x.csv")


def test_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    """A path under a root that really lives elsewhere is not silently mounted."""
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.csv").write_text("x")
    os.symlink(outside, root / "link")
    table = MountTable.of({"inputs": root})
    with pytest.raises(PathEscapesMount, match="symlink"):
        table.to_uri(root / "link" / "secret.csv")
    with pytest.raises(PathEscapesMount):
        table.to_path("inputs://link/secret.csv")


def test_symlink_inside_the_root_is_fine(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    os.symlink(root / "real", root / "alias")
    table = MountTable.of({"inputs": root})
    assert table.to_uri(root / "alias" / "f.csv") == "inputs://alias/f.csv"


@pytest.mark.parametrize("name", ["Inputs", "file", "1x", "with space", ""])
def test_bad_mount_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidURI):
        MountTable.of({name: "/x"})


def test_uri_without_scheme_is_invalid() -> None:
    with pytest.raises(InvalidURI):
        MountTable.of({}).to_path("just/a/path")
