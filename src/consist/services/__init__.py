"""The application layer: tracker, run engine, hashing, snapshots; talks to ports only."""
