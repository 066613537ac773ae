"""The signer: everything that turns a step into its :class:`Signature`.

A signature joins three parts (``docs/design`` and ``DESIGN.md``, Identity):

- code: the step's code identity (:mod:`.code_identity`) plus the step name, so two
  steps of one commit with equal config and inputs never share a signature;
- config: the canonical hash of the identity config, with an executor's own
  identity of the task (a container's image digest and command) folded in;
- inputs: the sorted ``(key, identity)`` pairs, where an artifact a completed run
  produced is identified by that run's signature and its output key (Merkle
  link), a raw file by its content, and ``depends_on``/``hash_inputs`` files too.

The signer reads producers' signatures through a small :class:`RunLookup` (the
tracker's catalog reader) and remembers them, since every step asks again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from consist.domain import (
    Artifact,
    MountTable,
    Run,
    RunStatus,
    Signature,
    canonical,
    combine_input_identities,
    merkle_identity,
)
from consist.domain.errors import MissingInputFile, NotFound
from consist.services.identity.code_identity import CodeIdentity, code_hash

# The code identity of a step that is not a Python function: the executor's
# identity of the task (in the config part) stands for its code, not the host's commit.
EXECUTOR_CODE = "container"


class RunLookup(Protocol):
    """Where the signer finds a producer run (the catalog reader)."""

    def get_run(self, run_id: str) -> Run: ...  # raises NotFound


class FileIdentity(Protocol):
    """Content identity of a file or directory (the file hasher)."""

    def identity(self, path: str | os.PathLike[str], strategy: str | None = None) -> str: ...


class Signer:
    """Computes signatures from code, config and inputs.

    Parameters
    ----------
    hasher
        Content identity of raw files (``FileHasher``).
    mounts
        Turns ``depends_on``/``hash_inputs`` paths into the URIs their keys use.
    runs
        Reads producer runs for Merkle links.
    code_identity
        The tracker's default code identity (``"git"``, ``"module"``, ...).
    project_dir
        Modules under it count as the project's code.
    """

    def __init__(
        self,
        *,
        hasher: FileIdentity,
        mounts: MountTable,
        runs: RunLookup,
        code_identity: CodeIdentity = "git",
        project_dir: Path | None = None,
    ) -> None:
        self.hasher = hasher
        self.mounts = mounts
        self.runs = runs
        self.code_identity = code_identity
        self.project_dir = project_dir or Path.cwd()
        self._producers: dict[str, str | None] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the three parts
    def code_hash(
        self, step: str, fn: Callable[..., Any] | None, code_identity: CodeIdentity | None = None
    ) -> str:
        """The code part: ``fn``'s identity (the caller's code for None) and the step name."""
        identity = code_identity or self.code_identity
        return f"{code_hash(identity, fn, self.project_dir)}#{step}"

    @staticmethod
    def config_hash(config: Any, executor_identity: Mapping[str, Any] | None = None) -> str:
        """The config part: canonical hash of ``config``, and of the executor's identity.

        Raises ``ConfigNotSerializable`` naming the key that has no canonical form.
        """
        digest = canonical.digest(config if config is not None else {})
        if executor_identity:
            return canonical.digest({"config": digest, "executor": dict(executor_identity)})
        return digest

    def input_identity(self, artifact: Artifact) -> str:
        """Merkle identity of an artifact a completed run produced; its content otherwise."""
        if artifact.producer_run_id is not None:
            producer = self.producer_signature(artifact.producer_run_id)
            if producer is not None:
                return merkle_identity(producer, artifact.key)
        return artifact.content_hash or f"uri:{artifact.uri}"

    def file_identities(self, kind: str, paths: Sequence[str | os.PathLike[str]]) -> dict[str, str]:
        """Identities of ``depends_on`` / ``hash_inputs`` files, keyed ``kind:uri``.

        Raises
        ------
        MissingInputFile
            If a path does not exist.
        """
        identities = {}
        for raw in paths:
            path = Path(os.path.abspath(os.fspath(raw)))
            if not path.exists():
                raise MissingInputFile(f"{kind} file {path} does not exist")
            identities[f"{kind}:{self.mounts.to_uri(path)}"] = self.hasher.identity(path)
        return identities

    # ------------------------------------------------------------------ signatures
    def sign(
        self,
        *,
        step: str,
        config_hash: str,
        input_identities: Mapping[str, str],
        fn: Callable[..., Any] | None = None,
        code_identity: CodeIdentity | None = None,
    ) -> Signature:
        """The signature of ``step`` from its parts (input identities already computed)."""
        return Signature(
            code_hash=self.code_hash(step, fn, code_identity),
            config_hash=config_hash,
            input_hash=combine_input_identities(input_identities.items()),
        )

    def sign_inputs(
        self,
        *,
        step: str,
        config_hash: str,
        inputs: Mapping[str, Artifact],
        extra_identities: Mapping[str, str] | None = None,
        fn: Callable[..., Any] | None = None,
        code_identity: CodeIdentity | None = None,
    ) -> Signature:
        """The signature of ``step`` over input artifacts by key (plus hashed files)."""
        identities = {f"input:{key}": self.input_identity(a) for key, a in inputs.items()}
        identities.update(extra_identities or {})
        return self.sign(
            step=step,
            config_hash=config_hash,
            input_identities=identities,
            fn=fn,
            code_identity=code_identity,
        )

    # ------------------------------------------------------------------ producers
    def producer_signature(self, run_id: str) -> str | None:
        """Signature digest of a completed run; None if it failed, runs or is unknown."""
        with self._lock:
            if run_id in self._producers:
                return self._producers[run_id]
        try:
            run = self.runs.get_run(run_id)
        except NotFound:
            return None
        digest = run.signature_digest if run.status is RunStatus.COMPLETED else None
        with self._lock:
            self._producers.setdefault(run_id, digest)
            return self._producers[run_id]

    def remember(self, run_id: str, digest: str | None) -> None:
        """A run just ended here: its signature (None: not a usable Merkle parent)."""
        with self._lock:
            self._producers[run_id] = digest

    def forget(self, run_id: str) -> None:
        """A run's record changed elsewhere: read its signature again when asked."""
        with self._lock:
            self._producers.pop(run_id, None)
