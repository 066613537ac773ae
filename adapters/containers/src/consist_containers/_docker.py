"""DockerExecutor: container steps on a Docker engine, through the docker SDK."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from consist.domain.errors import ContainerFailed, ExecutionError, ImageNotFound
from consist.ports.execute import ContainerTask, TaskOutcome

from ._common import LogSink, base_identity, host_sources, mount_points

_SCHEME = "docker://"
_log = logging.getLogger(__name__)


class DockerExecutor:
    """Runs a :class:`ContainerTask` on a Docker engine.

    The docker SDK is imported on first use, so building the executor (or
    importing this package) costs nothing until a container step runs.

    Parameters
    ----------
    url
        ``docker://`` uses the engine named by ``DOCKER_HOST`` (or the default
        socket); anything after the scheme is taken as the engine address,
        e.g. ``docker://unix:///run/user/1000/docker.sock``.
    base_url
        The engine address, e.g. ``unix:///path/docker.sock`` or
        ``tcp://127.0.0.1:2375``; wins over an address in ``url``.
    """

    def __init__(self, url: str = _SCHEME, base_url: str | None = None) -> None:
        self.url = url
        address = url.split("://", 1)[1] if "://" in url else ""
        self.base_url = base_url or address or None
        self._docker: Any = None
        self._sdk: Any = None

    # -- the Executor port ---------------------------------------------------

    def identity(self, task: ContainerTask) -> Mapping[str, Any]:
        """Image content digest (the image Id), command, environment hash, mount points,
        working directory and user.

        Raises
        ------
        ImageNotFound
            The engine has no image by that name.
        ExecutionError
            The engine cannot be reached, or the task is malformed (a relative
            mount point, a secret name missing from ``env``).
        """
        return base_identity("docker", self._image_digest(task.image), task)

    def execute(self, task: ContainerTask) -> TaskOutcome:
        """Run the task in a fresh container, stream its output to ``task.log_path``,
        wait for it and remove it.

        The container is created from the image digest resolved here, so a tag
        moved to another image between the cache check and the run cannot mix
        two images into one record; ``meta["image_digest"]`` is what ran.

        Raises
        ------
        ContainerFailed
            The command exited non-zero; the message holds the exit code and
            the last lines of its output.
        ImageNotFound
            The engine has no image by that name.
        ExecutionError
            The engine refused or lost the container, or a mount source is missing.
        """
        digest = self._image_digest(task.image)
        mount_points(task.volumes)  # validates container paths before anything starts
        binds = host_sources(task.volumes)
        options: dict[str, Any] = {
            "command": list(task.command) or None,
            "volumes": {host: {"bind": target, "mode": "rw"} for host, target in binds.items()},
            "environment": dict(task.env),
            "network_mode": task.network,
        }
        if task.workdir is not None:
            options["working_dir"] = task.workdir
        if task.user is not None:
            options["user"] = task.user
        client = self._client()
        errors = self._sdk.errors
        container: Any = None
        with LogSink(task.log_path) as sink:
            try:
                container = client.containers.create(digest, **options)
                container.start()
                for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
                    sink.write(chunk)
                status = container.wait()
            except (errors.DockerException, OSError) as exc:
                raise ExecutionError(
                    f"Docker could not run {task.image!r} ({' '.join(task.command)}): {exc}"
                ) from None
            finally:
                if container is not None:
                    _remove_quietly(container, errors)
        exit_code = int(status.get("StatusCode", -1))
        if exit_code != 0:
            raise ContainerFailed(task.image, exit_code, sink.tail())
        return TaskOutcome(
            exit_code=exit_code,
            log_path=task.log_path,
            meta={"container_id": container.id, "image_digest": digest, "image": task.image},
        )

    def close(self) -> None:
        """Close the connection to the engine, if one was opened; the executor can reopen it."""
        if self._docker is not None:
            client, self._docker = self._docker, None
            try:
                client.close()
            except (self._sdk.errors.DockerException, OSError) as exc:
                _log.warning("could not close the Docker client cleanly: %s", exc)

    def __enter__(self) -> DockerExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------

    def _where(self) -> str:
        return self.base_url or "DOCKER_HOST (or the default socket)"

    def _client(self) -> Any:
        if self._docker is not None:
            return self._docker
        try:
            import docker
        except ImportError:  # pragma: no cover - docker is a hard dependency
            raise ExecutionError(
                "the docker SDK is not installed; install consist-containers"
            ) from None
        try:
            if self.base_url is None:
                client = docker.from_env()
            else:
                client = docker.DockerClient(base_url=self.base_url)
        except (docker.errors.DockerException, OSError) as exc:
            raise ExecutionError(
                f"cannot reach a Docker engine at {self._where()}: {exc}; start dockerd, "
                "or point DOCKER_HOST or base_url at a running engine"
            ) from None
        self._sdk = docker
        self._docker = client
        return client

    def _image_digest(self, image: str) -> str:
        client = self._client()
        errors = self._sdk.errors
        try:
            found = client.images.get(image)
        except errors.ImageNotFound:
            raise ImageNotFound(
                image, f"pull or build it on the engine at {self._where()} (`docker pull {image}`)"
            ) from None
        except (errors.DockerException, OSError) as exc:
            raise ExecutionError(f"cannot look up image {image!r}: {exc}") from None
        digest = found.id
        if not isinstance(digest, str) or not digest.startswith("sha256:"):
            raise ExecutionError(
                f"image {image!r} reports no content digest (got {digest!r}); "
                "a step without a stable image identity cannot be cached"
            )
        return digest


def _remove_quietly(container: Any, errors: Any) -> None:
    """Remove a finished (or interrupted) container; a failure here must not hide the run's."""
    try:
        container.remove(force=True)
    except (errors.DockerException, OSError) as exc:
        _log.warning("could not remove container %s: %s", getattr(container, "id", "?"), exc)
