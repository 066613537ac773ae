"""OpenLineage RunEvents of a Consist run, as plain dicts (no client library needed).

A run gives two events. START (at the run's ``created_at``) names the job and
the run with the facets known when it began. COMPLETE or FAIL (at its
``ended_at``) adds the inputs and outputs, the signature parts and the cache
facet. A cache hit is a run of its own in the catalog, so it gets both events
too: its outputs are the datasets of the run it reused (same names and
versions), and ``consist_cache`` names that run.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from consist.domain import Artifact, Direction, Run, RunRecord, RunStatus
from consist.integrations.openlineage import naming

OPENLINEAGE_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_SPEC = "https://openlineage.io/spec/facets"
PARENT_SCHEMA = f"{_SPEC}/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet"
ERROR_SCHEMA = f"{_SPEC}/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
ENGINE_SCHEMA = f"{_SPEC}/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet"
JOB_TYPE_SCHEMA = f"{_SPEC}/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
VERSION_SCHEMA = f"{_SPEC}/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
OUTPUT_STATS_SCHEMA = (
    f"{_SPEC}/1-0-2/OutputStatisticsOutputDatasetFacet.json"
    "#/$defs/OutputStatisticsOutputDatasetFacet"
)
# Our own facets: their JSON Schema ships in consist/schemas/openlineage-facets-1.json.
REPO = "https://github.com/consist/consist"
FACETS_SCHEMA = f"{REPO}/blob/main/src/consist/schemas/openlineage-facets-1.json"
CUSTOM_FACETS = ("consist_run", "consist_signature", "consist_cache", "consist_artifact")

# Finds a run by id (the parent of a step); None when it is not known.
RunLookup = Callable[[str], Run | None]


@functools.cache
def consist_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("consist")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


def producer() -> str:
    return f"{REPO}/tree/v{consist_version()}"


def _facet(schema: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": producer(), "_schemaURL": schema, **fields}


def _custom(name: str, **fields: Any) -> dict[str, Any]:
    """One of our facets; a field without a value is left out, as OpenLineage's client does."""
    present = {key: value for key, value in fields.items() if value is not None}
    return _facet(f"{FACETS_SCHEMA}#/$defs/{name}", **present)


def _time(moment: dt.datetime | None) -> str:
    moment = moment or dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat()


class EventBuilder:
    """Builds the events of runs under one job namespace.

    Parameters
    ----------
    namespace
        The job namespace (the project); datasets of mounts are named under it.
    lookup
        Finds a step's parent run, for the ``parent`` facet and the job name.
    """

    def __init__(self, namespace: str, lookup: RunLookup) -> None:
        self.namespace = naming.check_namespace(namespace)
        self._lookup = lookup

    def start(self, run: Run) -> dict[str, Any]:
        """The START event: the job, the run and what was known when it began."""
        return self._event("START", run, run.created_at, self._run_facets(run))

    def finish(self, record: RunRecord) -> dict[str, Any]:
        """COMPLETE (or FAIL for a failed run) with inputs, outputs and identity facets."""
        run = record.run
        facets = self._run_facets(run)
        if run.signature is not None:
            facets["consist_signature"] = _custom(
                "consist_signature",
                signature=run.signature.digest,
                codeHash=run.signature.code_hash,
                configHash=run.signature.config_hash,
                inputHash=run.signature.input_hash,
            )
        facets["consist_cache"] = _custom(
            "consist_cache",
            cacheHit=run.cache_hit,
            cachedFrom=run.cached_from,
            cachedFromRunId=(
                naming.run_uuid(self.namespace, run.cached_from) if run.cached_from else None
            ),
        )
        failed = run.status is RunStatus.FAILED
        if failed:
            message = f"{run.error_type}: {run.error_message}" if run.error_type else "failed"
            facets["errorMessage"] = _facet(
                ERROR_SCHEMA, message=message, programmingLanguage="python"
            )
        event = self._event("FAIL" if failed else "COMPLETE", run, run.ended_at, facets)
        event["inputs"] = [
            {**self._dataset(a), "inputFacets": {}}
            for a in record.artifacts_by_direction(Direction.INPUT).values()
        ]
        event["outputs"] = [
            {**self._dataset(a), "outputFacets": self._output_facets(a)}
            for a in record.artifacts_by_direction(Direction.OUTPUT).values()
        ]
        return event

    def events(self, record: RunRecord) -> list[dict[str, Any]]:
        """START then COMPLETE/FAIL of a finished run; START alone while it runs."""
        if record.run.status is RunStatus.RUNNING:
            return [self.start(record.run)]
        return [self.start(record.run), self.finish(record)]

    # ------------------------------------------------------------------ parts
    def _parent(self, run: Run) -> Run | None:
        return self._lookup(run.parent_run_id) if run.parent_run_id else None

    def _event(
        self, kind: str, run: Run, at: dt.datetime | None, facets: dict[str, Any]
    ) -> dict[str, Any]:
        kind_of_job = "SCENARIO" if naming.is_scenario(run) else "STEP"
        return {
            "eventType": kind,
            "eventTime": _time(at),
            "producer": producer(),
            "schemaURL": OPENLINEAGE_SCHEMA,
            "run": {"runId": naming.run_uuid(self.namespace, run.id), "facets": facets},
            "job": {
                "namespace": self.namespace,
                "name": naming.job_name(run, self._parent(run)),
                "facets": {
                    "jobType": _facet(
                        JOB_TYPE_SCHEMA,
                        processingType="BATCH",
                        integration="CONSIST",
                        jobType=kind_of_job,
                    )
                },
            },
            "inputs": [],
            "outputs": [],
        }

    def _run_facets(self, run: Run) -> dict[str, Any]:
        facets: dict[str, Any] = {
            "processing_engine": _facet(
                ENGINE_SCHEMA,
                version=consist_version(),
                name="consist",
                openlineageAdapterVersion=consist_version(),
            ),
            "consist_run": _custom(
                "consist_run",
                runId=run.id,
                model=run.model,
                year=run.year,
                iteration=run.iteration,
                tags=list(run.tags),
                parentRunId=run.parent_run_id,
            ),
        }
        if run.parent_run_id:
            parent = self._parent(run)
            facets["parent"] = _facet(
                PARENT_SCHEMA,
                run={"runId": naming.run_uuid(self.namespace, run.parent_run_id)},
                job={
                    "namespace": self.namespace,
                    "name": naming.job_name(parent, None) if parent else run.parent_run_id,
                },
            )
        return facets

    def _dataset(self, artifact: Artifact) -> dict[str, Any]:
        namespace, name = naming.dataset_id(self.namespace, artifact)
        facets: dict[str, Any] = {}
        if artifact.content_hash:
            facets["version"] = _facet(VERSION_SCHEMA, datasetVersion=artifact.content_hash)
        facets["consist_artifact"] = _custom(
            "consist_artifact",
            artifactId=artifact.id,
            key=artifact.key,
            uri=artifact.uri,
            driver=artifact.driver,
            producerRunId=artifact.producer_run_id,
        )
        return {"namespace": namespace, "name": name, "facets": facets}

    @staticmethod
    def _output_facets(artifact: Artifact) -> dict[str, Any]:
        if artifact.size is None:
            return {}
        return {"outputStatistics": _facet(OUTPUT_STATS_SCHEMA, size=artifact.size)}
