"""Test helpers shipped with Consist: the port contract suites."""
