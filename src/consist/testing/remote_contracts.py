"""The RemoteFiles contract suite, shipped so adapters for artifacts at URLs can run it.

Subclass it and provide two fixtures: ``remote`` (the adapter) and
``base_url`` (a fresh, empty URL prefix it may write under)::

    class TestMyRemote(RemoteFilesContract):
        @pytest.fixture
        def remote(self):
            return MyRemoteFiles(storage_options={...})

        @pytest.fixture
        def base_url(self):
            return f"myfs://bucket/{uuid.uuid4().hex}"
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from consist.domain.errors import InvalidURI, RemoteObjectMissing
from consist.domain.remote import ObjectStat, manifest_identity

__all__ = ["RemoteFilesContract"]


def _file(tmp_path: Path, data: bytes, name: str = "f.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


class RemoteFilesContract:
    """What the core relies on from a ``RemoteFiles`` adapter."""

    def test_upload_then_stat_gives_size_and_a_version(
        self, remote: Any, base_url: str, tmp_path: Path
    ) -> None:
        url = f"{base_url}/a/zones.csv"
        stat = remote.upload(_file(tmp_path, b"zone,pop\n1,2\n"), url)
        assert isinstance(stat, ObjectStat)
        assert stat.url == url and stat.size == 13 and stat.version
        assert remote.stat(url) == stat

    def test_a_rewrite_changes_the_version(
        self, remote: Any, base_url: str, tmp_path: Path
    ) -> None:
        url = f"{base_url}/v.bin"
        first = remote.upload(_file(tmp_path, b"one"), url)
        second = remote.upload(_file(tmp_path, b"two!", "g.bin"), url)
        assert second.version != first.version and second.size == 4
        assert remote.stat(url) == second

    def test_download_writes_the_bytes_and_returns_their_sha256(
        self, remote: Any, base_url: str, tmp_path: Path
    ) -> None:
        data = bytes(range(256)) * 1000
        url = f"{base_url}/d.bin"
        uploaded = remote.upload(_file(tmp_path, data), url)
        destination = tmp_path / "out" / "d.bin"
        stat, digest = remote.download(url, destination)
        assert stat == uploaded
        assert digest == hashlib.sha256(data).hexdigest()
        assert destination.read_bytes() == data
        assert [p.name for p in destination.parent.iterdir()] == ["d.bin"]  # no temp left

    def test_a_missing_object_is_remote_object_missing_naming_the_url(
        self, remote: Any, base_url: str, tmp_path: Path
    ) -> None:
        url = f"{base_url}/nothing.csv"
        with pytest.raises(RemoteObjectMissing) as caught:
            remote.stat(url)
        assert caught.value.url == url and url in str(caught.value)
        destination = tmp_path / "x.csv"
        with pytest.raises(RemoteObjectMissing):
            remote.download(url, destination)
        assert not destination.exists() and list(tmp_path.iterdir()) == []

    def test_a_url_naming_no_object_is_invalid(self, remote: Any, base_url: str) -> None:
        with pytest.raises(InvalidURI):
            remote.stat(f"{base_url}/folder/")

    def test_filesystem_opens_the_url_in_place(
        self, remote: Any, base_url: str, tmp_path: Path
    ) -> None:
        url = f"{base_url}/p.txt"
        remote.upload(_file(tmp_path, b"in place"), url)
        filesystem, located = remote.filesystem(url)
        assert located.split("://", 1)[0] == url.split("://", 1)[0]
        with filesystem.open(located, "rb") as handle:
            assert handle.read() == b"in place"

    def test_a_folder_uploads_whole_and_downloads_whole(
        self, remote: Any, base_url: str, tmp_path: Path
    ) -> None:
        """A folder URL holds exactly the uploaded folder; it reads back as a folder
        whose ``dir:`` identity is that of its files."""
        source = tmp_path / "grid.zarr"
        (source / "flow" / "c").mkdir(parents=True)
        (source / "zarr.json").write_bytes(b"{}")
        (source / "flow" / "c" / "0").write_bytes(b"chunk-0")
        url = f"{base_url}/grid.zarr"
        stat = remote.upload(source, url)
        assert stat.is_folder and stat.size == 9 and stat.version
        fetched, identity = remote.download(url, tmp_path / "copy" / "grid.zarr")
        assert fetched == stat
        copy = tmp_path / "copy" / "grid.zarr"
        assert (copy / "flow" / "c" / "0").read_bytes() == b"chunk-0"
        assert identity == manifest_identity(
            [
                ("flow/c/0", hashlib.sha256(b"chunk-0").hexdigest()),
                ("zarr.json", hashlib.sha256(b"{}").hexdigest()),
            ]
        )
        (source / "flow" / "c" / "0").unlink()
        smaller = remote.upload(source, url)
        assert smaller.size == 2 and smaller.version != stat.version
        remote.download(url, copy)
        assert [p.name for p in copy.rglob("*") if p.is_file()] == ["zarr.json"]
