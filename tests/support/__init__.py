"""Test helpers shared across suites: engines and servers the tests start for themselves."""
