"""The fsspec adapter's tests use the shared moto S3 server (tests/support/s3.py)."""

from tests.support.s3 import s3_client, s3_endpoint, s3_prefix, s3_storage_options

__all__ = ["s3_client", "s3_endpoint", "s3_prefix", "s3_storage_options"]
