"""Every ```python block in docs/ is a complete program; each runs in an empty folder.

The convention (stated in docs/index.md): a fenced block opened with ```python is
run as-is by ``python`` in a fresh temporary directory and must exit 0. A block
that is a fragment is preceded by ``<!-- docs-test: skip (reason) -->``. The
programs run in parallel subprocesses so the suite stays fast.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(
    r"^(?P<marker><!-- docs-test: skip \((?P<why>[^)]+)\) -->\n)?```python\n(?P<code>.*?)^```",
    re.MULTILINE | re.DOTALL,
)
# Pages written before this convention existed; their owners convert them.
NOT_YET_CONVERTED: set[str] = set()


@attrs.frozen
class Example:
    page: str
    line: int
    code: str
    skip_reason: str | None

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"


def examples() -> list[Example]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        if page.name in NOT_YET_CONVERTED:
            continue
        text = page.read_text()
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("code"))
            found.append(Example(page.name, line, match.group("code"), match.group("why")))
    return found


EXAMPLES = examples()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[int, str]]]:
    """Run every runnable example, a few at a time, and collect exit codes and output.

    At most one example per core runs at once: started all together, forty
    interpreters importing pandas and DuckDB on two cores ran past any timeout.
    """

    def run(example: Example) -> tuple[str, tuple[int, str]]:
        folder = tmp_path_factory.mktemp(example.page.replace(".md", ""))
        (folder / "example.py").write_text(example.code)
        try:
            done = subprocess.run(
                [sys.executable, "example.py"],
                cwd=folder,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=180,
            )
        except subprocess.TimeoutExpired as exc:
            output = exc.output if isinstance(exc.output, str) else ""
            return example.name, (-1, f"timed out after 180 s\n{output}")
        return example.name, (done.returncode, done.stdout)

    runnable = [e for e in EXAMPLES if e.skip_reason is None]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        yield dict(pool.map(run, runnable))


def test_the_docs_have_runnable_examples() -> None:
    """The convention is in use: my pages hold runnable examples (guards the regex)."""
    pages = {e.page for e in EXAMPLES if e.skip_reason is None}
    assert {"quickstart.md", "concepts.md", "usage.md", "adapters.md"} <= pages
    assert any(e.skip_reason for e in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_docs_example_runs(example: Example, outcomes: dict[str, tuple[int, str]]) -> None:
    """The example exits 0 when run as a program in an empty folder."""
    if example.skip_reason is not None:
        pytest.skip(f"fragment: {example.skip_reason}")
    code, output = outcomes[example.name]
    assert code == 0, f"{example.name} failed:\n{output[-3000:]}"
