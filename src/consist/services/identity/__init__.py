"""Everything that decides a run's identity: content hashes, code identity, the signature."""
