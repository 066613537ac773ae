"""The README's two commands: the demo runs from a fresh folder; the test command is CI's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    """The commands of the README's first ```bash block, without their comments."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.DOTALL)
    assert block is not None, "README.md has no ```bash block"
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


def test_readme_states_the_two_commands_ci_runs() -> None:
    """README's commands are `uv run consist demo` and `uv run pytest`, and .ci/run runs both."""
    commands = readme_commands()
    assert commands == ["uv run consist demo", "uv run pytest"]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    for command in commands:
        assert command in ci_lines, f".ci/run does not run {command!r}"


def test_demo_runs_in_a_fresh_folder_and_its_second_pass_hits(tmp_path: Path) -> None:
    """`consist demo` exits 0 in an empty folder; pass 2 is all cache hits and faster."""
    script = Path(sys.executable).with_name("consist")
    done = subprocess.run(
        [str(script), "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env={"COLUMNS": "120", "PATH": str(script.parent), "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    first = re.search(r"pass 1: (\d+) steps, (\d+) cache hits, ([\d.]+) s", done.stdout)
    second = re.search(r"pass 2: (\d+) steps, (\d+) cache hits, ([\d.]+) s", done.stdout)
    assert first and second, done.stdout[-2000:]
    steps, hits = int(second.group(1)), int(second.group(2))
    assert steps == hits > 0
    assert int(first.group(2)) < int(first.group(1))  # pass 1 executed most steps
    assert float(second.group(3)) < float(first.group(3))
    demo = tmp_path / "consist-demo"
    assert (demo / "provenance.duckdb").is_file() and (demo / "runs").is_dir()
    assert str(demo / "runs") in done.stdout and "cross-run query" in done.stdout
