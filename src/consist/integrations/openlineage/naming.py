"""How Consist names things in OpenLineage: run UUIDs, jobs and datasets.

The rules (docs/openlineage.md says the same for users):

- runId: ``uuid5(RUN_NAMESPACE, "<namespace>/<run id>")``; the same run always
  gets the same UUID, from a live tracker or from ``consist export openlineage``.
- job: namespace = the tracker's OpenLineage namespace; name = the step's name
  (``model``), ``<scenario>.<step>`` for a step of a scenario, and the
  scenario's name for its header run (a run without a model is named by its id).
- dataset: one logical location is one dataset, whichever run rewrote it; the
  bytes a run read or wrote are a version of it (the ``version`` facet).
  ``<mount>://path`` -> (``consist://<namespace>/<mount>``, ``path``); a file in
  a run's own folder (``workspace://path``, which is ``runs://<producer>/path``)
  -> (``consist://<namespace>/runs``, ``<producer run id>/path``), so two runs'
  ``workspace://trips.parquet`` are two datasets; ``file:///abs`` -> (``file``,
  ``/abs``) and ``s3://bucket/key`` -> (``s3://bucket``, ``key``), as
  OpenLineage's own naming conventions have them.
"""

from __future__ import annotations

import uuid
from urllib.parse import unquote

from consist.domain import Artifact, Run
from consist.domain.errors import InvalidInput
from consist.domain.mount import FILE_SCHEME, URI_PATTERN, WORKSPACE
from consist.domain.remote import REMOTE_SCHEMES as OBJECT_STORE_SCHEMES

# Fixed for ever: changing it would give every exported run a new identity.
RUN_NAMESPACE = uuid.UUID("6b0c3f9e-5f4a-5d8e-9a51-2c7d0e4b1a63")
DEFAULT_NAMESPACE = "consist"
RUNS_MOUNT = "runs"
SCENARIO_FLAG = "consist_scenario"  # the header run's meta flag (services.scenario)
# Schemes of remote stores: their authority (bucket, host) is the namespace.
REMOTE_SCHEMES = OBJECT_STORE_SCHEMES | {"wasb", "wasbs", "hdfs", "webhdfs", "dbfs", "ftp", "sftp"}


def check_namespace(namespace: object) -> str:
    """The namespace itself; InvalidInput for anything but a non-blank string."""
    if not isinstance(namespace, str) or not namespace.strip():
        raise InvalidInput(
            f"openlineage_namespace must be a non-empty str (e.g. your project's name), "
            f"not {namespace!r:.80}"
        )
    if any(c.isspace() or not c.isprintable() for c in namespace):
        raise InvalidInput(
            f"openlineage_namespace {namespace!r:.80} holds whitespace or control characters"
        )
    return namespace


def run_uuid(namespace: str, run_id: str) -> str:
    """The OpenLineage runId of our run ``run_id`` (a UUID, stable across processes)."""
    return str(uuid.uuid5(RUN_NAMESPACE, f"{namespace}/{run_id}"))


def is_scenario(run: Run) -> bool:
    return bool(run.meta.get(SCENARIO_FLAG))


def job_name(run: Run, parent: Run | None) -> str:
    """A scenario's name, ``<scenario>.<step>`` for its steps, else the step name."""
    if is_scenario(run):
        return run.id
    step = run.model or run.id
    if parent is not None and is_scenario(parent):
        return f"{parent.id}.{step}"
    return step


def dataset_id(namespace: str, artifact: Artifact) -> tuple[str, str]:
    """(OpenLineage namespace, name) of the location ``artifact`` names."""
    match = URI_PATTERN.match(artifact.uri)
    if match is None:  # not a URI: keep it whole, under our own namespace
        return f"consist://{namespace}", artifact.uri
    scheme, rest = match["scheme"].lower(), match["rest"]
    if scheme == FILE_SCHEME:
        return "file", unquote(rest)
    if scheme in REMOTE_SCHEMES:
        authority, _, path = rest.partition("/")
        return f"{scheme}://{authority}", path or "/"
    path = unquote(rest).strip("/")
    if scheme == WORKSPACE:
        owner = artifact.producer_run_id
        if owner is not None:
            return f"consist://{namespace}/{RUNS_MOUNT}", f"{owner}/{path}" if path else owner
    return f"consist://{namespace}/{scheme}", path or "/"
