"""DuckDB adapters for Consist."""
