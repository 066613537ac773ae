"""Published snapshots are untrusted input: the checks a pull makes before importing one.

Whoever can write to a shared store can publish a snapshot, so before one is
imported it must

1. match the snapshot JSON Schema shipped with Consist
   (``consist/schemas/snapshot-v1.json``, checked with ``jsonschema``);
2. hold the run its name says, with links that belong to that run and name
   artifacts of the document;
3. name only locations that stay where they belong: no control characters, no
   ``..`` segment (also percent-encoded), no absolute part after ``name://``, and
   no ``file://`` location for an artifact that a run produced (its bytes come
   from the blob store, and would be written there), and no ``abs_path`` for a
   ``workspace://`` artifact (push writes none; it would be read instead), no
   ``http(s)://`` address (a load would fetch what the publisher chose) and no
   object-store URL holding credentials;
4. not redefine an artifact this machine knows: an artifact id already in the
   catalog must come with the same location, content hash and producer
   (:func:`check_known_artifacts`), or the publication would re-point it.

A refusal is an :class:`UntrustedSnapshot` naming the run, the field and why.
"""

from __future__ import annotations

import functools
import json
import posixpath
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any
from urllib.parse import unquote

from consist.domain import Artifact, RunRecord, canonical
from consist.domain.digests import is_digest
from consist.domain.errors import ArtifactNotFound, InvalidInput, UntrustedSnapshot
from consist.domain.mount import FILE_SCHEME, WORKSPACE
from consist.domain.remote import REMOTE_SCHEMES
from consist.services.store.snapshots import check_run_id

__all__ = [
    "SCHEMA_RESOURCE",
    "check_known_artifacts",
    "check_published",
    "snapshot_schema",
    "unsafe_uri_reason",
]

SCHEMA_RESOURCE = "schemas/snapshot-v1.json"
_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9_+.-]*)://(?P<rest>.*)$", re.DOTALL)
_DRIVE = re.compile(r"^[A-Za-z]:")
_DIGEST_META = ("blob_digest", "blob_manifest")
WEB_SCHEMES = frozenset({"http", "https"})


@functools.cache
def snapshot_schema() -> dict[str, Any]:
    """The JSON Schema of a snapshot document (format 1)."""
    text = resources.files("consist").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator() -> Any:
    import jsonschema  # imported on first pull only: keeps `import consist` light

    return jsonschema.Draft202012Validator(snapshot_schema())


def check_published(payload: bytes, run_id: str) -> RunRecord:
    """The run record in a published snapshot, once every check has passed.

    Parameters
    ----------
    payload
        The published bytes of ``snapshots/<run_id>.json``.
    run_id
        The run id the publication's name gives.

    Raises
    ------
    UntrustedSnapshot
        Naming the run, the field and what is wrong with it.
    """
    try:
        check_run_id(run_id)
    except InvalidInput as exc:
        raise UntrustedSnapshot(repr(run_id), "name", str(exc)) from None
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise UntrustedSnapshot(run_id, "(document)", f"not usable JSON ({why})") from None
    _check_depth(document, run_id)
    _check_schema(document, run_id)
    _check_identity(document, run_id)
    _check_locations(document, run_id)
    try:
        return RunRecord.from_dict(document)
    except (ValueError, KeyError, TypeError) as exc:
        raise UntrustedSnapshot(run_id, "(document)", f"cannot be read ({exc})") from None


def _check_depth(document: Any, run_id: str) -> None:
    """Refuse values nested deeper than a local config may be (iteratively: no recursion)."""
    limit = canonical.MAX_DEPTH + 3  # document -> run -> config -> the config's own levels
    stack: list[tuple[Any, int, str]] = [(document, 0, "")]
    while stack:
        value, depth, field = stack.pop()
        if depth > limit:
            shown = field if len(field) <= 120 else field[:117] + "..."
            raise UntrustedSnapshot(
                run_id, shown, f"is nested more than {canonical.MAX_DEPTH} levels deep"
            )
        if isinstance(value, dict):
            stack.extend(
                (v, depth + 1, f"{field}.{k}" if field else str(k)) for k, v in value.items()
            )
        elif isinstance(value, list):
            stack.extend((v, depth + 1, f"{field}[{i}]") for i, v in enumerate(value))


def _check_schema(document: Any, run_id: str) -> None:
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        shown = error.message if len(error.message) <= 200 else error.message[:197] + "..."
        raise UntrustedSnapshot(run_id, _field(error.absolute_path), f"{shown} (snapshot schema)")


def _field(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def _check_identity(document: Mapping[str, Any], run_id: str) -> None:
    run = document["run"]
    if run["id"] != run_id:
        raise UntrustedSnapshot(run_id, "run.id", f"holds run {run['id']!r}, not {run_id!r}")
    if run["status"] == "running":
        raise UntrustedSnapshot(run_id, "run.status", "the run is still running")
    ids = [("run.id", run["id"])]
    ids += [(f"run.{name}", run.get(name)) for name in ("parent_run_id", "cached_from")]
    artifacts = document["artifacts"]
    for i, artifact in enumerate(artifacts):
        ids.append((f"artifacts[{i}].producer_run_id", artifact.get("producer_run_id")))
    for field, value in ids:
        if value is not None:
            try:
                check_run_id(value)
            except InvalidInput as exc:
                raise UntrustedSnapshot(run_id, field, str(exc)) from None
    known = {a["id"] for a in artifacts}
    for i, link in enumerate(document["links"]):
        if link["run_id"] != run_id:
            raise UntrustedSnapshot(
                run_id, f"links[{i}].run_id", f"links run {link['run_id']!r}, not this run"
            )
        if link["artifact_id"] not in known:
            raise UntrustedSnapshot(
                run_id, f"links[{i}].artifact_id", "names no artifact of this snapshot"
            )
    for i, artifact in enumerate(artifacts):
        for name in ("id", "key", "driver", "abs_path", "content_hash"):
            _refuse_control(run_id, f"artifacts[{i}].{name}", artifact.get(name))
        for name in _DIGEST_META:
            value = artifact.get("meta", {}).get(name)
            if value is not None and not is_digest(value):
                raise UntrustedSnapshot(
                    run_id, f"artifacts[{i}].meta.{name}", "is not a SHA-256 hex digest"
                )
    for i, link in enumerate(document["links"]):
        _refuse_control(run_id, f"links[{i}].key", link["key"])


def _refuse_control(run_id: str, field: str, value: object) -> None:
    if isinstance(value, str) and _has_control(value):
        raise UntrustedSnapshot(run_id, field, f"{value!r} holds control characters")


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in text)


def _check_locations(document: Mapping[str, Any], run_id: str) -> None:
    outputs = {link["artifact_id"] for link in document["links"] if link["direction"] == "output"}
    for i, artifact in enumerate(document["artifacts"]):
        produced = artifact.get("producer_run_id") is not None or artifact["id"] in outputs
        reason = unsafe_uri_reason(artifact["uri"], produced=produced)
        if reason is not None:
            raise UntrustedSnapshot(run_id, f"artifacts[{i}].uri", f"{artifact['uri']!r} {reason}")
        # push writes no path for a workspace:// artifact (it resolves under any run_dir);
        # one here would make artifact_path answer wherever it says, before the run dir.
        if artifact["uri"].startswith(f"{WORKSPACE}://") and artifact.get("abs_path") is not None:
            raise UntrustedSnapshot(
                run_id,
                f"artifacts[{i}].abs_path",
                f"{artifact['abs_path']!r} is given for a {WORKSPACE}:// artifact, "
                "which push publishes without one",
            )


def unsafe_uri_reason(uri: str, *, produced: bool) -> str | None:
    """Why an artifact URI from another machine must not be used here, or None.

    ``produced`` is true for an artifact a run wrote: its bytes may be restored
    from the blob store to the place the URI names, so that place must be under
    a mount (the run directory is one) and not the mount's root itself.
    """
    if _has_control(uri):
        return "holds control characters"
    match = _URI.match(uri)
    if match is None:
        return "is not a URI of the form name://relative/path"
    scheme = match["scheme"].lower()
    if scheme in WEB_SCHEMES:
        return (
            "is a web address; loading it would make this machine fetch whatever the "
            "publisher named (an internal service, say). Share objects through a store"
        )
    if scheme in REMOTE_SCHEMES and "@" in match["rest"].split("/", 1)[0]:
        return "holds credentials before '@'"
    if scheme == FILE_SCHEME:
        if produced:
            return (
                "is a file:// location, outside the run directory and every mount; "
                "a published output must live under its run's directory or a mount"
            )
        return None  # a raw input's location on the publisher's machine, never written to
    relative = _fully_unquoted(match["rest"])
    if _has_control(relative):
        return "holds percent-encoded control characters"
    if relative.startswith(("/", "\\")) or _DRIVE.match(relative):
        return "has an absolute path after '://'"
    if "\\" in relative:
        return "holds a backslash"
    if ".." in relative.split("/"):
        return "climbs out of its mount with a '..' segment"
    if produced and posixpath.normpath(relative or ".") == ".":
        return "names the root of a mount, not a file or folder in it"
    return None


def _fully_unquoted(text: str) -> str:
    # Decoded until stable, so a twice-encoded "%252e%252e" is seen as "..".
    for _ in range(5):
        decoded = unquote(text)
        if decoded == text:
            return decoded
        text = decoded
    return text


def check_known_artifacts(record: RunRecord, known: Callable[[str], Artifact]) -> None:
    """Refuse a record that gives an artifact id this machine knows another identity.

    ``known(artifact_id)`` returns the local artifact or raises ``ArtifactNotFound``.
    An artifact shared back and forth (pulled here, used there, published again)
    comes back with the same location, content hash and producer, and passes.

    Raises
    ------
    UntrustedSnapshot
        Naming the artifact's index and which identity field differs.
    """
    for i, artifact in enumerate(record.artifacts):
        try:
            local = known(artifact.id)
        except ArtifactNotFound:
            continue
        for name in ("uri", "content_hash", "producer_run_id"):
            if getattr(local, name) != getattr(artifact, name):
                raise UntrustedSnapshot(
                    record.run.id,
                    f"artifacts[{i}].id",
                    f"reuses the id of artifact {local.key!r} known here with another "
                    f"{name} ({getattr(local, name)!r}, not {getattr(artifact, name)!r})",
                )
