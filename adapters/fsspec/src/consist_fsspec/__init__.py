"""Blob storage on fsspec for Consist: local disk, S3, GCS, Azure or memory, by URL."""

from ._remote import FsspecRemoteFiles
from ._store import FsspecBlobStore

__all__ = ["FsspecBlobStore", "FsspecRemoteFiles"]
