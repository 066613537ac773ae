"""Fixtures shared by every suite under tests/; each group in its own section."""

# -- S3 (moto server on loopback): s3_endpoint, s3_prefix, s3_storage_options, s3_client
pytest_plugins = ["tests.support.s3"]

# -- Docker (a private dockerd, or $CONSIST_TEST_DOCKER_HOST): docker_engine
pytest_plugins += ["tests.support.docker_engine"]

# -- Dask (a LocalCluster of 2 worker processes, one per test module): dask_client
pytest_plugins += ["tests.support.dask_cluster"]
