"""What the SQL catalog adapters share: the relational layout and the SQL over it.

``rows`` turns records into table rows and rows back into Runs and Artifacts;
``dialect`` holds the few ways engines differ (URL scheme, error texts, how
timestamps and tags are read); ``schema`` the migration steps' shape, the
schema-version guard and the consistency checks; ``reads`` every catalog read
written once over the layout. Standard library and domain only.
"""

from __future__ import annotations

from consist.relational.dialect import Dialect, parse_url, translate
from consist.relational.reads import RelationalReads
from consist.relational.rows import (
    ARTIFACT_COLUMNS,
    RUN_COLUMNS,
    RecordRows,
    artifact_from_row,
    dumps,
    flat,
    kv_rows,
    run_from_row,
    schema_rows,
)
from consist.relational.schema import (
    OWN_TABLES,
    PRUNE_FACETS,
    Migration,
    check_schema_version,
    consistency_problems,
    version_problems,
)

__all__ = [
    "ARTIFACT_COLUMNS",
    "OWN_TABLES",
    "PRUNE_FACETS",
    "RUN_COLUMNS",
    "Dialect",
    "Migration",
    "RecordRows",
    "RelationalReads",
    "artifact_from_row",
    "check_schema_version",
    "consistency_problems",
    "dumps",
    "flat",
    "kv_rows",
    "parse_url",
    "run_from_row",
    "schema_rows",
    "translate",
    "version_problems",
]
