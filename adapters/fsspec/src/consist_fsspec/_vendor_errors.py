"""Vendor failures (botocore, OSError, fsspec) as Consist errors, with credentials scrubbed."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from consist.domain.errors import BlobStoreError, ConsistError

__all__ = ["Scrubber", "VendorErrors"]

_USERINFO = re.compile(r"(?<=://)[^/@]*@")


class Scrubber:
    """Hides every string of some storage options (at any depth), and URL user info, in text."""

    def __init__(self, storage_options: Any) -> None:
        self._secrets = sorted(_secret_strings(storage_options), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _USERINFO.sub("***@", text)


class VendorErrors:
    """Translates a blob store's vendor errors; no message shows a credential.

    Parameters
    ----------
    url
        The store's URL; ``where`` is it with any user info hidden.
    storage_options
        Every string in them (at any depth) is scrubbed from messages.
    """

    def __init__(self, url: str, storage_options: Any) -> None:
        self.where = _USERINFO.sub("***@", url)
        self.scrub = Scrubber(storage_options)

    @contextlib.contextmanager
    def translated(
        self, action: str, not_found: Callable[[], ConsistError] | None = None
    ) -> Iterator[None]:
        """Turn botocore / OSError / fsspec failures into Consist errors, secrets scrubbed."""
        try:
            yield
        except ConsistError:
            raise
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            if not_found is not None:
                raise not_found() from None
            self.fail(action, exc)
        except Exception as exc:
            self.fail(action, exc)

    def fail(self, action: str, exc: BaseException) -> NoReturn:
        # Vendor messages can quote request details; the original exception is
        # not chained so that no traceback printer can show what was scrubbed.
        detail = self.scrub(f"{type(exc).__name__}: {exc}")
        raise BlobStoreError(
            f"blob store {self.where}: {action} failed ({detail}); check the URL, the "
            "credentials in storage_options or the environment, and that the bucket exists"
        ) from None


def _secret_strings(options: Any) -> Iterator[str]:
    """Every string value (at any depth) of storage_options that could be a credential."""
    if isinstance(options, dict):
        for value in options.values():
            yield from _secret_strings(value)
    elif isinstance(options, list | tuple):
        for value in options:
            yield from _secret_strings(value)
    elif isinstance(options, str) and len(options) >= 4:
        yield options
