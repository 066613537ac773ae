"""Container executors for Consist."""
