"""SQLite adapter for Consist."""
