"""The Redactor: secret keys at any depth, credentials in URLs and in free text."""

from __future__ import annotations

import re

import pytest

from consist.domain import Run
from consist.domain.errors import InvalidInput
from consist.domain.redaction import DEFAULT_SECRET_KEYS, REDACTED, Redactor

DEFAULT = Redactor.of()


@pytest.mark.parametrize(
    "key",
    ["password", "db_passwd", "SECRET", "client_secret", "token", "GitHubToken", "api_key",
     "apikey", "API-KEY", "credentials", "ssh_private_key", "privatekey", "aws_access_key_id"],
)  # fmt: skip
def test_the_default_pattern_finds_secret_keys_anywhere_in_the_key(key: str) -> None:
    assert DEFAULT.is_secret(key)
    assert DEFAULT.value({key: "x"}) == {key: REDACTED}


@pytest.mark.parametrize("key", ["host", "user", "seed", "keyword", "year", "monkey"])
def test_ordinary_keys_are_kept(key: str) -> None:
    assert DEFAULT.value({key: "plain value"}) == {key: "plain value"}


def test_nested_keys_and_lists_of_mappings_are_redacted() -> None:
    config = {
        "db": {"host": "h", "password": "hunter2", "opts": [{"Token": "t"}, {"n": 1}]},
        "credentials": {"user": "u", "key": "k"},
        "n": 3,
    }
    assert DEFAULT.value(config) == {
        "db": {"host": "h", "password": REDACTED, "opts": [{"Token": REDACTED}, {"n": 1}]},
        "credentials": REDACTED,
        "n": 3,
    }


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("DATABASE_URL=postgresql://u:hunter2@db/x", "DATABASE_URL=postgresql://u:<redacted>@db/x"),
        ("see https://user:tok@en@example.org/a?b", "see https://user:<redacted>@example.org/a?b"),
        ("clone https://ghp_abc123@github.com/o/r", "clone https://<redacted>@github.com/o/r"),
        ("'redis://:pw@cache:6379/0'", "'redis://:<redacted>@cache:6379/0'"),
        ("host=db password=hunter2 user=u", "host=db password=<redacted> user=u"),
        ("GET /x?access_token=abc&page=2", "GET /x?access_token=<redacted>&page=2"),
        ("bad config {'api_key': 'sk-1', 'n': 2}", "bad config {'api_key': '<redacted>', 'n': 2}"),
        ('{"Password": "p w", "user": "u"}', '{"Password": "<redacted>", "user": "u"}'),
    ],
)
def test_credentials_in_free_text_are_masked(text: str, masked: str) -> None:
    assert DEFAULT.text(text) == masked
    assert DEFAULT.text(masked) == masked  # redacting twice changes nothing


@pytest.mark.parametrize(
    "text",
    ["workspace://out@2030.csv", "ssh://git@github.com/o/r", "a == b", "user@example.org", "x=1"],
)
def test_text_without_credentials_is_unchanged(text: str) -> None:
    assert DEFAULT.text(text) == text


def test_a_run_is_redacted_in_config_facet_meta_and_error() -> None:
    run = Run(
        "r1",
        config={"api_key": "k", "url": "postgresql://u:p@h/d"},
        facet={"token": "t", "year": 1},
        meta={"note": "x", "secret_note": "s"},
    ).failed("OperationalError", "could not connect to postgresql://u:p@h/d")
    redacted = DEFAULT.run(run)
    assert dict(redacted.config) == {"api_key": REDACTED, "url": "postgresql://u:<redacted>@h/d"}
    assert dict(redacted.facet or {}) == {"token": REDACTED, "year": 1}
    assert dict(redacted.meta) == {"note": "x", "secret_note": REDACTED}
    assert redacted.error_message == "could not connect to postgresql://u:<redacted>@h/d"
    assert DEFAULT.run(redacted) == redacted


def test_the_pattern_is_configurable_and_extendable() -> None:
    extended = Redactor.of(DEFAULT_SECRET_KEYS + "|session_id")
    assert extended.value({"session_id": 1, "token": 2}) == {
        "session_id": REDACTED,
        "token": REDACTED,
    }
    only = Redactor.of(re.compile(r"^pin$"))
    assert only.value({"pin": 1, "PIN": 2, "password": 3}) == {
        "pin": REDACTED,
        "PIN": 2,
        "password": 3,
    }


@pytest.mark.parametrize("bad", ["(unclosed", "", 42])
def test_a_bad_pattern_is_our_error_naming_the_option(bad: object) -> None:
    with pytest.raises(InvalidInput, match="secret_keys"):
        Redactor.of(bad)  # type: ignore[arg-type]
