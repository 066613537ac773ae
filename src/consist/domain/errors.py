"""Every exception Consist raises on purpose.

Each class also derives from the builtin a caller would naturally catch, so
``except KeyError`` still works around a missing coupler key and
``except FileNotFoundError`` around a missing input file::

    ConsistError
    ├── NotFound (LookupError)
    │   ├── RunNotFound
    │   ├── ArtifactNotFound
    │   ├── AdapterNotFound
    │   ├── BlobNotFound
    │   ├── AmbiguousMatch
    │   └── UnknownCouplerKey (KeyError)
    ├── InvalidInput (ValueError)
    │   ├── ConfigNotSerializable (TypeError as well)
    │   ├── InvalidCacheMode
    │   ├── InvalidURI
    │   │   └── PathEscapesMount
    │   ├── DuplicateRun
    │   ├── HashConflict
    │   ├── UnsafeIdentifier
    │   │   └── ReservedName
    │   ├── WriteNotAllowed
    │   ├── NestingTooDeep
    │   ├── SchemaValidationError
    │   │   └── SchemaColumnError
    │   └── UntrustedSnapshot
    ├── MissingFile (FileNotFoundError)
    │   ├── MissingInputFile
    │   ├── MissingOutputFile
    │   └── RemoteObjectMissing
    ├── IntegrityError
    ├── BlobStoreError
    ├── RemoteStoreError (OSError)
    ├── NoActiveTracker (RuntimeError)
    ├── RunFailed (RuntimeError)
    ├── ExecutionError (RuntimeError)
    │   ├── ImageNotFound (LookupError)
    │   └── ContainerFailed
    └── CatalogError
        ├── CatalogLocked
        ├── CatalogCorrupt
        └── CatalogUnavailable

The messages say what to do next, not only what went wrong.
"""

from __future__ import annotations


class ConsistError(Exception):
    """Root of everything Consist raises on purpose."""


class NotFound(ConsistError, LookupError):
    """Something asked for by id or name does not exist."""


class RunNotFound(NotFound):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run with id {run_id!r} in the catalog")
        self.run_id = run_id


class ArtifactNotFound(NotFound):
    def __init__(self, artifact_ref: str) -> None:
        super().__init__(f"no artifact {artifact_ref!r} in the catalog")
        self.artifact_ref = artifact_ref


class AdapterNotFound(NotFound):
    """No installed package provides the adapter a URL or name asks for."""


class BlobNotFound(NotFound):
    def __init__(self, digest: str, where: str = "the blob store") -> None:
        super().__init__(f"no blob with digest {digest} in {where}")
        self.digest = digest


class AmbiguousMatch(NotFound):
    """A lookup that must find exactly one thing found several."""


class UnknownCouplerKey(NotFound, KeyError):
    def __init__(self, key: str, known: list[str]) -> None:
        listing = ", ".join(sorted(known)) if known else "(none yet)"
        super().__init__(f"coupler has no key {key!r}; keys set so far: {listing}")
        self.key = key
        self.known = sorted(known)

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class InvalidInput(ConsistError, ValueError):
    """An argument or a value a user gave cannot be used as it is."""


class ConfigNotSerializable(InvalidInput, TypeError):
    """A config value has no canonical JSON form; the message names its key path."""

    def __init__(self, key_path: str, value: object) -> None:
        super().__init__(
            f"config value at {key_path!r} of type {type(value).__name__} cannot be "
            "serialised to canonical JSON; convert it to a str, number, bool, list, "
            "dict or pydantic model, or move it to runtime_kwargs if it must not be "
            "part of the cache key"
        )
        self.key_path = key_path


class InvalidCacheMode(InvalidInput):
    pass


class InvalidURI(InvalidInput):
    pass


class PathEscapesMount(InvalidURI):
    pass


class DuplicateRun(InvalidInput):
    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"a run with id {run_id!r} already exists; choose another run_id "
            "(runs are never overwritten)"
        )
        self.run_id = run_id


class HashConflict(InvalidInput):
    pass


class UnsafeIdentifier(InvalidInput):
    pass


class WriteNotAllowed(InvalidInput):
    """A query would change the database, and the caller did not allow writes."""


class ReservedName(UnsafeIdentifier):
    """A name a user chose would shadow a catalog table or a ``consist_*`` system column."""


class NestingTooDeep(InvalidInput):
    """A config (or other nested value) is nested deeper than Consist reads."""


class MissingFile(ConsistError, FileNotFoundError):
    pass


class MissingInputFile(MissingFile):
    pass


class MissingOutputFile(MissingFile):
    pass


class IntegrityError(ConsistError):
    """Stored bytes do not hash to the digest recorded for them."""


class NoActiveTracker(ConsistError, RuntimeError):
    def __init__(self, what: str = "this call", *, needs_run: bool = False) -> None:
        if needs_run:
            message = (
                f"{what} needs an active run: call it inside `with tracker.start_run(...):`, "
                "a scenario step, or a function run by tracker.run"
            )
        else:
            message = (
                f"{what} needs an active tracker: wrap it in "
                "`with consist.use_tracker(tracker):` or pass tracker=..."
            )
        super().__init__(message)


class RunFailed(ConsistError, RuntimeError):
    pass


class ExecutionError(ConsistError, RuntimeError):
    """An executor could not run a task, or the task exited with an error."""


class CatalogError(ConsistError):
    """The catalog could not answer or store something."""


class CatalogLocked(CatalogError):
    pass


class CatalogCorrupt(CatalogError):
    pass


class CatalogUnavailable(CatalogError):
    pass


class ImageNotFound(ExecutionError, LookupError):
    """A container image is not where the executor looks for it."""

    def __init__(self, image: str, hint: str) -> None:
        super().__init__(f"container image {image!r} not found; {hint}")
        self.image = image


class ContainerFailed(ExecutionError):
    """A container ran and exited non-zero; carries the exit code and the log tail."""

    def __init__(self, image: str, exit_code: int, log_tail: list[str]) -> None:
        tail = "\n".join(log_tail) if log_tail else "(no output)"
        super().__init__(
            f"container {image!r} exited with code {exit_code}; "
            f"last {len(log_tail)} log lines:\n{tail}"
        )
        self.image = image
        self.exit_code = exit_code
        self.log_tail = list(log_tail)


class SchemaValidationError(InvalidInput):
    """A row does not fit the schema model it is ingested under; names row, field and value."""

    def __init__(self, row_index: int, field: str, value: object, reason: str, model: str) -> None:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(
            f"row {row_index}: field {field!r} = {shown} does not fit {model}: {reason}; "
            "fix the data or the schema model (nothing was written)"
        )
        self.row_index: int | None = row_index
        self.field = field
        self.value = value


class SchemaColumnError(SchemaValidationError):
    """A column is missing, undeclared, or of a type the schema model's field cannot hold."""

    def __init__(self, column: str, reason: str, model: str) -> None:
        InvalidInput.__init__(
            self,
            f"column {column!r} {reason} in {model}; fix the data or the schema model "
            "(nothing was written)",
        )
        self.row_index = None
        self.field = column
        self.value = None


class UntrustedSnapshot(InvalidInput):
    """A published snapshot that a pull refuses; names the run, the field and why."""

    def __init__(self, run_id: str, field: str, reason: str) -> None:
        super().__init__(
            f"published snapshot of run {run_id!r} was refused: {field}: {reason}; "
            "nothing of it was imported (ask its publisher to push it again, or remove "
            f"snapshots/{run_id}.json from the store)"
        )
        self.run_id = run_id
        self.field = field
        self.reason = reason


class BlobStoreError(ConsistError):
    """A blob store could not be reached, or refused an operation (permissions, network)."""


class RemoteObjectMissing(MissingFile):
    """No object at an artifact's URL (``s3://bucket/key``), or no such bucket."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


class RemoteStoreError(ConsistError, OSError):
    """The object store behind an artifact's URL could not be reached, or refused access."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url
