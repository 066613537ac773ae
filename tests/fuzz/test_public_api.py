"""Hostile input through the public API, on DuckDB and on SQLite, with Hypothesis.

Configs, run ids, artifact keys, file names (Latin-1 ones included), mount
URIs, view names, facets and find_runs filters are drawn from strategies that
favour the awkward: control characters, lone surrogates, reserved names, very
long and very deep values. After every example the suite checks that:

- every call either worked or raised one of our errors (a ConsistError);
- nothing was created outside the run directory, the mounts and the catalog;
- the catalog still answers (find_runs and a SQL query);
and at the end, that ``consist db rebuild`` reproduces the same runs.

The per-catalog counts (calls, our errors, raw exceptions) are printed in the
pytest summary.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.fuzz.tally import TALLIES, Tally
from typer.testing import CliRunner

import consist
from consist.cli import app

CATALOGS = {
    "duckdb": "duckdb:///{root}/catalog/provenance.duckdb",
    "sqlite": "sqlite:///{root}/catalog/provenance.sqlite",
}
OURS = ("runs", "mounts", "catalog")  # where the library may write: run dir, mounts, catalog
MIN_CALLS = 3000

SURROGATES = ["\udce9", "\ud800", "\udfff"]
SPECIAL = [
    "runs", "Runs", "artifacts", "run_config_kv", "schema_version", "consist_run_id",
    "consist_year", "x\n", "a\tb", "x\x00y", "\x7f", "..", "../x", "a/../../b", "/etc/passwd",
    "a" * 300, "", " ", "caf\udce9", '"; DROP TABLE runs; --', "%2e%2e/x", "%00", "\u202e",
    "C:\\x", "ñandú", "x" * 256, "runs.csv",
]  # fmt: skip

# Cheap strategies on purpose: drawing is most of the suite's time.
texts = st.one_of(
    st.text(max_size=8),
    st.sampled_from(SPECIAL),
    st.tuples(st.text(max_size=3), st.sampled_from(SURROGATES)).map("".join),
)
plain_ids = st.text(alphabet="abcXYZ0189._-", min_size=4, max_size=12).map(lambda s: "r" + s)
run_ids = st.one_of(plain_ids, plain_ids, texts)
keys = st.one_of(st.text(alphabet="abcxyz_09", max_size=8).map(lambda s: "k" + s), texts)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**63), st.floats(), texts
)
json_like = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=6,
)
facets = st.one_of(st.none(), st.dictionaries(st.one_of(texts, st.integers()), scalars, max_size=3))


def _deep(levels: int) -> dict[str, Any]:
    top: dict[str, Any] = {}
    node = top
    for _ in range(levels):
        node["a"] = {}
        node = node["a"]
    return top


def _self_containing() -> dict[str, Any]:
    loop: dict[str, Any] = {"x": 1}
    loop["loop"] = loop
    return loop


odd_configs = st.sampled_from(
    [
        lambda: _deep(99),
        lambda: _deep(101),
        lambda: _deep(500),
        _self_containing,
        lambda: {"f": object()},
        lambda: {1: {2.5: 3}},
        lambda: {"s": {1, 2}},
        lambda: {"p": Path("caf\udce9.csv")},
        lambda: {"n": float("nan")},
        lambda: [1, 2],
        lambda: "text",
    ]
).map(lambda make: make())
configs = st.one_of(st.none(), st.dictionaries(texts, json_like, max_size=5), odd_configs)
FILTERS = ["model", "year", "iteration", "status", "limit", "tags"]
API_NAMES = {"parent_run_id": "parent_id"}
words = st.text(alphabet="abcdefxyz_", min_size=1, max_size=6)
FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "run_id": (plain_ids, texts),
    "model": (st.one_of(st.none(), words), st.one_of(texts, st.integers())),
    "year": (st.one_of(st.none(), st.integers(1900, 2100)), st.one_of(texts, st.floats())),
    "tags": (st.lists(words, max_size=2), st.one_of(texts, st.lists(texts, max_size=3))),
    "config": (st.dictionaries(words, st.integers() | words, max_size=3), configs),
    "facet": (st.one_of(st.none(), st.dictionaries(words, st.integers(), max_size=2)), facets),
}
filters = st.dictionaries(
    st.sampled_from([*FILTERS, "parent_run_id", "signature", "colour"]),
    st.one_of(scalars, st.lists(texts, max_size=2), st.sampled_from(["completed", "failed"])),
    max_size=3,
)
view_names = st.one_of(
    st.sampled_from(["v_a", "v_b", "v_c", "runs", "ARTIFACTS", "consist_v"]),
    texts.filter(lambda t: not t.isidentifier()),
)


class PlannedFailure(Exception):
    """Raised inside a run on purpose: the run must be recorded as failed, nothing else."""


class World:
    """One tracker over one catalog, with a mount of input files, fuzzed example after example."""

    def __init__(self, root: Path, catalog: str, tally: Tally) -> None:
        self.root = root
        self.tally = tally
        inputs = root / "mounts" / "inputs"
        inputs.mkdir(parents=True)
        (root / "catalog").mkdir()
        (inputs / "raw.csv").write_text("value,group\n0.1,a\n0.6,b\n")
        self.latin1 = os.fsdecode(os.fsencode(inputs) + b"/caf\xe9.csv")
        with open(os.fsencode(self.latin1), "wb") as handle:
            handle.write(b"a\n1\n")
        self.files: list[Any] = [
            str(inputs / "raw.csv"),
            inputs / "raw.csv",
            self.latin1,
            os.fsencode(self.latin1),
            "inputs://raw.csv",
            "inputs://caf%E9.csv",
            str(inputs / "missing.csv"),
        ]
        self.url = CATALOGS[catalog].format(root=root)
        self.tracker = self.open()

    def open(self) -> Any:
        return consist.Tracker(
            self.root / "runs",
            catalog=self.url,
            mounts={"inputs": self.root / "mounts" / "inputs"},
            code_identity="function",
        )

    # -- what the library may not touch ---------------------------------------------
    def listing(self) -> set[bytes]:
        """Every path under the test's root, outside the run dir, mounts and catalog."""
        found: set[bytes] = set()
        base = os.fsencode(self.root)
        for dirpath, dirnames, filenames in os.walk(base):
            relative = os.path.relpath(dirpath, base)
            if relative == b".":
                dirnames[:] = [d for d in dirnames if os.fsdecode(d) not in OURS]
            found.update(os.path.join(relative, name) for name in dirnames + filenames)
        return found

    # -- the operations --------------------------------------------------------------
    # Each operation draws everything first and returns the calls to make: what
    # Hypothesis draws must never depend on what the library answered.
    def run(self, data: st.DataObject) -> Callable[[], None]:
        # At most one field hostile, so that many runs start and the logging
        # calls inside them (where most of the file-name handling is) are reached.
        hostile = data.draw(st.sampled_from([None, None, None, *FIELDS]), "hostile field")

        def pick(field: str) -> Any:
            good, bad = FIELDS[field]
            return data.draw(bad if field == hostile else good, field)

        run_id = pick("run_id")
        options = {field: pick(field) for field in FIELDS if field != "run_id"}
        steps = [
            self.log(data, step)
            for step in data.draw(
                st.lists(st.sampled_from(["input", "output", "frame"]), max_size=3)
            )
        ]
        fail = data.draw(st.booleans(), "fail")

        def body() -> None:
            try:
                with self.tracker.start_run(run_id, **options) as active:
                    for step in steps:
                        step(active)
                    if fail:
                        raise PlannedFailure("fuzz")
            except PlannedFailure:
                pass

        return lambda: self.tally.attempt("start_run", body)

    def log(self, data: st.DataObject, step: str) -> Callable[[Any], None]:
        key = data.draw(st.one_of(st.none(), keys), "key")
        facet = data.draw(facets, "artifact facet")
        if step == "frame":
            frame = pd.DataFrame({"a": [1, 2]})
            return lambda active: self.tally.attempt(
                "log_dataframe", lambda: active.log_dataframe(frame, key=key or "k")
            )
        if step == "input":
            path = data.draw(
                st.one_of(
                    st.sampled_from(self.files),
                    texts.map(lambda t: "inputs://" + t),
                    texts,
                ),
                "input path",
            )
            return lambda active: self.tally.attempt(
                "log_input", lambda: active.log_input(path, key=key, facet=facet)
            )
        name = data.draw(st.one_of(st.sampled_from(["out.csv", "caf\udce9.csv"]), texts), "name")

        def output(active: Any) -> None:
            try:
                target = Path(active.workspace) / name
                target.write_text("a\n1\n")
            except (OSError, ValueError):
                return  # the test could not make such a file; nothing to ask the library
            self.tally.attempt(
                "log_output", lambda: active.log_output(target, key=key, facet=facet)
            )

        return output

    def find(self, data: st.DataObject) -> Callable[[], None]:
        chosen = data.draw(filters, "filters")
        # consist.find_runs has named parameters: an unknown one is Python's TypeError.
        named = {
            API_NAMES.get(k, k): v for k, v in chosen.items() if k in API_NAMES or k in FILTERS
        }

        def calls() -> None:
            self.tally.attempt("find_runs", lambda: self.tracker.find_runs(**chosen))
            self.tally.attempt(
                "consist.find_runs", lambda: consist.find_runs(tracker=self.tracker, **named)
            )

        return calls

    def view(self, data: st.DataObject) -> Callable[[], None]:
        name = data.draw(view_names, "view name")
        key = data.draw(st.one_of(keys, st.lists(keys, max_size=2)), "view key")
        return lambda: self.tally.attempt(
            "create_view", lambda: self.tracker.create_view(name, key)
        )

    def lookup(self, data: st.DataObject) -> Callable[[], None]:
        ref = data.draw(st.one_of(texts, plain_ids), "ref")
        direction = data.draw(st.sampled_from(["upstream", "downstream", "sideways"]))
        calls: list[tuple[str, Callable[[], Any]]] = [
            ("get_run", lambda: self.tracker.get_run(ref)),
            ("get_artifact", lambda: self.tracker.get_artifact(ref)),
            ("lineage", lambda: self.tracker.lineage(ref, direction=direction)),
            ("find_artifacts", lambda: self.tracker.find_artifacts(key=ref)),
            ("explain", lambda: self.tracker.explain(ref)),
        ]
        what, call = data.draw(st.sampled_from(calls), "lookup")
        return lambda: self.tally.attempt(what, call)

    # -- the invariants ------------------------------------------------------------
    def catalog_answers(self, sql: bool = True) -> None:
        assert len(self.tracker.find_runs(limit=3)) <= 3
        if sql:  # a query also rebuilds the views: the costly half, so not after every example
            count = consist.run_query("SELECT count(*) AS n FROM runs", tracker=self.tracker)
            assert int(count["n"][0]) >= 0

    def runs_seen(self) -> dict[str, tuple[str, str | None]]:
        return {r.id: (str(r.status), r.signature_digest) for r in self.tracker.find_runs()}


@pytest.mark.parametrize("catalog", sorted(CATALOGS))
def test_hostile_calls_raise_only_our_errors_and_leave_the_catalog_whole(
    catalog: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of hostile calls: only ConsistErrors, no stray files, a catalog that answers."""
    tally = TALLIES[catalog] = Tally()
    root = tmp_path / "world"
    root.mkdir()
    (root / "cwd").mkdir()
    monkeypatch.chdir(root / "cwd")  # a relative path written by mistake would land here
    world = World(root, catalog, tally)
    before_root = world.listing()
    neighbours = set(os.listdir(tmp_path))
    operations = [world.run, world.run, world.find, world.view, world.lookup]
    examples = [0]

    @settings(settings.get_profile("fuzz"))
    @given(st.data())
    def example(data: st.DataObject) -> None:
        raw_before = tally.raw
        chosen = data.draw(st.lists(st.sampled_from(operations), min_size=10, max_size=16))
        for call in [operation(data) for operation in chosen]:
            call()
        if not os.environ.get("CONSIST_FUZZ_SURVEY"):  # survey: count every finding, go on
            assert tally.raw == raw_before, "\n".join(tally.raw_seen[raw_before:])
        assert world.listing() == before_root, "a file was created outside run dir and mounts"
        assert set(os.listdir(tmp_path)) == neighbours
        examples[0] += 1
        world.catalog_answers(sql=examples[0] % 5 == 0)

    try:
        example()
    finally:
        world.tracker.close()
    if os.environ.get("CONSIST_FUZZ_SURVEY"):
        Path(os.environ["CONSIST_FUZZ_SURVEY"]).write_text("\n".join(tally.raw_seen))
    assert tally.raw == 0, "\n".join(tally.raw_seen)
    assert tally.calls >= MIN_CALLS, tally.summary(catalog)

    world.tracker = world.open()
    indexed = world.runs_seen()
    world.tracker.close()
    result = CliRunner().invoke(
        app, ["db", "rebuild", "--catalog", world.url, "--run-dir", str(root / "runs")]
    )
    assert result.exit_code == 0, result.output
    world.tracker = world.open()
    try:
        assert world.runs_seen() == indexed
        tally.runs_rebuilt = len(indexed)
        assert world.tracker.snapshots.pending() == []
        world.catalog_answers()
    finally:
        world.tracker.close()
