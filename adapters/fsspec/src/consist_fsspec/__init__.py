"""Blob storage on fsspec for Consist."""
