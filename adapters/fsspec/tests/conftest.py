"""The fsspec adapter's tests use the shared moto S3 server (tests/support/s3.py)."""

import sys
from pathlib import Path

# `pytest adapters/fsspec` alone does not put the workspace root on sys.path
# (importlib import mode), and the shared test helpers live there.
_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from tests.support.s3 import (  # noqa: E402
    s3_client,
    s3_endpoint,
    s3_prefix,
    s3_storage_options,
)

__all__ = ["s3_client", "s3_endpoint", "s3_prefix", "s3_storage_options"]
