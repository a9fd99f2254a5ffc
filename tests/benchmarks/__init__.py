"""Benchmarks (``make bench`` = ``python -m tests.benchmarks``), never part of ``make test``:
pytest does not collect them (no ``test_`` modules here).

``--scale X`` (``make bench BENCH_ARGS="--scale 10"``) multiplies the synthetic federation's size;
modules read it with :func:`scale` (exported as ``S3FED_BENCH_SCALE`` so subprocesses see it too).
"""
from __future__ import annotations

import os


def scale() -> float:
    """The size multiplier of this run (1.0 unless ``--scale`` was given)."""
    return float(os.environ.get("S3FED_BENCH_SCALE") or 1.0)
