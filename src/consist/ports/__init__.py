"""The ports: small Protocols the services talk to; adapters implement them."""

from consist.ports.blobs import BlobStore, SupportsNamedObjects
from consist.ports.catalog import (
    Catalog,
    SupportsIntegrityCheck,
    SupportsRunExists,
    SupportsSQL,
    SupportsTableStore,
    SupportsVacuum,
)
from consist.ports.execute import CallTask, ContainerTask, Executor, TaskOutcome
from consist.ports.tables import TableStore

__all__ = [
    "BlobStore",
    "CallTask",
    "Catalog",
    "ContainerTask",
    "Executor",
    "SupportsIntegrityCheck",
    "SupportsNamedObjects",
    "SupportsRunExists",
    "SupportsSQL",
    "SupportsTableStore",
    "SupportsVacuum",
    "TableStore",
    "TaskOutcome",
]
