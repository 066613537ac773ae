"""The ``travel-model`` images the container examples of seeds 002 and 003 name.

Each is the test busybox plus a ``/bin/python`` that runs its script with ``sh``
and a ``/run.py`` that checks its input and "computes" pre-built Parquet
results (the image has no Python). The engine's own event log tells whether a
container was created, so a cache hit is shown to start none.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd

from tests.support.docker_engine import busybox_rootfs

VERSIONS = ("v2.1", "v2.2")
PYTHON_SHIM = b'#!/bin/sh\nexec /bin/sh "$@"\n'
RUN_PY = """\
year="$2"
test -s /inputs/{input_name} || exit 3
cp "/opt/model/results-$year.parquet" /outputs/results.parquet
"""


def results_for(year: int, version: str) -> pd.DataFrame:
    return pd.DataFrame({"zone": [1, 2], "trips": [120, 80], "year": year, "model": version})


def travel_model_rootfs(busybox: str, version: str, input_name: str) -> bytes:
    """Busybox plus ``/bin/python``, ``/run.py`` (which needs ``/inputs/<input_name>``)
    and the 2030 results of this ``version``."""
    results = io.BytesIO()
    results_for(2030, version).to_parquet(results, index=False)
    buffer = io.BytesIO(
        busybox_rootfs(busybox, {"/opt/model/results-2030.parquet": results.getvalue()})
    )
    run_py = RUN_PY.format(input_name=input_name).encode()
    with tarfile.open(fileobj=buffer, mode="a") as tar:
        for name, data in (("bin/python", PYTHON_SHIM), ("run.py", run_py)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@contextlib.contextmanager
def travel_model_images(docker_engine: Any, input_name: str) -> Iterator[Any]:
    """``travel-model:v2.1`` and ``:v2.2`` on the test engine; yields its client and
    removes the images afterwards."""
    client = docker_engine.client()
    tags = []
    try:
        for version in VERSIONS:
            client.api.import_image_from_data(
                travel_model_rootfs(docker_engine.busybox, version, input_name),
                repository="travel-model",
                tag=version,
            )
            tags.append(f"travel-model:{version}")
        yield client
    finally:
        for tag in tags:
            with contextlib.suppress(Exception):
                client.images.remove(tag, force=True)
        client.close()


def containers_created(client: Any, since: float) -> int:
    """Containers the engine itself reports created since ``since`` (its event log)."""
    until = time.time() + 1
    time.sleep(1.1)  # the engine's event timestamps have a one-second resolution
    events = client.events(
        since=int(since), until=int(until) + 1, decode=True,
        filters={"type": "container", "event": "create"},
    )  # fmt: skip
    return sum(1 for _ in events)
