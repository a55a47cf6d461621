"""Benchmarks of django-pgflow beside its peers (run by hand, never in CI): see README.md."""
