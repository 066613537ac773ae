"""The import-linter contracts hold, and would catch a domain module importing duckdb."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")


def _lint(src_dir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(src_dir), "PATH": str(Path(sys.executable).parent)},
    )


@pytest.mark.skipif(not Path(LINT_IMPORTS).exists(), reason="import-linter not installed")
def test_layer_contracts_pass() -> None:
    result = _lint(ROOT / "src", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(not Path(LINT_IMPORTS).exists(), reason="import-linter not installed")
def test_domain_importing_duckdb_breaks_the_contract(tmp_path: Path) -> None:
    """Proof the contract bites: plant `import duckdb` in a domain module."""
    shutil.copytree(ROOT / "src", tmp_path / "src")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    victim = tmp_path / "src" / "consist" / "domain" / "signature.py"
    victim.write_text("import duckdb  # planted\n" + victim.read_text())
    result = _lint(tmp_path / "src", tmp_path)
    assert result.returncode != 0
    assert "domain is pure" in result.stdout
