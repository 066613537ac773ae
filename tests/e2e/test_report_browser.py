"""`consist report` pages opened in headless Chromium: the demo catalog and 10,000 runs.

Each page is written by the real CLI in a fresh process, opened from file://
in Chromium, and watched through the DevTools protocol: it must reach its
rendered mark (10,000 runs: in under 2 s), log no console error or exception,
request nothing but itself, show the expected nodes, and not be blank.
Without Chromium these tests skip, except where ``CONSIST_REQUIRE_CHROMIUM``
is set (``.ci/run`` sets it, and installs Debian's chromium).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.support.headless_chromium import (
    ChromiumDidNotStart,
    PageVisit,
    chromium_binary,
    file_url,
    visit,
)
from tests.support.many_runs import write_many_runs
from tests.support.png import colour_counts
from typer.testing import CliRunner

from consist.cli import app

pytestmark = pytest.mark.slow
RENDER_BUDGET_MS = 2000.0
CLI = [str(Path(sys.executable).with_name("consist"))]  # the installed script


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = chromium_binary()
    problem = None
    if binary is None:
        problem = "chromium is not installed (apt-get install chromium)"
    else:
        try:
            visit("about:blank", timeout=30, wait_for_render=False)
        except ChromiumDidNotStart as exc:
            problem = f"chromium does not start: {exc}"
    if problem:
        if os.environ.get("CONSIST_REQUIRE_CHROMIUM"):
            pytest.fail(problem)
        pytest.skip(f"SKIPPED LOUDLY: {problem}; the report was not checked in a browser")
    assert binary is not None
    return binary


def consist(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's catalog, made by `consist demo` in its own process."""
    root = tmp_path_factory.mktemp("demo")
    consist("demo", "--workdir", str(root / "consist-demo"), cwd=root)
    return root / "consist-demo"


@pytest.fixture(scope="module")
def demo_page(demo: Path) -> tuple[Path, dict[str, Any]]:
    out = demo / "report.html"
    done = consist("report", "--out", str(out), "--json", cwd=demo)
    return out, json.loads(done.stdout)


@pytest.fixture(scope="module")
def big_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], int]:
    """10,000+ step runs written through the DuckDB catalog in bulk, then `consist report`."""
    from consist_duckdb import DuckDBCatalog

    root = tmp_path_factory.mktemp("big")
    (root / "runs").mkdir()
    catalog = DuckDBCatalog(f"duckdb://{root}/provenance.duckdb")
    try:
        steps = write_many_runs(catalog)
    finally:
        catalog.close()
    out = root / "report.html"
    done = consist("report", "-c", str(root / "provenance.duckdb"), "-r", str(root / "runs"),
                   "--out", str(out), "--json", cwd=root)  # fmt: skip
    return out, json.loads(done.stdout), steps


NODES_PROBE = """(() => ({
  nodes: [...document.querySelectorAll('g.node')].map(n => ({
    id: n.dataset.node, kind: n.dataset.kind, text: n.querySelector('title').textContent })),
  clusters: [...document.querySelectorAll('g.cluster text')].map(t => t.textContent),
  rows: document.querySelectorAll('#runs tbody tr').length,
  pager: document.getElementById('pager').textContent,
  count: document.getElementById('table-count').textContent,
  runtimeLines: document.querySelectorAll('#chart-runtime path[data-series]').length,
  hitLines: document.querySelectorAll('#chart-hits path[data-series]').length,
  panel: document.getElementById('panel').innerText,
}))()"""


def check_clean(page: PageVisit, path: Path) -> None:
    """Rendered, no console error or exception, nothing fetched but the page, not blank."""
    assert page.rendered_ms is not None, page.errors or page.console
    assert page.errors == (), page.errors
    assert set(page.requests) == {file_url(path)}, page.requests
    colours = colour_counts(page.screenshot)
    pixels = sum(colours.values())
    assert len(colours) > 50, f"only {len(colours)} colours: a blank page?"
    assert colours.most_common(1)[0][1] < 0.9 * pixels


def test_demo_report_shows_every_step_run_with_year_status_and_cache(
    chromium: str, demo_page: tuple[Path, dict[str, Any]]
) -> None:
    path, summary = demo_page
    page = visit(file_url(path), probe=NODES_PROBE)
    check_clean(page, path)
    print(
        f"demo report: {summary['runs']} runs, rendered at {page.rendered_ms:.0f} ms", page.timings
    )
    found = page.probe
    runs = [n for n in found["nodes"] if n["kind"] == "run"]
    assert summary["graph_level"] == "run" and len(found["nodes"]) == summary["graph_nodes"]
    assert len(runs) == 30  # 3 scenarios x 5 steps x 2 passes
    assert sum("simulate_year\n2025 · completed · miss" in n["text"] for n in runs) == 3
    assert sum("summarize\ncompleted · hit" in n["text"] for n in runs) == 3
    trips = [n for n in found["nodes"] if n["kind"] == "artifact" and n["text"].startswith("trips")]
    assert trips and all("\n#" in n["text"] and len(n["text"].split("#")[1]) == 10 for n in trips)
    assert len(found["clusters"]) == 6 and all(c.startswith("fuel-") for c in found["clusters"])
    assert found["runtimeLines"] == 3 and found["hitLines"] == 1
    assert found["rows"] == summary["runs"] == 36


def test_clicking_a_missed_step_shows_signature_inputs_and_why(
    chromium: str, demo_page: tuple[Path, dict[str, Any]]
) -> None:
    path, _ = demo_page
    # The newest summarize that executed: it has an earlier one to be compared with.
    click = """(() => {
      const misses = [...document.querySelectorAll('g.node.run')].filter(n =>
        n.querySelector('title').textContent === 'summarize\\ncompleted · miss');
      misses[misses.length - 1].dispatchEvent(new MouseEvent('click', {bubbles: true}));
    })()"""
    page = visit(
        file_url(path), clicks=(click,), probe="document.getElementById('panel').innerText"
    )
    check_clean(page, path)
    text = page.probe.lower()  # headings are upper-cased by CSS
    expected = ["signature", "code", "config", "inputs", "outputs", "trips_2030"]
    expected += ["fuel_price", "why it missed the cache", "compared with", "duration"]
    for word in expected:
        assert word in text, (word, text)


def test_runs_table_filters_and_sorts(
    chromium: str, demo_page: tuple[Path, dict[str, Any]]
) -> None:
    path, _ = demo_page
    steps = (
        "(() => { const f = document.getElementById('filter'); f.value = 'simulate_year 2030';"
        " f.dispatchEvent(new Event('change')); })()",
        "document.querySelector('#runs th[data-key=seconds]').click()",
    )
    probe = """[...document.querySelectorAll('#runs tbody tr')].map(tr =>
      [...tr.children].map(td => td.textContent))"""
    page = visit(file_url(path), clicks=steps, probe=probe)
    check_clean(page, path)
    rows = page.probe
    assert len(rows) == 6  # one 2030 simulation per scenario and pass
    assert all(row[1] == "simulate_year" and row[4] == "2030" for row in rows)
    seconds = [float(row[8].split()[0]) for row in rows]
    assert seconds == sorted(seconds)


def test_ten_thousand_runs_render_collapsed_in_under_two_seconds(
    chromium: str, big_page: tuple[Path, dict[str, Any], int]
) -> None:
    path, summary, steps = big_page
    assert steps >= 10_000
    click = "document.querySelector('g.node.group').dispatchEvent(new MouseEvent('click'))"
    page = visit(file_url(path), probe=NODES_PROBE, clicks=(click,))
    check_clean(page, path)
    print(
        f"10k report: {summary['runs']} runs, rendered at {page.rendered_ms:.0f} ms", page.timings
    )
    assert page.rendered_ms is not None and page.rendered_ms < RENDER_BUDGET_MS
    found = page.probe
    groups = [n for n in found["nodes"] if n["kind"] == "group"]
    assert summary["graph_level"] == "scenario-step"
    assert len(found["nodes"]) == summary["graph_nodes"] <= 300
    assert len(groups) == 20 * 3  # scenarios x steps
    # Every scenario prepares and simulates 168 years (a failed simulation skips its summary).
    firm = [n for n in groups if n["text"].split(" ")[0] in ("prepare", "simulate")]
    assert len(firm) == 40
    assert all("\u00d7168\n2000\u20132167" in n["text"] for n in firm), firm[0]["text"]
    assert len(found["clusters"]) == 20
    assert found["rows"] == 100 and "page 1 of" in found["pager"]
    assert f"of {summary['runs']} runs" in found["count"]
    # A collapsed box lists its runs in the panel (the first 200), each a link to its details.
    assert "prepare-000-2000" in found["panel"] and "168 completed" in found["panel"]


def test_lineage_html_draws_the_walk_with_the_report_engine(
    chromium: str, demo: Path, demo_page: tuple[Path, dict[str, Any]]
) -> None:
    ids = json.loads(consist("runs", "--model", "summarize", "--json", cwd=demo).stdout)
    first = min(ids, key=lambda run: run["created_at"])["id"]
    html = consist("lineage", first, "--format", "html", cwd=demo).stdout
    path = demo / "lineage.html"
    path.write_text(html)
    page = visit(file_url(path), probe=NODES_PROBE)
    check_clean(page, path)
    runs = [n for n in page.probe["nodes"] if n["kind"] == "run"]
    # summarize <- 3 simulate_year <- synthesize_population: five runs of one scenario.
    assert sorted(n["text"].split("\n")[0] for n in runs) == sorted(
        ["summarize", "simulate_year", "simulate_year", "simulate_year", "synthesize_population"]
    )
    assert len(page.probe["clusters"]) == 1


runner = CliRunner()


def test_report_options_since_and_scenario(demo: Path, tmp_path: Path) -> None:
    """--scenario keeps one scenario, --since keeps later runs, bad values say what is wrong."""
    base = ["-c", str(demo / "provenance.duckdb"), "-r", str(demo / "runs")]
    scenarios = json.loads(consist("runs", "--model", "scenario", "--json", cwd=demo).stdout)
    fuel3 = next(s["id"] for s in scenarios if s["id"].startswith("fuel-3-pass1-"))
    one = runner.invoke(app, ["report", *base, "--out", str(tmp_path / "a.html"), "--json",
                              "--scenario", fuel3])  # fmt: skip
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["runs"] == 6
    future = runner.invoke(app, ["report", *base, "--out", str(tmp_path / "b.html"), "--json",
                                 "--since", "2999-01-01"])  # fmt: skip
    assert future.exit_code == 0 and json.loads(future.stdout)["runs"] == 0
    bad_date = runner.invoke(app, ["report", *base, "--since", "yesterday"])
    assert bad_date.exit_code == 2 and "--since" in bad_date.output
    unknown = runner.invoke(app, ["report", *base, "--scenario", "nope"])
    assert unknown.exit_code == 1 and "'nope' is not a scenario" in unknown.output
