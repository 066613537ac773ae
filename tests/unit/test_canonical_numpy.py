"""numpy scalars in config and facets are the Python numbers they equal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import consist
from consist.domain import canonical
from consist.domain.errors import ConfigNotSerializable


@pytest.mark.parametrize("one", [1, 1.0, np.int64(1), np.int32(1), np.float64(1.0), np.uint8(1)])
def test_integral_one_in_any_spelling_has_one_config_hash(one: object) -> None:
    assert canonical.digest({"x": one}) == canonical.digest({"x": 1})


def test_numpy_scalars_normalise_to_python_values() -> None:
    value = {
        "f32": np.float32(0.5),
        "f64": np.float64(0.25),
        "flag": np.bool_(True),
        "zero_d": np.array(3),
        "nested": [np.int16(2), {"k": np.float16(1.5)}],
        np.int64(7): "integer key",
    }
    assert canonical.normalize(value) == {
        "f32": 0.5,
        "f64": 0.25,
        "flag": True,
        "zero_d": 3,
        "nested": [2, {"k": 1.5}],
        "7": "integer key",
    }
    assert canonical.normalize(np.bool_(False)) is False  # a bool, never 0


def test_numpy_nan_and_arrays_are_still_refused() -> None:
    with pytest.raises(ConfigNotSerializable, match=r"config\.x"):
        canonical.normalize({"x": np.float64("nan")})
    with pytest.raises(ConfigNotSerializable, match=r"config\.v"):
        canonical.normalize({"v": np.array([1, 2])})


def test_a_step_with_numpy_config_and_facet_hits_the_python_spelling(tmp_path: Path) -> None:
    calls = []

    def step(config: dict) -> None:
        calls.append(config)

    with consist.Tracker(run_dir=tmp_path / "runs", catalog="memory://") as tracker:
        first = tracker.run(
            step,
            config={"n": np.int64(3), "alpha": np.float32(0.5)},
            facet={"n": np.int64(3), "fast": np.bool_(True)},
        )
        second = tracker.run(step, config={"n": 3.0, "alpha": 0.5})
    assert second.cache_hit and len(calls) == 1
    assert first.run.config == {"n": 3, "alpha": 0.5}
    assert first.run.facet == {"n": 3, "fast": True}
