"""A run's life: active run, context stack, events, artifacts, queries, lineage, explain."""
