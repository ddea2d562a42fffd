"""Reproducible benchmarks; their results, with the exact commands, are recorded in BENCHMARKS.md."""
