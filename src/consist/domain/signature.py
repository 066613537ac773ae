"""The signature: what makes two runs interchangeable."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import attrs

UNKNOWN_CODE_VERSION = "unknown_code_version"
SIGNATURE_PARTS = ("code", "config", "input")


@attrs.frozen
class Signature:
    """Same code, same config, same inputs: the same run.

    The digest is ``sha256(code_hash "|" config_hash "|" input_hash)``.
    """

    code_hash: str
    config_hash: str
    input_hash: str

    @property
    def digest(self) -> str:
        joined = f"{self.code_hash}|{self.config_hash}|{self.input_hash}"
        return hashlib.sha256(joined.encode()).hexdigest()

    def differing_parts(self, other: Signature) -> tuple[str, ...]:
        """Names of the parts ("code", "config", "input") that differ from ``other``."""
        pairs = zip(
            SIGNATURE_PARTS,
            (self.code_hash, self.config_hash, self.input_hash),
            (other.code_hash, other.config_hash, other.input_hash),
            strict=True,
        )
        return tuple(name for name, mine, theirs in pairs if mine != theirs)


def combine_input_identities(identities: Iterable[tuple[str, str]]) -> str:
    """Input hash over ``(key, identity)`` pairs, independent of their order.

    An empty set of inputs has a well-defined hash too (that of no pairs).
    """
    hasher = hashlib.sha256()
    for key, identity in sorted(identities):
        hasher.update(key.encode())
        hasher.update(b"\x00")
        hasher.update(identity.encode())
        hasher.update(b"\n")
    return hasher.hexdigest()


def merkle_identity(producer_signature: str, output_key: str) -> str:
    """Identity of an artifact produced by a run: that run's signature plus the output key."""
    return f"run:{producer_signature}:{output_key}"
