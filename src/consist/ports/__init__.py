"""The ports: small Protocols the services talk to; adapters implement them."""

from consist.ports.blobs import (
    BlobStore,
    SupportsInPlaceReads,
    SupportsNamedObjects,
    SupportsNamedVersions,
)
from consist.ports.catalog import (
    Catalog,
    SupportsChangeToken,
    SupportsIntegrityCheck,
    SupportsRunExists,
    SupportsSQL,
    SupportsTableStore,
    SupportsVacuum,
)
from consist.ports.execute import CallTask, ContainerTask, Executor, TaskOutcome
from consist.ports.remote import RemoteFiles
from consist.ports.tables import SupportsFsspecFiles, TableStore

__all__ = [
    "BlobStore",
    "CallTask",
    "Catalog",
    "ContainerTask",
    "Executor",
    "RemoteFiles",
    "SupportsChangeToken",
    "SupportsFsspecFiles",
    "SupportsInPlaceReads",
    "SupportsIntegrityCheck",
    "SupportsNamedObjects",
    "SupportsNamedVersions",
    "SupportsRunExists",
    "SupportsSQL",
    "SupportsTableStore",
    "SupportsVacuum",
    "TableStore",
    "TaskOutcome",
]
