"""The report's data, without a browser: grouping of many runs, filters, explanations, the page."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from typing import Any

import pytest
from tests.support.many_runs import STEPS, many_run_records

from consist.domain import Run, RunQuery
from consist.domain.errors import InvalidInput, NotFound
from consist.domain.redaction import Redactor
from consist.memory import InMemoryCatalog
from consist.report import UnknownScenario, gather, render_html
from consist.report.charts import time_series
from consist.report.graph import LEVELS


def catalog_of(scenarios: int, years: int) -> InMemoryCatalog:
    catalog = InMemoryCatalog()
    for record in many_run_records(scenarios, years):
        catalog.record(record)
    return catalog


def step_count(scenarios: int, years: int) -> int:
    return sum(1 for r in many_run_records(scenarios, years) if r.run.model != "scenario")


@pytest.fixture(scope="module")
def small() -> InMemoryCatalog:
    return catalog_of(2, 3)


@pytest.fixture(scope="module")
def medium() -> InMemoryCatalog:
    return catalog_of(4, 30)


def nodes(payload: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [n for n in payload["graph"]["nodes"] if n["kind"] == kind]


def test_small_catalog_draws_one_node_per_run_with_year_status_and_cache(
    small: InMemoryCatalog,
) -> None:
    """Few runs: every step run is its own node, labelled with its year, status and hit/miss."""
    payload = gather(small)
    steps = [r for r in payload["runs"] if r["kind"] == "step"]
    runs = nodes(payload, "run")
    assert payload["graph"]["level"] == "run"
    assert len(runs) == len(steps) == step_count(2, 3)
    node = next(n for n in runs if n["runs"] == ["simulate-001-2001"])
    assert node["years"] == [2001, 2001]
    assert node["status"] == {"completed": 1}
    assert (node["hit"], node["miss"]) == (0, 1)
    assert node["cluster"] == "scenario-001"
    assert {c["id"] for c in payload["graph"]["clusters"]} == {"scenario-000", "scenario-001"}


def test_artifacts_carry_key_and_short_hash_and_raw_inputs_are_one_node(
    small: InMemoryCatalog,
) -> None:
    """A produced artifact is a node with its key and a 10-character hash; the raw file
    that every ``prepare`` run reads is one node, however many runs read it."""
    payload = gather(small)
    arts = nodes(payload, "artifact")
    raw = [a for a in arts if a["id"].startswith("x:")]
    assert [a["uri"] for a in raw] == ["inputs://zones.csv"]
    produced = [a for a in arts if a["key"] == "simulate_out"]
    assert produced and all(len(a["hash"]) == 10 and a["count"] == 1 for a in produced)
    readers = [e for e in payload["graph"]["edges"] if e["source"] == raw[0]["id"]]
    assert len(readers) == 2 * 3  # every prepare run reads zones


def test_many_runs_collapse_to_one_node_per_step_and_scenario(medium: InMemoryCatalog) -> None:
    """Over the node budget, each step of each scenario is one node holding all its runs."""
    payload = gather(medium, max_nodes=60)
    groups = nodes(payload, "group")
    assert payload["graph"]["level"] == "scenario-step"
    assert len(groups) == 4 * len(STEPS)
    step_runs = [r for r in payload["runs"] if r["kind"] == "step"]
    assert sum(g["count"] for g in groups) == len(step_runs)
    assert sorted(run for g in groups for run in g["runs"]) == sorted(r["id"] for r in step_runs)
    simulate = next(g for g in groups if g["id"].endswith("\x1fsimulate") and "002" in g["id"])
    assert simulate["years"] == [2000, 2029] and simulate["year_count"] == 30
    assert simulate["hit"] + simulate["miss"] + simulate["status"].get("failed", 0) == 30
    assert len(payload["graph"]["nodes"]) <= 60


def test_coarsest_level_merges_scenarios_when_still_too_many(medium: InMemoryCatalog) -> None:
    """If one node per step per scenario is still too many, one node per step remains."""
    payload = gather(medium, max_nodes=10)
    assert payload["graph"]["level"] == "step"
    assert sorted(g["step"] for g in nodes(payload, "group")) == sorted(STEPS)
    assert payload["graph"]["clusters"] == []


def test_forced_level_is_used_and_an_unknown_one_is_refused(medium: InMemoryCatalog) -> None:
    assert gather(medium, level="run")["graph"]["level"] == "run"
    with pytest.raises(InvalidInput, match="level"):
        gather(medium, level="sideways")
    assert LEVELS == ("run", "scenario-step", "step")


def test_scenario_filter_keeps_its_header_and_steps(medium: InMemoryCatalog) -> None:
    payload = gather(medium, scenario="scenario-002")
    assert {r["scenario"] for r in payload["runs"] if r["kind"] == "step"} == {"scenario-002"}
    assert [r["id"] for r in payload["runs"] if r["kind"] == "scenario"] == ["scenario-002"]


def test_unknown_scenario_is_a_not_found_naming_the_known_ones(medium: InMemoryCatalog) -> None:
    with pytest.raises(UnknownScenario, match=r"'nope'.*scenario-000") as caught:
        gather(medium, scenario="nope")
    assert isinstance(caught.value, NotFound) and isinstance(caught.value, LookupError)


def test_since_keeps_runs_started_at_or_after_it(medium: InMemoryCatalog) -> None:
    everything = gather(medium)["runs"]
    cutoff = dt.datetime.fromisoformat(everything[len(everything) // 2]["started"])
    later = gather(medium, since=cutoff.replace(tzinfo=None))["runs"]
    assert 0 < len(later) < len(everything)
    assert all(dt.datetime.fromisoformat(r["started"]) >= cutoff for r in later)


def test_explanations_cover_one_miss_per_group_first_then_stop_at_the_limit(
    medium: InMemoryCatalog,
) -> None:
    """Only misses are explained, the newest of every step of every scenario first."""
    asked: list[Run] = []

    def explain(run: Run) -> list[str]:
        asked.append(run)
        return [f"why {run.id}"]

    payload = gather(medium, explain=explain, explain_limit=15)
    assert len(asked) == payload["explained"] == 15
    assert all(not run.cache_hit and str(run.status) == "completed" for run in asked)
    groups = Counter((run.parent_run_id, run.model) for run in asked[:12])
    assert len(groups) == 4 * len(STEPS)  # the first twelve: one per (scenario, step)
    assert payload["details"][asked[0].id]["explain"] == [f"why {asked[0].id}"]
    with pytest.raises(InvalidInput, match="explain_limit"):
        gather(medium, explain=explain, explain_limit=-1)


def test_details_hold_config_signature_parts_and_links(small: InMemoryCatalog) -> None:
    payload = gather(small)
    detail = payload["details"]["simulate-000-2001"]
    assert detail["config"] == {"fuel_price": 3.0, "year": 2001}
    assert all(len(detail[part]) == 64 for part in ("code_hash", "config_hash", "input_hash"))
    links = payload["links"]["simulate-000-2001"]
    assert {(d, k) for d, k, _ in links} == {
        ("input", "prepare_out"),
        ("input", "previous"),
        ("output", "simulate_out"),
    }
    previous = next(a for d, k, a in links if k == "previous")
    assert payload["artifacts"][previous]["producer"] == "simulate-000-2000"


def test_redactor_is_applied_to_config_again(small: InMemoryCatalog) -> None:
    """Records older than a secret pattern are redacted in the page as in the CLI."""
    payload = gather(small, redactor=Redactor.of("fuel"))
    assert payload["details"]["simulate-000-2001"]["config"]["fuel_price"] == "<redacted>"


def test_charts_bin_executed_runtime_per_step_and_hit_rate(medium: InMemoryCatalog) -> None:
    runs = [r for r in medium.find_runs(RunQuery()) if r.model != "scenario"]
    series = time_series(runs, bins=10)
    assert len(series["bins"]) == 10 and sorted(series["runtime"]) == sorted(STEPS)
    completed = [r for r in runs if str(r.status) == "completed"]
    assert sum(series["runs_per_bin"]) == len(completed)
    overall = sum(r.cache_hit for r in completed) / len(completed)
    rates = [rate for rate in series["hit_rate"] if rate is not None]
    assert min(rates) <= overall <= max(rates)
    assert time_series([])["bins"] == []


def test_page_is_self_contained_and_data_cannot_close_its_script(small: InMemoryCatalog) -> None:
    """No external script, style or link; a config string holding </script> stays data."""
    payload = gather(small)
    payload["details"]["simulate-000-2001"]["config"]["note"] = "</script><script>alert(1)</script>"
    page = render_html(payload)
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|@import|url\(\s*['\"]?https?:", page)
    assert page.count("</script>") == 4  # data, details, dagre, the app
    data = re.search(r'id="consist-details" type="application/json">(.*?)</script>', page, re.S)
    assert data is not None
    config = json.loads(data.group(1))["details"]["simulate-000-2001"]["config"]
    assert config["note"].startswith("</script>")
    assert "dagre" in page and "sourceMappingURL" not in page


def test_a_run_that_cannot_be_explained_says_so_and_the_rest_are_kept(
    small: InMemoryCatalog,
) -> None:
    """An explain error (a ConsistError) becomes that run's text; the report still builds."""

    def explain(run: Run) -> list[str]:
        if run.model == "summarize":
            raise NotFound(f"no inputs of {run.id}")
        return ["fine"]

    details = gather(small, explain=explain)["details"]
    texts = {run_id: d["explain"] for run_id, d in details.items() if d["explain"]}
    assert texts["summarize-000-2002"] == [
        "could not explain this run: no inputs of summarize-000-2002"
    ]
    assert texts["simulate-000-2002"] == ["fine"]


def test_every_marker_is_filled_once_and_data_that_looks_like_one_stays_data(
    small: InMemoryCatalog,
) -> None:
    """Template markers in config values are not expanded; none is left in the page."""
    payload = gather(small, title="<b>study</b>")
    payload["details"]["simulate-000-2001"]["config"]["note"] = "{{details}} /*{{app}}*/"
    page = render_html(payload)
    assert not re.search(r"\{\{\w+\}\}", page.replace("{{details}} /*{{app}}*/", ""))
    assert "{{details}} /*{{app}}*/" in page
    assert page.count("3.1.4") >= 2  # the generator meta tag and the footer
    assert "<title>&lt;b&gt;study&lt;/b&gt;</title>" in page
