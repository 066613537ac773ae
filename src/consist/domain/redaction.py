"""Secrets kept out of what Consist stores: values under secret-looking keys, URL credentials.

A :class:`Redactor` replaces, in a run's config, facet and meta and in each
artifact's meta and facet, the value of every key the secret-key pattern finds
(searched anywhere in the key, case-insensitively, at any depth) with
:data:`REDACTED`. In every string it keeps, and in a failed run's error text, it
masks the password of ``scheme://user:password@host`` URLs (and the whole user
part of ``http(s)://token@host``), and the value of ``key=value`` and
``'key': 'value'`` items whose key is a secret one.

Redaction happens after the config hash is computed, so a changed secret still
changes the signature.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from consist.domain.artifact import Artifact
from consist.domain.errors import InvalidInput
from consist.domain.run import Run, RunRecord

__all__ = ["DEFAULT_SECRET_KEYS", "REDACTED", "Redactor"]

REDACTED = "<redacted>"
# Fields Consist itself writes that hold the *names* of secret variables, never
# their values (a container step's record); their key matches the pattern.
_NAMES_OF_SECRETS = frozenset({"secret_env"})
DEFAULT_SECRET_KEYS = (
    r"password|passwd|secret|token|api[_-]?key|credential|private[_-]?key|access[_-]?key"
)

# scheme://userinfo@ : the userinfo runs to the last "@" before the path, query or a quote.
_URL_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/?#'\"<>]*)@", re.ASCII
)
_TOKEN_USER_SCHEMES = frozenset({"http", "https", "ftp", "ftps", "git+https"})
_ASSIGNMENT = re.compile(
    r"(?P<key>[A-Za-z_][\w.-]*)(?P<sep>\s*=\s*)(?P<value>'[^']*'|\"[^\"]*\"|[^\s,;&'\"]+)"
)
_QUOTED_ITEM = re.compile(
    r"(?P<q>['\"])(?P<key>[^'\"\n]{1,200})(?P=q)(?P<sep>\s*:\s*)"
    r"(?P<value>'[^']*'|\"[^\"]*\"|[^\s,}\]]+)"
)


def _compile(keys: str | re.Pattern[str] | None) -> re.Pattern[str]:
    if keys is None:
        return re.compile(DEFAULT_SECRET_KEYS, re.IGNORECASE)
    if isinstance(keys, re.Pattern) and isinstance(keys.pattern, str):
        return keys
    if not isinstance(keys, str) or not keys:
        raise InvalidInput(
            f"secret_keys must be a non-empty regular expression (a str), not {keys!r}"
        )
    try:
        return re.compile(keys, re.IGNORECASE)
    except re.error as exc:
        raise InvalidInput(
            f"secret_keys {keys!r} is not a valid regular expression: {exc}"
        ) from None


@attrs.frozen
class Redactor:
    """Replaces secrets in records before they are stored, shown or published."""

    pattern: re.Pattern[str] = attrs.field(factory=lambda: _compile(None))

    @classmethod
    def of(cls, keys: str | re.Pattern[str] | None = None) -> Redactor:
        """From a regular expression searched in keys (a string is case-insensitive);
        None means :data:`DEFAULT_SECRET_KEYS`.

        Raises
        ------
        InvalidInput
            ``keys`` is not a valid regular expression.
        """
        return cls(_compile(keys))

    def is_secret(self, key: object) -> bool:
        return isinstance(key, str) and self.pattern.search(key) is not None

    def value(self, value: Any) -> Any:
        """``value`` with secret keys' values replaced and credentials in strings masked."""
        if isinstance(value, Mapping):
            return {
                k: REDACTED if self.is_secret(k) and k not in _NAMES_OF_SECRETS else self.value(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def text(self, text: str) -> str:
        """Free text (an error message) with URL credentials and ``secret=value`` masked."""
        if "@" in text:
            text = _URL_USERINFO.sub(self._userinfo, text)
        if "=" in text:
            text = _ASSIGNMENT.sub(self._item, text)
        if ":" in text and ("'" in text or '"' in text):
            text = _QUOTED_ITEM.sub(self._item, text)
        return text

    def run(self, run: Run) -> Run:
        return attrs.evolve(
            run,
            config=self.value(run.config),
            facet=None if run.facet is None else self.value(run.facet),
            meta=self.value(run.meta),
            error_message=None if run.error_message is None else self.text(run.error_message),
        )

    def artifact(self, artifact: Artifact) -> Artifact:
        return attrs.evolve(
            artifact,
            meta=self.value(artifact.meta),
            facet=None if artifact.facet is None else self.value(artifact.facet),
        )

    def record(self, record: RunRecord) -> RunRecord:
        return attrs.evolve(
            record,
            run=self.run(record.run),
            artifacts=tuple(self.artifact(a) for a in record.artifacts),
        )

    def _userinfo(self, match: re.Match[str]) -> str:
        scheme, userinfo = match["scheme"], match["userinfo"]
        user, colon, _password = userinfo.partition(":")
        if colon:
            return f"{scheme}{user}:{REDACTED}@"
        if scheme[:-3].lower() in _TOKEN_USER_SCHEMES and userinfo:
            return f"{scheme}{REDACTED}@"
        return match[0]

    def _item(self, match: re.Match[str]) -> str:
        if not self.is_secret(match["key"]):
            return match[0]
        value = match["value"]
        quote = value[0] if value[:1] in ("'", '"') else ""
        start = match.start("value") - match.start(0)
        return f"{match[0][:start]}{quote}{REDACTED}{quote}"
