"""The ports: small Protocols the services talk to; adapters implement them."""

from consist.ports.blobs import (
    BlobStore,
    SupportsInPlaceReads,
    SupportsNamedObjects,
    SupportsNamedVersions,
)
from consist.ports.catalog import (
    Catalog,
    SupportsBulkRecord,
    SupportsChangeToken,
    SupportsEphemeral,
    SupportsFilePath,
    SupportsIntegrityCheck,
    SupportsRunExists,
    SupportsSignatureLookup,
    SupportsSQL,
    SupportsSQLDialect,
    SupportsTableStore,
    SupportsURL,
    SupportsVacuum,
)
from consist.ports.execute import CallTask, ContainerTask, Executor, TaskOutcome
from consist.ports.remote import RemoteFiles
from consist.ports.tables import SupportsFsspecFiles, SupportsSharedCatalog, TableStore

__all__ = [
    "BlobStore",
    "CallTask",
    "Catalog",
    "ContainerTask",
    "Executor",
    "RemoteFiles",
    "SupportsBulkRecord",
    "SupportsChangeToken",
    "SupportsEphemeral",
    "SupportsFilePath",
    "SupportsFsspecFiles",
    "SupportsInPlaceReads",
    "SupportsIntegrityCheck",
    "SupportsNamedObjects",
    "SupportsNamedVersions",
    "SupportsRunExists",
    "SupportsSQL",
    "SupportsSQLDialect",
    "SupportsSharedCatalog",
    "SupportsSignatureLookup",
    "SupportsTableStore",
    "SupportsURL",
    "SupportsVacuum",
    "TableStore",
    "TaskOutcome",
]
