"""The Tracker is a facade: its service members are forwarded, signatures and docs kept."""

from __future__ import annotations

import inspect

from consist.services.data.tracker_data import DataVirtualization
from consist.services.forwarding import forward
from consist.services.runs.artifacts import ArtifactLogging
from consist.services.runs.queries import RunQueries
from consist.services.tracker import Tracker


class Greeter:
    def greet(self, /, name: str, *, loud: bool = False) -> str:
        """Say hello."""
        return f"HELLO {name}" if loud else f"hello {name}"


class Facade:
    greet = forward("greeter", Greeter.greet)

    def __init__(self) -> None:
        self.greeter = Greeter()


def test_a_forwarded_member_calls_the_collaborator_on_the_instance_and_the_class():
    facade = Facade()
    assert facade.greet("ann", loud=True) == "HELLO ann"
    assert Facade.greet(facade, "bob") == "hello bob"


def test_a_forwarded_member_shows_the_services_signature_and_docstring():
    assert (
        str(inspect.signature(Facade().greet)) == "(name: 'str', *, loud: 'bool' = False) -> 'str'"
    )
    assert Facade.greet.__doc__ == "Say hello."


def test_the_tracker_has_no_service_mixins():
    """Queries, artifact logging and data are collaborators, not base classes."""
    bases = set(Tracker.__mro__)
    assert not bases & {RunQueries, ArtifactLogging, DataVirtualization}


# What the three mixins put on the Tracker before they became collaborators.
FORMER_MIXIN_MEMBERS = (
    "get_run",
    "get_record",
    "find_runs",
    "find_by_signature",
    "get_artifact",
    "find_artifacts",
    "get_artifacts_for_run",
    "get_producer",
    "lineage",
    "links_of_artifact",
    "resolve_artifact",
    "log_artifact",
    "log_input",
    "log_output",
    "log_artifacts",
    "log_dataframe",
    "find_produced_artifact",
    "resolve_path",
    "artifact_path",
    "ingest",
    "ingestion_of",
    "read_ingested",
    "views",
    "create_view",
    "start_view_maintenance",
    "matrix",
    "sql_dialect",
    "sql_target",
    "run_query",
    "sql",
)


def test_every_member_the_mixins_offered_is_still_on_the_tracker():
    """Nothing the mixins offered went missing from the facade."""
    missing = [name for name in FORMER_MIXIN_MEMBERS if not hasattr(Tracker, name)]
    assert missing == []
