"""Tests of pysoa.test: stubs, assertions, server test cases and the pytest fixtures plugin."""
