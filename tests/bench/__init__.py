"""Benchmarks (`make bench`): figures for the README's performance section, not pass/fail tests.

Each benchmark prints what it measured and whether it met its aim; `python -m tests.bench`
runs them all against a fresh embedded PostgreSQL (or BENCH_DATABASE_URL).
"""
