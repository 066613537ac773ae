"""ApptainerExecutor: container steps through the ``apptainer`` (or ``singularity``) CLI.

The command line is built by a pure function, :func:`apptainer_command`, so
what we ask Apptainer to do can be tested on machines that do not have it.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from consist.domain.errors import ContainerFailed, ExecutionError, ImageNotFound
from consist.ports.execute import ContainerTask, TaskOutcome

from ._common import LogSink, base_identity, host_sources, mount_points

# A registry reference pinned to content: docker://repo@sha256:<hex> (also oras://),
# or the library's own spelling library://user/collection/image:sha256.<hex>.
_PINNED = re.compile(r"(?:@sha256:|:sha256\.)(?P<hex>[0-9a-f]{64})$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Characters Apptainer's --env / --bind parsers treat as separators or quotes.
_ENV_UNSAFE = re.compile(r"[,\"\n\r]")
_BIND_UNSAFE = re.compile(r"[,:]")
# Host variables that would change what runs without showing in the identity.
_HOST_LEAKS = re.compile(r"^(APPTAINER|SINGULARITY)(ENV_|_BIND$|_BINDPATH$)")
_CHUNK = 1 << 20


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen
class ApptainerCall:
    """One Apptainer invocation: its argv, and variables to add to its environment.

    Secret values, and values Apptainer's ``--env`` parser would split, travel in
    ``env`` as ``APPTAINERENV_<NAME>`` rather than on the command line, where
    any user on the machine could read them in the process list.
    """

    argv: tuple[str, ...] = attrs.field(converter=_strings)
    env: Mapping[str, str] = attrs.field(factory=dict)


def apptainer_command(
    task: ContainerTask,
    *,
    image: str | None = None,
    binds: Mapping[str, str] | None = None,
    binary: str = "apptainer",
) -> ApptainerCall:
    """The ``apptainer exec`` call that runs ``task``; touches neither disk nor network.

    Parameters
    ----------
    task
        The step to run.
    image
        What to pass as the image (an absolute ``.sif`` path, a pinned ``docker://``
        reference); ``task.image`` if not given.
    binds
        Host path -> container path; ``task.volumes`` if not given.
    binary
        ``apptainer`` or ``singularity`` (also picks the environment prefix).

    Raises
    ------
    ExecutionError
        The task asks for something Apptainer cannot express: a ``user``
        (Apptainer runs as the caller), a path with ``,`` or ``:`` in a bind,
        an environment name that is not a shell identifier.
    """
    if task.user is not None:
        raise ExecutionError(
            f"Apptainer runs as the invoking user and cannot switch to user {task.user!r}; "
            "drop user= for Apptainer steps"
        )
    prefix = "SINGULARITYENV_" if Path(binary).name.startswith("singularity") else "APPTAINERENV_"
    argv = [binary, "exec", "--containall", "--no-home"]
    if task.network != "host":
        # `--net --network none` gives a namespace with only loopback, and
        # unprivileged users may ask for it; "host" is Apptainer's default.
        argv += ["--net", "--network", task.network]
    pairs = sorted((binds if binds is not None else task.volumes).items(), key=lambda kv: kv[1])
    for host, target in pairs:
        for path in (host, target):
            if _BIND_UNSAFE.search(path):
                raise ExecutionError(
                    f"bind path {path!r} contains ',' or ':', which Apptainer's --bind "
                    "cannot express; mount a parent directory or rename it"
                )
    if pairs:
        argv += ["--bind", ",".join(f"{host}:{target}" for host, target in pairs)]
    env: dict[str, str] = {}
    for name in sorted(task.env):
        value = task.env[name]
        if not _ENV_NAME.match(name):
            raise ExecutionError(f"environment name {name!r} is not a valid variable name")
        if name in task.secret_env or _ENV_UNSAFE.search(value):
            env[prefix + name] = value
        else:
            argv += ["--env", f"{name}={value}"]
    if task.workdir is not None:
        argv += ["--pwd", task.workdir]
    argv.append(image if image is not None else task.image)
    argv += task.command
    return ApptainerCall(argv=argv, env=env)


def pinned_digest(reference: str) -> str | None:
    """``sha256:<hex>`` for a registry reference pinned to content, else ``None``."""
    found = _PINNED.search(reference)
    return f"sha256:{found['hex']}" if found else None


def is_remote(image: str) -> bool:
    """True for ``docker://``, ``oras://``, ``library://`` ... references, False for files."""
    return "://" in image


class ApptainerExecutor:
    """Runs a :class:`ContainerTask` with ``apptainer exec``.

    The image is a local ``.sif`` file, identified by the SHA-256 of its bytes
    (remembered per file while its size, mtime and inode stay the same), or a
    registry reference pinned by digest (``docker://repo@sha256:...``); an
    unpinned reference is refused, as its content can change under the same name.

    Parameters
    ----------
    url
        ``apptainer://`` or ``singularity://``.
    binary
        The CLI to call; by default the URL's scheme (``apptainer`` or ``singularity``).
    """

    def __init__(self, url: str = "apptainer://", binary: str | None = None) -> None:
        self.url = url
        scheme = url.split("://", 1)[0] if "://" in url else "apptainer"
        self.binary = binary or ("singularity" if scheme == "singularity" else "apptainer")
        self._sif_digests: dict[tuple[str, int, int, int], str] = {}

    def identity(self, task: ContainerTask) -> Mapping[str, Any]:
        """Image digest, command, environment hash, mount points, working directory, user.

        Raises
        ------
        ImageNotFound
            A local image path that does not exist.
        ExecutionError
            A registry reference without a pinned digest, a directory image, or
            a malformed task.
        """
        return base_identity("apptainer", self._image_digest(task.image), task)

    def execute(self, task: ContainerTask) -> TaskOutcome:
        """Run ``apptainer exec``, copying its output to ``task.log_path`` as it comes.

        Raises
        ------
        ContainerFailed
            The command exited non-zero (the message holds the code and the log tail).
        ExecutionError
            Apptainer is not installed, or the task cannot be expressed.
        """
        digest = self._image_digest(task.image)
        mount_points(task.volumes)
        image = task.image if is_remote(task.image) else str(Path(task.image).absolute())
        call = apptainer_command(
            task, image=image, binds=host_sources(task.volumes), binary=self.binary
        )
        environ = {k: v for k, v in os.environ.items() if not _HOST_LEAKS.match(k)}
        environ.update(call.env)
        with LogSink(task.log_path) as sink:
            try:
                proc = subprocess.Popen(
                    call.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    env=environ,
                )
            except FileNotFoundError:
                raise ExecutionError(
                    f"{self.binary!r} is not on PATH; install Apptainer or pass binary= "
                    "with the full path to the apptainer (or singularity) executable"
                ) from None
            stream = proc.stdout
            assert stream is not None  # stdout=PIPE
            try:
                # os.read returns whatever is there, so the log grows while it runs.
                for chunk in iter(lambda: os.read(stream.fileno(), _CHUNK), b""):
                    sink.write(chunk)
            except BaseException:
                proc.kill()  # interrupted, or the log cannot be written: do not leave it running
                raise
            finally:
                exit_code = proc.wait()
                stream.close()
        if exit_code != 0:
            raise ContainerFailed(task.image, exit_code, sink.tail())
        return TaskOutcome(
            exit_code=0,
            log_path=task.log_path,
            meta={"image_digest": digest, "image": task.image, "argv": list(call.argv)},
        )

    def _image_digest(self, image: str) -> str:
        if is_remote(image):
            pinned = pinned_digest(image)
            if pinned is None:
                raise ExecutionError(
                    f"image {image!r} is not pinned to a digest, so its content can change "
                    "under the same name; pin it (docker://repo@sha256:...) or pull it to a "
                    f"file once (`{self.binary} pull image.sif {image}`) and use the .sif"
                )
            return pinned
        return self.sif_digest(image)

    def sif_digest(self, image: str) -> str:
        """``sha256:<hex>`` of a local image file's bytes, read once per unchanged file.

        Raises
        ------
        ImageNotFound
            No such file.
        ExecutionError
            The path is a directory (a sandbox image has no single digest) or unreadable.
        """
        path = Path(image).expanduser()
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise ImageNotFound(
                image, f"build or pull it first (`{self.binary} pull {path.name} docker://...`)"
            ) from None
        if path.is_dir():
            raise ExecutionError(
                f"image {image!r} is a sandbox directory, which has no single content digest; "
                f"build a .sif from it (`{self.binary} build image.sif {image}`)"
            )
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
        known = self._sif_digests.get(key)
        if known is not None:
            return known
        sha = hashlib.sha256()
        try:
            with path.open("rb") as f:
                for block in iter(lambda: f.read(_CHUNK), b""):
                    sha.update(block)
        except OSError as exc:
            raise ExecutionError(f"cannot read image {image!r}: {exc}") from None
        digest = f"sha256:{sha.hexdigest()}"
        self._sif_digests[key] = digest
        return digest
