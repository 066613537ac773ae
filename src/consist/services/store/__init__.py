"""Where runs are kept: snapshots (the truth), journal, catalog index over them, recovery."""
