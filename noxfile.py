"""Every check a contributor runs: `uvx nox -l` lists them."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["tests", "lint", "layers", "typecheck"]

ADAPTERS = ["duckdb", "sqlite", "fsspec", "containers"]


def sync(session: nox.Session, *args: str) -> None:
    """Install from uv.lock into this nox venv, not the developer's .venv."""
    session.run_install(
        "uv",
        "sync",
        "--locked",
        *args,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite: core, contracts against every adapter, integration, e2e."""
    sync(session, "--all-packages", "--group", "test", "--group", "adapters")
    session.run("pytest", *session.posargs)


@nox.session
@nox.parametrize("adapter", ADAPTERS)
def adapter(session: nox.Session, adapter: str) -> None:
    """Core plus one adapter only: proves adapters never import each other."""
    sync(session, "--package", f"consist-{adapter}", "--no-default-groups", "--group", "test")
    session.run("pytest", f"adapters/{adapter}/tests", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, ruff format, and the lock file matching pyproject.toml."""
    sync(session, "--all-packages", "--group", "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("uv", "lock", "--check", external=True)


@nox.session
def layers(session: nox.Session) -> None:
    """import-linter: domain pure, ports on domain only, services never on adapters."""
    sync(session, "--all-packages", "--group", "lint")
    session.run("lint-imports", "--no-cache")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy (strict) on the core and every adapter."""
    sync(session, "--all-packages", "--group", "lint")
    session.run("mypy", "src", *[f"adapters/{a}/src" for a in ADAPTERS])


@nox.session(default=False)
def docs(session: nox.Session) -> None:
    """Build the documentation site in strict mode (warnings are errors)."""
    sync(session, "--all-packages", "--group", "docs")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """The benchmark suite: one JSON line per figure, compared to its target."""
    sync(session, "--all-packages", "--group", "test", "--group", "adapters")
    session.run("python", "-m", "benchmarks", *session.posargs)
