"""Matrix views: the Zarr / NetCDF outputs of many runs as one lazy xarray Dataset."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from consist.domain import Artifact, Run, RunQuery, RunStatus
from consist.domain.errors import ConsistError, InvalidInput, NotFound

if TYPE_CHECKING:
    from consist.services.data.tracker_data import DataVirtualization

__all__ = ["MATRIX_DRIVERS", "MatrixViewFactory"]

logger = logging.getLogger("consist.matrix")
MATRIX_DRIVERS = ("zarr", "netcdf")
_FILTERS = ("year", "iteration", "model", "parent_run_id", "tags", "status")


class MatrixViewFactory:
    """``tracker.matrix``: open array outputs across runs lazily, stacked along ``run_id``."""

    def __init__(self, dv: DataVirtualization) -> None:
        self._dv = dv

    def runs_for(self, key: str, **filters: Any) -> list[tuple[Run, Artifact]]:
        """The (run, artifact) pairs ``load`` would open, oldest run first."""
        unknown = set(filters) - {*_FILTERS, "scenario", "run_ids"}
        if unknown:
            raise InvalidInput(
                f"matrix.load filters are {', '.join((*_FILTERS, 'scenario', 'run_ids'))}; "
                f"not {sorted(unknown)}"
            )
        if "scenario" in filters:
            filters["parent_run_id"] = filters.pop("scenario")
        run_ids = filters.pop("run_ids", None)
        runs = {r.id: r for r in self._dv.find_runs(RunQuery(**filters))}
        chosen: dict[str, tuple[Run, Artifact]] = {}
        artifacts = sorted(self._dv.find_artifacts(key=key), key=lambda a: a.created_at)
        for artifact in artifacts:
            run = runs.get(artifact.producer_run_id or "")
            if run is None or run.status is RunStatus.FAILED:
                continue
            if run_ids is not None and run.id not in run_ids:
                continue
            if artifact.driver not in MATRIX_DRIVERS:
                continue
            chosen[run.id] = (run, artifact)  # the newest artifact of a run wins
        return sorted(
            chosen.values(),
            key=lambda pair: (
                pair[0].year is None,
                pair[0].year or 0,
                pair[0].iteration or 0,
                pair[0].created_at,
            ),
        )

    def load(
        self,
        key: str,
        variables: Sequence[str] | None = None,
        *,
        chunks: Any = None,
        **filters: Any,
    ) -> Any:
        """One lazy Dataset over every matching run's Zarr or NetCDF output ``key``.

        Parameters
        ----------
        key
            Artifact key of the array outputs (driver ``zarr`` or ``netcdf``).
        variables
            Data variables to keep (all by default).
        chunks
            Passed to ``xarray.open_zarr`` / ``open_dataset``; the default
            ``{}`` keeps each store's own chunking, backed by dask.
        **filters
            Run filters: ``year``, ``iteration``, ``model``, ``scenario`` (or
            ``parent_run_id``), ``tags``, ``status``, ``run_ids`` (a collection).

        Returns
        -------
        xarray.Dataset
            Dimensions ``(run_id, ...)`` with coordinates ``year``, ``iteration``
            and ``scenario`` along ``run_id``. Nothing is read until asked
            (``.compute()``, ``.values``, plotting).

        Raises
        ------
        NotFound
            No run has such an output (or its file is gone).
        InvalidInput
            A variable is missing from a store, or a filter is unknown.
        """
        import numpy as np
        import xarray as xr

        pairs = self.runs_for(key, **filters)
        datasets = []
        kept: list[Run] = []
        for run, artifact in pairs:
            dataset = self._open(artifact, {} if chunks is None else chunks)
            if dataset is None:
                continue
            if variables is not None:
                missing = [v for v in variables if v not in dataset.data_vars]
                if missing:
                    raise InvalidInput(
                        f"run {run.id!r}: {key!r} has no variables {missing}; "
                        f"it has {sorted(map(str, dataset.data_vars))}"
                    )
                dataset = dataset[list(variables)]
            datasets.append(dataset.expand_dims(run_id=[run.id]))
            kept.append(run)
        if not datasets:
            raise NotFound(
                f"no run matching {filters or 'any filter'} has a readable zarr or netcdf "
                f"output with key {key!r}"
            )
        combined = xr.concat(datasets, dim="run_id", join="outer", combine_attrs="drop_conflicts")

        def numbers(values: list[int | None]) -> Any:
            if any(v is None for v in values):
                return np.array([np.nan if v is None else v for v in values], dtype=float)
            return np.array(values, dtype=np.int64)

        return combined.assign_coords(
            year=("run_id", numbers([r.year for r in kept])),
            iteration=("run_id", numbers([r.iteration for r in kept])),
            scenario=("run_id", np.array([r.parent_run_id for r in kept], dtype=object)),
        )

    def _open(self, artifact: Artifact, chunks: Any) -> Any:
        import xarray as xr

        try:
            path = self._dv.artifact_path(artifact)
        except ConsistError as exc:
            logger.warning("matrix view: %s; left out", exc)
            return None
        if artifact.driver == "zarr":
            return xr.open_zarr(path, chunks=chunks)
        return xr.open_dataset(path, chunks=chunks)
