"""Benchmarks (``make bench`` = ``python -m tests.benchmarks``), never part of ``make test``:
pytest does not collect them (no ``test_`` modules here)."""
