"""Tabular data: ingestion, validation, views, hybrid views, queries, schema export."""
