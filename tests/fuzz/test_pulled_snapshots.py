"""Hostile publications pulled from a shared store, on DuckDB and on SQLite, with Hypothesis.

Machine A publishes an honest run (a raw input outside every mount, one output
whose bytes are in the store) to a local folder store. Each example starts from
that publication, gives it a fresh run id and fresh artifact ids, then replaces,
deletes or inserts fields at random paths with hostile values (``file://`` URIs,
absolute paths, ``..`` plain and percent-encoded, control characters, lone
surrogates, huge strings, wrong types, deep nesting, bogus digests, run ids
that do not match), writes it to the store and pulls it on machine B (with
``tracker.pull``, or one time in eight with ``consist pull``). After every example:

- the pull either worked, refused the run in its report, or raised a ConsistError;
- reading what was accepted (``artifact_path``, ``consist.load``) raised nothing else;
- nothing was created or changed outside B's run directory, mounts and catalog;
- the catalog still answers (find_runs and a SQL query).

The per-catalog counts are printed in the pytest summary as ``<catalog> pull``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.fuzz.tally import TALLIES, Tally
from typer.testing import CliRunner

import consist
from consist.cli import app
from consist.domain.digests import BLOB_DIGEST

CATALOGS = {
    "duckdb": "duckdb:///{root}/catalog/provenance.duckdb",
    "sqlite": "sqlite:///{root}/catalog/provenance.sqlite",
}
OURS = ("runs", "mounts", "catalog")  # where B may write
MIN_PULLS = 300
EXAMPLES = int(os.environ.get("CONSIST_FUZZ_PULL_EXAMPLES", "480"))

Path_ = tuple[str | int, ...]
# Fields that decide where bytes go or which run a record belongs to: drawn half the time.
FOCUS: list[Path_] = [
    ("artifacts", 1, "uri"),
    ("artifacts", 1, "abs_path"),
    ("artifacts", 1, "meta", BLOB_DIGEST),
    ("artifacts", 1, "content_hash"),
    ("artifacts", 1, "producer_run_id"),
    ("artifacts", 1, "key"),
    ("artifacts", 1, "driver"),
    ("artifacts", 0, "uri"),
    ("artifacts", 0, "abs_path"),
    ("run", "id"),
    ("run", "meta", "_physical_run_dir"),
    ("links", 1, "run_id"),
    ("links", 1, "artifact_id"),
    ("links", 1, "key"),
]


def _deep(levels: int, leaf: Any = 1) -> Any:
    for _ in range(levels):
        leaf = {"x": leaf}
    return leaf


def hostile_values(outside: Path) -> st.SearchStrategy[Any]:
    out = outside.as_posix()
    strings = [
        f"file://{out}/pwned.csv", f"file:///{out}/pwned.csv", f"{out}/pwned.csv", out, "/",
        "workspace://../../outside/pwned.csv", "workspace://%2e%2e/%2E%2E/outside/pwned.csv",
        "workspace://%252e%252e/x.csv", "runs://../../outside/pwned.csv", "runs://",
        "inputs://../pwned.csv", "inputs://%2e%2e/pwned.csv", "inputs://", "workspace://",
        f"workspace://{out}/pwned.csv", "workspace://a/../../../pwned.csv", "..", "../x",
        "workspace://pwned\n.csv", "workspace://pwned%0A.csv", "x\n", "a\x00b", "\x7f", "\u202e",
        "caf\udce9.csv", "\ud800", "workspace://caf%E9.csv", "C:\\x\\pwned.csv", "", " ",
        "0" * 64, "g" * 64, "A398" * 16, "../../" + "0" * 58, "honest", "p0", "p1",
        "x" * 100_000, "completed", "failed", "running", "csv", "parquet", "zarr",
        "2026-13-45T99:00:00", "nan", "~/pwned.csv", "$HOME/pwned.csv",
    ]  # fmt: skip
    # Values a schema accepts, so that more publications get as far as restoring bytes.
    plausible = [
        "workspace://out.csv", "workspace://sub/out.csv", "workspace://sub/../out.csv",
        "inputs://raw.csv", "inputs://new.csv", "runs://honest/out.csv", "runs://p1/out.csv",
        "workspace://caf%C3%A9.csv", "workspace://a%2Fb.csv", "outside://pwned.csv",
    ]  # fmt: skip
    return st.one_of(
        st.sampled_from(strings),
        st.sampled_from(plausible),
        st.sampled_from(plausible),
        st.text(max_size=6),
        st.sampled_from([None, True, False, 0, -1, 2**70, 1.5, float("inf"), float("nan")]),
        st.sampled_from([[], [1], ["a"], {}, {"a": 1}, {"": None}]),
        st.sampled_from([40, 300, 900]).map(_deep),
    )


def paths_of(node: Any, path: Path_ = ()) -> Iterator[Path_]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths_of(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths_of(value, (*path, index))


def parent_of(doc: Any, path: Path_) -> Any:
    for step in path[:-1]:
        try:
            doc = doc[step]
        except (KeyError, IndexError, TypeError):
            return None
    return doc


def mutate(doc: dict[str, Any], data: st.DataObject, values: st.SearchStrategy[Any]) -> Any:
    """Replace, delete or insert one field of ``doc`` (in place, or a new root)."""
    everywhere = list(paths_of(doc))
    path = data.draw(st.one_of(st.sampled_from(FOCUS), st.sampled_from(everywhere)), "path")
    action = data.draw(st.sampled_from(["replace", "replace", "delete", "insert"]), "action")
    value = data.draw(values, "value")
    if not path:
        return value if action == "replace" else doc
    parent = parent_of(doc, path)
    last = path[-1]
    if isinstance(parent, dict) and isinstance(last, str):
        if action == "delete":
            parent.pop(last, None)
        elif action == "insert":
            name = data.draw(st.one_of(st.text(max_size=4), st.sampled_from(["..", "\udce9"])))
            target = parent.get(last)
            (target if isinstance(target, dict) else parent)[name] = value
        else:
            parent[last] = value
    elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        if action == "delete":
            parent.pop(last)
        elif action == "insert":
            parent.insert(last, value)
        else:
            parent[last] = value
    return doc


class Puller:
    """Machine B: pulls one hostile publication per example from the shared store."""

    def __init__(self, root: Path, catalog: str, tally: Tally) -> None:
        self.root = root
        self.tally = tally
        self.imported = self.refused = 0
        self.store = root / "store"
        self.honest = publish_honest_run(root / "a", self.store)
        (root / "mounts" / "inputs").mkdir(parents=True)
        (root / "mounts" / "inputs" / "raw.csv").write_text("v\n1\n")
        (root / "catalog").mkdir()
        self.values = hostile_values(root / "outside")
        self.url = CATALOGS[catalog].format(root=root)
        self.tracker = self.open()

    def open(self) -> Any:
        return consist.Tracker(
            self.root / "runs",
            catalog=self.url,
            blobs=str(self.store),
            mounts={"inputs": self.root / "mounts" / "inputs"},
        )

    def listing(self) -> dict[bytes, tuple[int, int]]:
        """Every path under the root outside B's run dir, mounts and catalog, with its
        size and modification time (so a changed file counts, not only a new one)."""
        found: dict[bytes, tuple[int, int]] = {}
        base = os.fsencode(self.root)
        for dirpath, dirnames, filenames in os.walk(base):
            if os.path.relpath(dirpath, base) == b".":
                dirnames[:] = [d for d in dirnames if os.fsdecode(d) not in OURS]
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                info = os.lstat(path)
                found[path] = (info.st_size, info.st_mtime_ns)
        return found

    def publication(self, n: int, data: st.DataObject) -> tuple[str, bytes]:
        run_id = f"p{n}"
        doc = copy.deepcopy(self.honest)
        doc["run"]["id"] = run_id
        fresh = {
            a["id"]: hashlib.md5(f"{n}{a['id']}".encode()).hexdigest() for a in doc["artifacts"]
        }
        for artifact in doc["artifacts"]:
            artifact["id"] = fresh[artifact["id"]]
            if artifact["producer_run_id"]:
                artifact["producer_run_id"] = run_id
        for link in doc["links"]:
            link.update(run_id=run_id, artifact_id=fresh[link["artifact_id"]])
        for _ in range(data.draw(st.sampled_from([1, 1, 1, 2, 3]), "mutations")):
            doc = mutate(doc, data, self.values)
        name = data.draw(st.sampled_from([run_id] * 5 + [f"q{n}", "honest"]), "published as")
        try:
            payload = json.dumps(doc).encode("utf-8", "surrogatepass")
        except (ValueError, RecursionError):  # the test could not write this; draw another
            payload = b"{" * 5000
        return name, payload

    def pull(self, name: str, via: str) -> None:
        if via == "cli":
            self.tracker.close()  # the command opens the catalog itself
            try:
                report = self.tally.attempt("consist pull", lambda: self.pull_cli(name))
            finally:
                self.tracker = self.open()
        else:
            report = self.tally.attempt("pull", lambda: self.tracker.pull([name]))
        if report is None:
            return
        self.imported += len(report.imported)
        self.refused += len(report.refused)
        for run_id in report.imported:
            self.tally.attempt("read accepted", lambda run_id=run_id: self.read(run_id))

    def pull_cli(self, name: str) -> SimpleNamespace:
        where = ["--catalog", self.url, "--run-dir", str(self.root / "runs")]
        result = CliRunner().invoke(
            app, ["pull", name, *where, "--blobs", str(self.store), "--json"]
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code in (0, 1), result.output  # 1: something was refused
        return SimpleNamespace(**json.loads(result.stdout))

    def read(self, run_id: str) -> None:
        found = self.tracker.get_artifacts_for_run(run_id)
        for artifact in [*found.inputs.values(), *found.outputs.values()]:
            self.tally.attempt("artifact_path", lambda a=artifact: self.tracker.artifact_path(a))
            self.tally.attempt("load", lambda a=artifact: consist.load(a, tracker=self.tracker))

    def catalog_answers(self) -> None:
        assert len(self.tracker.find_runs(limit=3)) <= 3
        count = consist.run_query("SELECT count(*) AS n FROM runs", tracker=self.tracker)
        assert int(count["n"][0]) >= 0


def publish_honest_run(root: Path, store: Path) -> dict[str, Any]:
    """Machine A's publication, as ``push`` wrote it; machine A is then gone."""
    raw = root / "raw.csv"
    raw.parent.mkdir(parents=True)
    raw.write_text("v\n1\n")
    with consist.Tracker(root / "runs", db_path=root / "a.duckdb", blobs=str(store)) as a:
        with a.start_run("honest", "export", config={"x": 1}) as run:
            run.log_input(raw, "raw")
            (run.workspace / "out.csv").write_text("v\n2\n")
            run.log_output(run.workspace / "out.csv", "out")
        assert a.push().published == ["honest"]
    shutil.rmtree(root)
    honest: dict[str, Any] = json.loads((store / "named" / "snapshots" / "honest.json").read_text())
    return honest


@pytest.mark.parametrize("catalog", sorted(CATALOGS))
def test_hostile_publications_are_refused_or_harmless(
    catalog: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hundreds of mutated publications pulled: only ConsistErrors, nothing written outside."""
    tally = TALLIES[f"{catalog} pull"] = Tally()
    root = tmp_path / "world"
    root.mkdir()
    (root / "cwd").mkdir()
    monkeypatch.chdir(root / "cwd")  # a relative path written by mistake would land here
    puller = Puller(root, catalog, tally)
    neighbours = set(os.listdir(tmp_path))
    counter = [0]
    pulled = [0]

    @settings(settings.get_profile("fuzz"), max_examples=EXAMPLES)
    @given(st.data())
    def example(data: st.DataObject) -> None:
        counter[0] += 1
        raw_before = tally.raw
        name, payload = puller.publication(counter[0], data)
        via = data.draw(st.sampled_from(["api"] * 7 + ["cli"]), "via")
        named = puller.store / "named" / "snapshots" / f"{name}.json"
        honest = named.read_bytes() if named.exists() else None
        named.write_bytes(payload)
        before = puller.listing()
        try:
            puller.pull(name, via)
            pulled[0] += 1
            assert tally.raw == raw_before, "\n".join(tally.raw_seen[raw_before:])
            assert puller.listing() == before, "a file was created or changed outside B"
            assert set(os.listdir(tmp_path)) == neighbours
            puller.catalog_answers()
        finally:
            if honest is None:
                named.unlink()
            else:
                named.write_bytes(honest)

    try:
        example()
    finally:
        puller.tracker.close()
    assert not (root / "outside").exists()
    assert tally.raw == 0, "\n".join(tally.raw_seen)
    assert pulled[0] >= min(MIN_PULLS, EXAMPLES), tally.summary(f"{catalog} pull")
    # Some publications must get through, or restoring and reading them was never tried.
    assert puller.imported >= EXAMPLES // 20, (puller.imported, puller.refused)
