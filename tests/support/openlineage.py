"""OpenLineage checks for the tests: validate an event, and a loopback lineage endpoint.

``validate_event`` checks one event two ways: openlineage-python's own models
(the event is rebuilt from them and must serialise back to the same dict,
standard facets carrying the schema URLs the client library assigns), and
JSON Schema (our contract of the RunEvent shape, plus the shipped schema of
Consist's custom facets). ``LineageEndpoint`` is an http.server on loopback
that answers like Marquez's ``POST /api/v1/lineage``: 201 for a valid event.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import attr
import jsonschema
import pytest
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated import (
    dataset_version_dataset,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
    processing_engine_run,
)
from openlineage.client.generated.base import DatasetFacet, RunFacet
from openlineage.client.serde import Serde

from consist.integrations.openlineage.events import FACETS_SCHEMA

_CONTRACT = json.loads((Path(__file__).parent / "openlineage-runevent.schema.json").read_text())
_FACETS = json.loads(
    files("consist").joinpath("schemas/openlineage-facets-1.json").read_text(encoding="utf-8")
)
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("uri", raises=ValueError)
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc) and " " not in value


_EVENT_VALIDATOR = jsonschema.Draft202012Validator(_CONTRACT, format_checker=FORMATS)
_FACET_VALIDATORS = {
    name: jsonschema.Draft202012Validator(
        {**_FACETS, "$ref": f"#/$defs/{name}"}, format_checker=FORMATS
    )
    for name in ("consist_run", "consist_signature", "consist_cache", "consist_artifact")
}


# -- Consist's custom facets, as a consumer declares them for openlineage-python
def _schema(name: str) -> Any:
    return staticmethod(lambda: f"{FACETS_SCHEMA}#/$defs/{name}")


@attr.define
class ConsistRunFacet(RunFacet):
    runId: str
    tags: list[str]
    model: str | None = None
    year: int | None = None
    iteration: int | None = None
    parentRunId: str | None = None
    _get_schema = _schema("consist_run")


@attr.define
class ConsistSignatureRunFacet(RunFacet):
    signature: str
    codeHash: str
    configHash: str
    inputHash: str
    _get_schema = _schema("consist_signature")


@attr.define
class ConsistCacheRunFacet(RunFacet):
    cacheHit: bool
    cachedFrom: str | None = None
    cachedFromRunId: str | None = None
    _get_schema = _schema("consist_cache")


@attr.define
class ConsistArtifactDatasetFacet(DatasetFacet):
    artifactId: str
    key: str
    uri: str
    driver: str
    producerRunId: str | None = None
    _get_schema = _schema("consist_artifact")


def _build(cls: Any, facet: dict[str, Any]) -> Any:
    fields = {k: v for k, v in facet.items() if not k.startswith("_")}
    return cls(**fields, producer=facet["_producer"])


def _parent(facet: dict[str, Any]) -> Any:
    return parent_run.ParentRunFacet(
        run=parent_run.Run(**facet["run"]),
        job=parent_run.Job(**facet["job"]),
        producer=facet["_producer"],
    )


RUN_FACETS: dict[str, Any] = {
    "parent": _parent,
    "errorMessage": lambda f: _build(error_message_run.ErrorMessageRunFacet, f),
    "processing_engine": lambda f: _build(processing_engine_run.ProcessingEngineRunFacet, f),
    "consist_run": lambda f: _build(ConsistRunFacet, f),
    "consist_signature": lambda f: _build(ConsistSignatureRunFacet, f),
    "consist_cache": lambda f: _build(ConsistCacheRunFacet, f),
}
JOB_FACETS: dict[str, Any] = {"jobType": lambda f: _build(job_type_job.JobTypeJobFacet, f)}
DATASET_FACETS: dict[str, Any] = {
    "version": lambda f: _build(dataset_version_dataset.DatasetVersionDatasetFacet, f),
    "consist_artifact": lambda f: _build(ConsistArtifactDatasetFacet, f),
}
OUTPUT_FACETS: dict[str, Any] = {
    "outputStatistics": lambda f: _build(
        output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet, f
    )
}


def _facets(known: dict[str, Any], facets: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(facets) - set(known))
    assert not unknown, f"facets no test knows of: {unknown}"
    return {name: known[name](facet) for name, facet in facets.items()}


def as_model(event: dict[str, Any]) -> RunEvent:
    """The event rebuilt from openlineage-python's classes (their validators run)."""
    return RunEvent(
        eventType=RunState(event["eventType"]),
        eventTime=event["eventTime"],
        producer=event["producer"],
        run=Run(runId=event["run"]["runId"], facets=_facets(RUN_FACETS, event["run"]["facets"])),
        job=Job(
            namespace=event["job"]["namespace"],
            name=event["job"]["name"],
            facets=_facets(JOB_FACETS, event["job"]["facets"]),
        ),
        inputs=[
            InputDataset(
                namespace=d["namespace"],
                name=d["name"],
                facets=_facets(DATASET_FACETS, d["facets"]),
                inputFacets=_facets({}, d["inputFacets"]),
            )
            for d in event["inputs"]
        ],
        outputs=[
            OutputDataset(
                namespace=d["namespace"],
                name=d["name"],
                facets=_facets(DATASET_FACETS, d["facets"]),
                outputFacets=_facets(OUTPUT_FACETS, d["outputFacets"]),
            )
            for d in event["outputs"]
        ],
    )


def _pruned(value: Any) -> Any:
    """Without empty mappings: the client keeps ``"facets": {}`` where we may leave it out."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v != {}}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


class Validated:
    """How many events validate_event accepted in this test session."""

    count: ClassVar[int] = 0


def validate_event(event: dict[str, Any]) -> None:
    """Raise AssertionError (or a schema/model error) unless ``event`` is a valid RunEvent."""
    model = as_model(event)
    assert model.schemaURL == event["schemaURL"]
    assert _pruned(Serde.to_dict(model)) == _pruned(event)
    assert json.loads(Serde.to_json(model)) == Serde.to_dict(model)
    _EVENT_VALIDATOR.validate(event)
    holders = [event["run"]["facets"], event["job"]["facets"]]
    holders += [d["facets"] for d in event["inputs"] + event["outputs"]]
    for holder in holders:
        for name, facet in holder.items():
            if name in _FACET_VALIDATORS:
                _FACET_VALIDATORS[name].validate(facet)
    Validated.count += 1


class LineageEndpoint:
    """A loopback HTTP server answering ``POST /api/v1/lineage`` as Marquez does.

    201 for a valid RunEvent (kept in ``received``), 400 for a body that is not
    JSON, 422 for JSON that is not a valid event (kept in ``rejected``), 404
    elsewhere. ``status`` forces another answer (a server that is down, 500).
    """

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.rejected: list[tuple[Any, str]] = []
        self.status: int | None = None
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path != "/api/v1/lineage":
                    self._answer(404)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if endpoint.status is not None:
                    self._answer(endpoint.status)
                    return
                try:
                    event = json.loads(body)
                except ValueError:
                    self._answer(400)
                    return
                try:
                    validate_event(event)
                except Exception as exc:
                    endpoint.rejected.append((event, repr(exc)))
                    self._answer(422)
                    return
                endpoint.received.append(event)
                self._answer(201)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def lineage_endpoint() -> Iterator[LineageEndpoint]:
    endpoint = LineageEndpoint()
    yield endpoint
    endpoint.close()
