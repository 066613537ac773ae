"""The pure core of Consist: values and rules, no I/O, standard library and attrs only."""

from consist.domain import canonical, errors
from consist.domain._values import new_id, utcnow
from consist.domain.artifact import Artifact, Direction, RunArtifactLink
from consist.domain.mount import WORKSPACE, Mount, MountTable, split_uri
from consist.domain.run import Run, RunQuery, RunRecord, RunStatus
from consist.domain.signature import (
    UNKNOWN_CODE_VERSION,
    Signature,
    combine_input_identities,
    merkle_identity,
)

__all__ = [
    "UNKNOWN_CODE_VERSION",
    "WORKSPACE",
    "Artifact",
    "Direction",
    "Mount",
    "MountTable",
    "Run",
    "RunArtifactLink",
    "RunQuery",
    "RunRecord",
    "RunStatus",
    "Signature",
    "canonical",
    "combine_input_identities",
    "errors",
    "merkle_identity",
    "new_id",
    "split_uri",
    "utcnow",
]
