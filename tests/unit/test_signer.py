"""The signer alone: which part of a signature moves when code, config or inputs change."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from consist.domain import Artifact, MountTable, Run, RunRecord, Signature, merkle_identity
from consist.domain.errors import ConfigNotSerializable, MissingInputFile
from consist.memory import InMemoryCatalog
from consist.services.identity.hashing import FileHasher, HashMemo
from consist.services.identity.signer import Signer


def step_a(x: int) -> int:
    return x + 1


def step_b(x: int) -> int:
    return x * 2


@pytest.fixture
def catalog() -> InMemoryCatalog:
    return InMemoryCatalog()


@pytest.fixture
def signer(tmp_path: Path, catalog: InMemoryCatalog) -> Signer:
    return Signer(
        hasher=FileHasher(HashMemo(None)),
        mounts=MountTable.of({"data": tmp_path}),
        runs=catalog,
        code_identity="function",
        project_dir=tmp_path,
    )


def _sign(signer: Signer, **changes: object) -> Signature:
    parts: dict[str, object] = {
        "step": "demand",
        "config_hash": Signer.config_hash({"rate": 1}),
        "input_identities": {"input:zones": "sha-of-zones"},
        "fn": step_a,
    }
    parts.update(changes)
    return signer.sign(**parts)  # type: ignore[arg-type]


def _produced(catalog: InMemoryCatalog, run_id: str, *, ok: bool = True) -> Artifact:
    signature = Signature("code", "config", f"inputs-of-{run_id}")
    run = Run(id=run_id, model="upstream", signature=signature)
    run = run.completed() if ok else run.failed("ValueError", "boom")
    artifact = Artifact(
        id=f"a-{run_id}", key="trips", uri="workspace://trips.csv",
        content_hash="sha-bytes", producer_run_id=run_id,
    )  # fmt: skip
    catalog.record(RunRecord(run, (artifact,), ()))
    return artifact


def test_config_change_moves_only_the_config_part(signer: Signer) -> None:
    """Another config value changes config_hash; code and inputs stay."""
    before = _sign(signer)
    after = _sign(signer, config_hash=Signer.config_hash({"rate": 2}))
    assert after.config_hash != before.config_hash
    assert (after.code_hash, after.input_hash) == (before.code_hash, before.input_hash)


def test_equal_configs_hash_equal_whatever_their_spelling(signer: Signer) -> None:
    """Key order and 1 vs 1.0 do not count in the config part."""
    assert Signer.config_hash({"a": 1, "b": 2.0}) == Signer.config_hash({"b": 2, "a": 1.0})
    assert Signer.config_hash(None) == Signer.config_hash({})


def test_unserialisable_config_names_the_key() -> None:
    """A value with no canonical form is our error, naming the key."""
    with pytest.raises(ConfigNotSerializable, match="handle"):
        Signer.config_hash({"handle": object()})


def test_executor_identity_counts_in_the_config_part(signer: Signer) -> None:
    """A container's image digest is hashed with the config: a new image is a new config."""
    plain = Signer.config_hash({"rate": 1})
    one = Signer.config_hash({"rate": 1}, {"image_digest": "sha256:1"})
    two = Signer.config_hash({"rate": 1}, {"image_digest": "sha256:2"})
    assert len({plain, one, two}) == 3


def test_input_change_moves_only_the_input_part(signer: Signer) -> None:
    """Another input identity changes input_hash only; the order of inputs does not count."""
    before = _sign(signer, input_identities={"input:a": "1", "input:b": "2"})
    reordered = _sign(signer, input_identities={"input:b": "2", "input:a": "1"})
    after = _sign(signer, input_identities={"input:a": "1", "input:b": "3"})
    assert reordered == before
    assert after.input_hash != before.input_hash
    assert (after.code_hash, after.config_hash) == (before.code_hash, before.config_hash)


def test_code_change_moves_only_the_code_part(signer: Signer) -> None:
    """Another function body, or another step name, changes code_hash only."""
    before = _sign(signer)
    other_fn = _sign(signer, fn=step_b)
    other_step = _sign(signer, step="supply")
    for after in (other_fn, other_step):
        assert after.code_hash != before.code_hash
        assert (after.config_hash, after.input_hash) == (before.config_hash, before.input_hash)
    assert _sign(signer) == before


def test_code_identity_given_per_step_wins(signer: Signer) -> None:
    """A version label for one step replaces the tracker's default code identity."""
    labelled = _sign(signer, code_identity="v2")
    assert labelled.code_hash == "user:v2#demand"


def test_input_produced_by_a_completed_run_is_its_merkle_link(
    signer: Signer, catalog: InMemoryCatalog
) -> None:
    """An artifact a run produced is identified by the producer's signature and its key."""
    artifact = _produced(catalog, "up-1")
    producer = catalog.get_run("up-1").signature_digest
    assert producer is not None
    assert signer.input_identity(artifact) == merkle_identity(producer, "trips")


def test_merkle_link_ignores_the_bytes_and_follows_the_producer(
    signer: Signer, catalog: InMemoryCatalog
) -> None:
    """Same bytes from two different producers: two identities; the content hash is not used."""
    first = _produced(catalog, "up-1")
    second = _produced(catalog, "up-2")
    assert first.content_hash == second.content_hash
    assert signer.input_identity(first) != signer.input_identity(second)


def test_input_of_a_failed_or_unknown_producer_is_its_content(
    signer: Signer, catalog: InMemoryCatalog
) -> None:
    """A failed run vouches for nothing: the artifact's content hash identifies it."""
    failed = _produced(catalog, "up-bad", ok=False)
    assert signer.input_identity(failed) == "sha-bytes"
    orphan = Artifact(id="x", key="k", uri="data://x.csv", producer_run_id="nobody")
    assert signer.input_identity(orphan) == "uri:data://x.csv"


def test_remembered_signature_wins_until_forgotten(
    signer: Signer, catalog: InMemoryCatalog
) -> None:
    """A run re-opened here is no Merkle parent; forgetting reads the catalog again."""
    artifact = _produced(catalog, "up-1")
    linked = signer.input_identity(artifact)
    signer.remember("up-1", None)
    assert signer.input_identity(artifact) == "sha-bytes"
    signer.forget("up-1")
    assert signer.input_identity(artifact) == linked


def test_sign_inputs_uses_the_merkle_identity_of_each_input(
    signer: Signer, catalog: InMemoryCatalog
) -> None:
    """A new producer signature upstream changes the downstream input part, nothing else."""
    artifact = _produced(catalog, "up-1")
    config = Signer.config_hash({})
    before = signer.sign_inputs(step="s", config_hash=config, inputs={"trips": artifact}, fn=step_a)
    catalog.record(
        RunRecord(
            Run(id="up-1", signature=Signature("code", "config", "other")).completed(),
            (artifact,), (),
        )
    )  # fmt: skip
    signer.forget("up-1")
    after = signer.sign_inputs(step="s", config_hash=config, inputs={"trips": artifact}, fn=step_a)
    assert after.input_hash != before.input_hash
    assert (after.code_hash, after.config_hash) == (before.code_hash, before.config_hash)


def test_hashed_files_count_by_content_keyed_by_uri(signer: Signer, tmp_path: Path) -> None:
    """depends_on files are keyed by their mount URI and change with their bytes."""
    path = tmp_path / "params.txt"
    path.write_text("a")
    first = signer.file_identities("depends_on", [path])
    assert list(first) == ["depends_on:data://params.txt"]
    path.write_text("b")
    assert signer.file_identities("depends_on", [path]) != first


def test_missing_hashed_file_is_named(signer: Signer, tmp_path: Path) -> None:
    """A depends_on path that does not exist is a MissingInputFile naming it."""
    with pytest.raises(MissingInputFile, match=r"nothing\.txt"):
        signer.file_identities("depends_on", [tmp_path / "nothing.txt"])


def test_signer_imports_no_numpy() -> None:
    """Computing a signature never loads numpy (or pandas) into the process."""
    code = (
        "import sys; from consist.services.identity.signer import Signer; "
        "Signer.config_hash({'a': 1}); "
        "print(sorted(m for m in ('numpy', 'pandas', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
