"""SHACL validation: the native engine (vocab/shacl_native.py) against pyshacl, on synthetic data.

What is measured, and why so:

* ``native vs pyshacl, small`` — both engines on the same ~8 000 triples (one synthetic region with
  its actors and memberships), median of 3. pyshacl's time includes the rdflib conversion its
  callers had to make (``vocab.validate(to_rdflib(triples))``); the native engine takes the
  pyoxigraph triples as they are. Measured, not extrapolated: the ratio the ≥ 20× target is about.
* ``native vs pyshacl, large`` — the native engine on ~100 000 triples (12 regions), median of 3;
  pyshacl's baseline is extrapolated linearly from the small case (it visits every focus node and
  value once, so it is linear; three runs at this size would take minutes).
* ``native vs bulk load`` — the same large validation against loading those triples into an
  in-memory pyoxigraph store (``bulk_load``, median of 3): what a harvest pays to validate, in
  units of what it pays to load.

Sizes grow with ``--scale`` (regions × scale).
"""
from __future__ import annotations

import statistics
import time

import pyoxigraph as ox

import vocab
from vocab.validation import to_rdflib

from . import scale
from .synthetic import generate

SMALL, LARGE = 1, 12  # regions


def row(case: str, value: float, baseline: float | None = None, note: str = "") -> dict:
    return {"bench": "validation", "case": case, "value": value, "unit": "s", "baseline": baseline, "note": note}


def median(f, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def data(regions: int) -> tuple[bytes, list[ox.Triple]]:
    nt = b"".join(r.ntriples for r in generate(regions, members=True))
    return nt, [ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(nt, format=ox.RdfFormat.N_TRIPLES)]


def run() -> list[dict]:
    vocab.validate([])  # compile the shapes, load the vocabulary: once per process
    vocab.validate([], engine="pyshacl")
    small_nt, small = data(max(1, round(SMALL * scale())))
    native_small = median(lambda: vocab.validate(small))
    pyshacl_small = median(lambda: vocab.validate(to_rdflib(small), engine="pyshacl"))
    assert vocab.validate(small).violations == vocab.validate(to_rdflib(small), engine="pyshacl").violations

    large_nt, large = data(max(1, round(LARGE * scale())))
    native_large = median(lambda: vocab.validate(large))
    native_bytes = median(lambda: vocab.validate(large_nt))
    load = median(lambda: ox.Store().bulk_load(large_nt, format=ox.RdfFormat.N_TRIPLES))
    per_triple = pyshacl_small / len(small)
    return [
        row(f"native vs pyshacl, {len(small)} triples", native_small, pyshacl_small,
            note="median of 3 each; pyshacl incl. its rdflib conversion; same results checked"),
        row(f"native vs pyshacl, {len(large)} triples", native_large, per_triple * len(large),
            note=f"native median of 3; pyshacl extrapolated linearly ({per_triple * 1e3:.3f} ms/triple)"),
        row(f"native vs bulk load, {len(large)} triples", native_large, load,
            note="baseline: bulk_load of the same N-Triples into an in-memory store, median of 3"),
        row(f"native from N-Triples bytes, {len(large)} triples", native_bytes, native_large,
            note="median of 3; baseline: from pyoxigraph triples"),
    ]


if __name__ == "__main__":
    from .__main__ import table
    print(table(run()))
