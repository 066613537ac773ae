"""A real Docker engine for the tests: the one at $CONSIST_TEST_DOCKER_HOST, or a private dockerd.

The private engine keeps everything under one temporary directory (socket,
data root, exec root, pid file), uses the ``vfs`` storage driver and no
iptables or bridge, so it needs root but no kernel features beyond namespaces,
and it never touches a system Docker. Its one image is imported from a tarball
holding Debian's static busybox, so no registry is needed.

When no engine can be had (no dockerd, no busybox, not root, or the daemon
will not start in this sandbox), every test using the fixture is skipped with
the reason, and the reason is repeated in the terminal summary so a green run
without the Docker tests cannot pass unnoticed.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

ENV_HOST = "CONSIST_TEST_DOCKER_HOST"
BUSYBOX_REPOSITORY = "consist-test/busybox"
BUSYBOX_TAG = "1"
BUSYBOX_IMAGE = f"{BUSYBOX_REPOSITORY}:{BUSYBOX_TAG}"
START_TIMEOUT_S = 60.0
APPLETS = (
    "sh", "cat", "echo", "wc", "sleep", "ls", "ip", "env", "id", "pwd", "printf", "test",
    "true", "false", "mkdir", "head", "tail", "nc", "wget", "seq", "tr", "sort", "touch",
)  # fmt: skip

_skip_reasons: list[str] = []


def _busybox_path() -> str | None:
    for candidate in ("/bin/busybox", "/usr/bin/busybox"):
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("busybox")


def busybox_rootfs(busybox: str, extra_files: Mapping[str, bytes] | None = None) -> bytes:
    """A tarball holding /bin/busybox, one symlink per applet, /tmp, and ``extra_files``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in ("bin", "tmp", "etc"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        for path, data in (extra_files or {}).items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@attrs.define
class DockerEngine:
    """A reachable engine, and how to put images on it."""

    base_url: str
    busybox: str
    started_here: bool
    image: str = BUSYBOX_IMAGE
    _imported: list[str] = attrs.field(factory=list)

    def client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.base_url)

    def import_busybox(
        self, tag: str = BUSYBOX_TAG, extra_files: Mapping[str, bytes] | None = None
    ) -> str:
        """Import the busybox rootfs (plus ``extra_files``) as ``consist-test/busybox:<tag>``;
        returns the new image Id."""
        client = self.client()
        try:
            client.api.import_image_from_data(
                busybox_rootfs(self.busybox, extra_files),
                repository=BUSYBOX_REPOSITORY,
                tag=tag,
            )
            image_id: str = client.images.get(f"{BUSYBOX_REPOSITORY}:{tag}").id
        finally:
            client.close()
        self._imported.append(image_id)
        return image_id

    def remove_imported(self) -> None:
        client = self.client()
        try:
            for image_id in reversed(self._imported):
                with contextlib.suppress(Exception):
                    client.images.remove(image_id, force=True)
        finally:
            client.close()


def _answers(base_url: str) -> bool:
    try:
        import docker

        client = docker.DockerClient(base_url=base_url, timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # any failure means "no engine there"
        return False


class _Dockerd:
    """A dockerd process of our own, everything under one temporary directory."""

    def __init__(self) -> None:
        # Short path: unix socket paths are limited to ~107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="consist-dockerd-"))
        self.socket = self.root / "docker.sock"
        self.base_url = f"unix://{self.socket}"
        self.log = self.root / "dockerd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, dockerd: str) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    dockerd,
                    "--storage-driver=vfs",
                    "--iptables=false",
                    "--bridge=none",
                    "--host",
                    self.base_url,
                    "--data-root",
                    str(self.root / "data"),
                    "--exec-root",
                    str(self.root / "exec"),
                    "--pidfile",
                    str(self.root / "docker.pid"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in pytest must not kill it mid-teardown
            )
        atexit.register(self.stop)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"dockerd exited with code {self.proc.returncode}:\n{self.log_tail()}"
                )
            if self.socket.exists() and _answers(self.base_url):
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"dockerd did not answer within {START_TIMEOUT_S:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)


def _skip(reason: str) -> None:
    message = f"Docker tests skipped: {reason}"
    if message not in _skip_reasons:
        _skip_reasons.append(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """A Docker engine with ``consist-test/busybox:1`` on it; skips (loudly) without one."""
    busybox = _busybox_path()
    if busybox is None:
        _skip("busybox is not installed (apt-get install busybox-static)")
        return
    external = os.environ.get(ENV_HOST)
    if external and _answers(external):
        engine = DockerEngine(base_url=external, busybox=busybox, started_here=False)
        engine.import_busybox()
        yield engine
        engine.remove_imported()
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        _skip("dockerd is not installed (apt-get install docker.io)")
        return
    if os.geteuid() != 0:
        _skip(f"dockerd needs root, and {ENV_HOST} names no running engine")
        return
    daemon = _Dockerd()
    started = time.monotonic()
    try:
        daemon.start(dockerd)
    except RuntimeError as exc:
        daemon.stop()
        _skip(f"dockerd could not start here: {exc}")
        return
    engine = DockerEngine(base_url=daemon.base_url, busybox=busybox, started_here=True)
    try:
        engine.import_busybox()
        print(f"\nprivate dockerd ready in {time.monotonic() - started:.1f} s at {daemon.base_url}")
        yield engine
    finally:
        daemon.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Repeat why the Docker tests did not run, where nobody can miss it."""
    config = terminalreporter.config
    if getattr(config, "_consist_docker_warned", False):  # registered twice (conftest + plugin)
        return
    config._consist_docker_warned = True
    for reason in _skip_reasons:
        terminalreporter.write_sep("!", "WARNING", yellow=True, bold=True)
        terminalreporter.write_line(reason, yellow=True, bold=True)
