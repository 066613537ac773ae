"""The identity pieces both executors share: environment hash and mount points."""

from __future__ import annotations

import pytest

from consist.domain import canonical
from consist.domain.errors import ExecutionError
from consist_containers import SECRET_MARKER, env_digest
from consist_containers._common import mount_points


def test_env_digest_ignores_key_order_and_masks_secret_values() -> None:
    """Same variables in any order hash alike; a secret's value never reaches the hash."""
    env = {"B": "2", "A": "1", "TOKEN": "hunter2"}
    digest = env_digest(env, frozenset({"TOKEN"}))
    assert digest == env_digest(dict(reversed(list(env.items()))), frozenset({"TOKEN"}))
    assert digest == env_digest({**env, "TOKEN": "rotated"}, frozenset({"TOKEN"}))
    assert digest == canonical.digest({"A": "1", "B": "2", "TOKEN": SECRET_MARKER})
    assert digest != canonical.digest(env)  # the clear value is not what is hashed


def test_env_digest_still_sees_which_secrets_exist_and_every_plain_value() -> None:
    """Adding a secret, or changing a non-secret value, changes the hash."""
    base = env_digest({"A": "1"}, frozenset())
    assert env_digest({"A": "1", "TOKEN": "x"}, frozenset({"TOKEN"})) != base
    assert env_digest({"A": "2"}, frozenset()) != base


def test_a_secret_name_missing_from_env_is_an_error() -> None:
    """A typo in secret_env must not silently leave the real variable unmasked."""
    with pytest.raises(ExecutionError, match="TOKNE"):
        env_digest({"TOKEN": "x"}, frozenset({"TOKNE"}))


def test_mount_points_are_sorted_normalised_and_must_be_absolute() -> None:
    """Only the container side counts, normalised; relative or clashing targets are refused."""
    assert mount_points({"/h/b": "/out/", "/h/a": "/in//data"}) == ["/in/data", "/out"]
    with pytest.raises(ExecutionError, match="must be absolute"):
        mount_points({"/h": "relative/path"})
    with pytest.raises(ExecutionError, match="both mounted at '/in'"):
        mount_points({"/h/a": "/in", "/h/b": "/in/"})
