"""A long data pipeline that restarts from its last checkpoint.

Run it twice: the second run skips the expensive fetch. Usage:
    python docs/examples/checkpoint_pipeline.py [WORKDIR]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import polars as pl

import consist


def fetch_scores() -> pl.DataFrame:
    """Stands in for hours of API calls."""
    print("fetching scores (expensive)")
    return pl.DataFrame({"gene": ["BRCA1", "TP53", "MYO7A"], "score": [0.95, 0.88, 0.71]})


def main(workdir: Path) -> pl.DataFrame:
    provenance = consist.ProvenanceRecorder(
        pipeline_version="1.2.0",
        config={"min_score": 0.8},
        data_source_versions={"scores_api": "2026-10"},
    )
    with consist.CheckpointStore(workdir / "pipeline.duckdb", config={"min_score": 0.8}) as store:
        if store.has("scores"):
            scores = store.load("scores")
            provenance.record_step("fetch", {"from_checkpoint": True})
        else:
            scores = fetch_scores()
            store.save(scores, "scores", description="raw scores from the API")
            provenance.record_step("fetch", {"rows": scores.height})
        kept = scores.filter(pl.col("score") >= 0.8)
        provenance.record_step("filter", {"kept": kept.height})
        output = store.export_parquet("scores", workdir / "out" / "scores.parquet")
        provenance.save_sidecar(output)
    return kept


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    print(main(folder))
