"""The benchmark suite: `python -m benchmarks [NAME ...]` (or `uvx nox -s bench`).

Every module ``bench_<name>.py`` here defines ``main(quick: bool) -> None`` that
prints one JSON line per figure through ``benchmarks._harness.report``.
"""
