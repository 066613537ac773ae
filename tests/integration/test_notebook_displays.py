"""What a notebook cell or a rich terminal shows for Consist's objects, and runs as DataFrames."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest
from rich.console import Console

import consist
from consist.domain import display
from consist.domain.errors import InvalidInput

HOSTILE_NAME = "<script>alert('step')</script>"
HOSTILE_VALUE = "<img src=x onerror=alert(1)> & [bold red]not markup[/]"
VOID = {"br", "hr", "img", "input", "meta", "link", "col", "wbr"}


class StrictParser(HTMLParser):
    """Checks that every element is closed in order and collects the text a reader sees."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(fragment: str) -> StrictParser:
    parser = StrictParser()
    parser.feed(fragment)
    parser.close()
    assert parser.open == [], f"unclosed: {parser.open}"
    return parser


def rendered(obj: Any) -> str:
    console = Console(record=True, width=80, color_system=None)
    console.print(obj)
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines()), text
    return text


def flat(text: str) -> str:
    """The words of a rendering, panel borders and line breaks removed."""
    return " ".join(word for word in text.split() if word != "│")


def make_trips(config: dict[str, Any]) -> dict[str, Any]:
    return {"trips": pd.DataFrame({"n": [config["n"]]})}


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Every displayable object, with hostile text in step names, config and facets."""
    root = tmp_path_factory.mktemp("displays")
    tracker = consist.Tracker(root / "runs", db_path=root / "provenance.duckdb")
    first = tracker.run(
        make_trips,
        name=HOSTILE_NAME,
        config={"n": 1, "label": HOSTILE_VALUE},
        year=2030,
        facet={"mode": "car", "note": HOSTILE_VALUE, "cost": {"fuel": 1.5}},
    )
    second = tracker.run(
        make_trips, name=HOSTILE_NAME, config={"n": 2, "label": HOSTILE_VALUE}, year=2030
    )
    hit = tracker.run(
        make_trips, name=HOSTILE_NAME, config={"n": 2, "label": HOSTILE_VALUE}, year=2030
    )
    with consist.scenario("study-a", tracker=tracker, config={"label": HOSTILE_VALUE}) as sc:
        sc.run("demand", make_trips, config={"n": 3}, year=2035)
    yield {
        "tracker": tracker,
        "run": second.run,
        "result": second,
        "hit": hit,
        "artifact": second.outputs["trips"],
        "record": tracker.get_record(second.run_id),
        "explanation": tracker.explain(second.run),
        "scenario": sc,
        "first": first,
    }
    tracker.close()


KINDS = ["tracker", "run", "record", "result", "hit", "artifact", "explanation", "scenario"]


@pytest.mark.parametrize("kind", KINDS)
def test_html_is_well_formed_and_escapes_hostile_text(objects: Any, kind: str) -> None:
    """`_repr_html_` parses with every element closed; hostile names are text, never markup."""
    html = objects[kind]._repr_html_()
    parser = parsed(html)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert "<script>" not in html and "<img" not in html
    shown = "".join(parser.text)
    if kind in ("run", "result", "hit", "explanation"):
        assert HOSTILE_NAME in shown  # the step name, shown as written
    if kind in ("run", "result", "hit", "scenario"):
        assert HOSTILE_VALUE in shown  # the config value, shown as written


@pytest.mark.parametrize("kind", KINDS)
def test_rich_render_fits_80_columns_and_prints_markup_literally(objects: Any, kind: str) -> None:
    """`__rich__` renders in an 80-column console; `[bold red]` in a value is printed as is."""
    text = rendered(objects[kind])
    if kind in ("run", "result", "hit"):
        assert "[bold red]not markup[/]" in flat(text)


def test_run_card_shows_id_status_step_year_hashes_and_timing(objects: Any) -> None:
    """A run's card: id, status, step, year, short signature hashes, duration."""
    run = objects["run"]
    text = rendered(run)
    sig = run.signature
    for fact in (run.id, "completed", "2030", sig.digest[:12], sig.config_hash[:12], "duration"):
        assert fact in text, fact
    assert sig.digest not in text  # short hashes, not the full 64 characters
    assert "hit" in rendered(objects["hit"].run).splitlines()[0]


def test_record_card_lists_input_and_output_keys(objects: Any) -> None:
    """`tracker.get_record(id)` shows the run with its inputs and outputs by key."""
    record = objects["record"]
    text = rendered(record)
    assert record.run.id in text and "inputs: none" in text and "outputs" in text
    assert "trips" in text and "workspace://trips.parquet" in text


def test_result_card_lists_outputs_and_the_hit_its_source(objects: Any) -> None:
    """A RunResult shows its output keys and, on a hit, the run it reused."""
    hit = objects["hit"]
    text = rendered(hit)
    assert "trips" in text and "cached from" in text and hit.cached_from in text
    html_text = "".join(parsed(hit._repr_html_()).text)
    assert "outputs" in html_text and "trips" in html_text


def test_explanation_card_names_the_changed_config_key(objects: Any) -> None:
    """The explanation of the second run names config key n (1 -> 2) and the run compared."""
    explanation = objects["explanation"]
    text = rendered(explanation)
    assert explanation.compared_with.id == objects["first"].run_id
    assert objects["first"].run_id in text and "config" in text and "1 -> 2" in text


def test_scenario_and_tracker_cards_list_their_runs(objects: Any) -> None:
    """The scenario lists its steps; the tracker lists its newest runs and its catalog."""
    scenario = rendered(objects["scenario"])
    assert "study-a" in scenario and "demand" in scenario and "2035" in scenario
    tracker = rendered(objects["tracker"])
    assert "provenance.duckdb" in tracker and objects["hit"].run_id in tracker
    closed = consist.Tracker(objects["tracker"].run_dir.parent / "other-runs", catalog="memory://")
    closed.close()
    assert "closed" in rendered(closed).splitlines()[0]  # a closed tracker still displays


def test_without_a_registered_renderer_rich_prints_plain_lines(objects: Any) -> None:
    """The domain's stand-in (no rich import) prints the card's lines, markup unread."""
    saved = list(display._rich_renderer)
    display._rich_renderer.clear()
    try:
        text = rendered(objects["run"])
    finally:
        display._rich_renderer[:] = saved
    assert text.splitlines()[0].startswith(f"Run {objects['run'].id} [completed]")
    assert "[bold red]not markup[/]" in flat(text)


def test_the_domain_imports_no_rich() -> None:
    """Displays live in the domain without rich: importing the domain loads no rich module."""
    probe = "import sys, consist.domain; print(any(m.startswith('rich') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_history_is_a_pandas_frame_of_runs_and_facets(objects: Any) -> None:
    """`tracker.history()`: one row per run, newest first, run columns then facet columns."""
    tracker = objects["tracker"]
    frame = tracker.history()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["id"]) == [r.id for r in tracker.find_runs()]
    for column in ("id", "model", "year", "iteration", "status", "started", "ended"):
        assert column in frame.columns
    for column in ("duration_s", "cache_hit", "signature", "facet.mode", "facet.cost.fuel"):
        assert column in frame.columns
    row = frame.set_index("id").loc[objects["first"].run_id]
    assert row["facet.mode"] == "car" and row["facet.cost.fuel"] == 1.5
    assert row["year"] == 2030 and row["status"] == "completed"
    assert bool(frame.set_index("id").loc[objects["hit"].run_id, "cache_hit"]) is True
    assert str(frame["started"].dtype).startswith("datetime64")


def test_find_runs_as_polars_and_module_level(objects: Any) -> None:
    """`find_runs(as_="polars")` filters as the list does; consist.find_runs takes as_ too."""
    tracker = objects["tracker"]
    frame = tracker.find_runs(model=HOSTILE_NAME, as_="polars")
    assert isinstance(frame, pl.DataFrame)
    assert frame.height == 3 and set(frame["model"]) == {HOSTILE_NAME}
    assert frame.schema["started"] == pl.Datetime("us", "UTC")
    module = consist.find_runs(tracker=tracker, year=2035, as_="pandas")
    assert list(module["model"]) == ["demand"]
    assert isinstance(tracker.find_runs(), list)  # the default is unchanged
    assert tracker.history(as_="polars").height == len(tracker.find_runs())


def test_mixed_facet_types_become_text_for_polars(tmp_path: Path) -> None:
    """A facet key holding a number in one run and text in another is one text column."""
    with consist.Tracker(tmp_path / "runs", catalog="memory://") as tracker:
        tracker.run(make_trips, name="s", config={"n": 1}, facet={"mode": 3})
        tracker.run(make_trips, name="s", config={"n": 2}, facet={"mode": "car"})
        frame = tracker.history(as_="polars")
    assert sorted(frame["facet.mode"].to_list()) == ["3", "car"]


@pytest.mark.parametrize("bad", ["csv", "Pandas", 3, ["pandas"]])
def test_bad_as_is_our_invalid_input(objects: Any, bad: Any) -> None:
    """An unknown `as_` is InvalidInput naming the argument and the choices."""
    with pytest.raises(InvalidInput, match=r"as_=.*'pandas' or 'polars'"):
        objects["tracker"].find_runs(as_=bad)
    with pytest.raises(InvalidInput, match="as_="):
        objects["tracker"].history(as_=bad)
    with pytest.raises(InvalidInput, match="as_="):
        consist.find_runs(tracker=objects["tracker"], as_=bad)
    with pytest.raises(InvalidInput, match="index_by= or as_="):
        consist.find_runs(tracker=objects["tracker"], as_="pandas", index_by="year")
