"""Cooperation index build at 250 and 2 500 synthetic regions (tests/benchmarks/synthetic.py).

What is measured, and why so:

* ``build`` on disk — what a hub does (read, score, explain while bulk-loading the run's graph,
  one small switch) at both sizes, and its growth against the growth of the data (items): the
  ≤ 5 s target is about 250 regions, and time must not grow faster than the data. At 250 also a
  rebuild, and a run's triples bulk-loaded alone against one ``INSERT DATA`` transaction.
* ``build`` in memory at 250 (median of 3), and with ``top_k = 10``.
* ``compute`` — read + score + explain + Turtle, without the store write, at both sizes: the
  index's own cost and its growth, apart from the store's.
* Baselines, same run: the exact all-pairs method as dense numpy (measured at 250, extrapolated
  with n² to 2 500, where its n×n matrix alone would be 11 GB), and a plain Python double loop
  over a subsample, extrapolated to all pairs.
"""
from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time

import numpy as np
import pyoxigraph as ox

import vocab
from node.store import Graphs, Store
from sync import index, index_score

from . import scale
from .synthetic import generate

SIZES = (round(250 * scale()), round(2500 * scale()))
HUB = "https://hub.bench.s3fed.invalid"


def federation(n: int, path=None) -> tuple[Store, Graphs]:
    """A temporary hub store holding ``n`` synthetic regions, one peer graph each, loaded with
    pyoxigraph's bulk loader (one call: a call per graph costs a flush each)."""
    st, gs = Store(path), Graphs(HUB)
    st.replace_graph(gs.vocab, vocab.load_vocabulary().serialize(format="nt", encoding="utf-8"))
    quads = "\n".join(line[:-1] + f"<{gs.peer(r.code)}> ." for r in generate(n) for line in r.lines)
    st._store.bulk_load(quads.encode("utf-8"), format=ox.RdfFormat.N_QUADS)  # benchmark setup only
    return st, gs


def compute(st: Store, gs: Graphs) -> tuple[float, float, int, int]:
    """Seconds for read + score + explain + Turtle (no store write), of which scoring; items;
    opportunities. The garbage collector is off, as in build()."""
    t = time.perf_counter()
    seconds: dict = {}
    with index._no_gc():
        d = index.read(st, gs)
        text, found, _ = index.compute(d, index.params({}), gs.base, gs.base + "/index/run/bench", seconds)
        text.encode("utf-8")
    return time.perf_counter() - t, seconds["score"], len(d.uris), sum(found.values())


def dense_exact(st: Store, gs: Graphs) -> float:
    """The exact method without candidates: every pair of one kind scored, masked, top-k."""
    d, p = index.read(st, gs), index.params({})
    t = time.perf_counter()
    _, x = index_score.expand(d, p["decay"])
    for kind in (0, 1):
        rows = np.flatnonzero(d.kind == kind)
        u, _ = index_score.weigh(x[rows], np.array(d.family), p)
        s = (u @ u.T).toarray()
        s[d.region[rows][:, None] == d.region[rows][None, :]] = -1
        np.argpartition(-s, p["top_k"], axis=1)[:, :p["top_k"]]
    return time.perf_counter() - t


def python_pairs(st: Store, gs: Graphs, sample: int = 400) -> tuple[float, int]:
    """Seconds for a Python double loop (dict vectors) over ``sample`` domains, and the number of
    domain pairs it would have to do for the whole federation."""
    d, p = index.read(st, gs), index.params({})
    _, x = index_score.expand(d, p["decay"])
    rows = np.flatnonzero(d.kind == 0)
    u, _ = index_score.weigh(x[rows], np.array(d.family), p)
    vecs = [dict(zip(u.indices[u.indptr[i]:u.indptr[i + 1]], u.data[u.indptr[i]:u.indptr[i + 1]], strict=True))
            for i in random.Random(0).sample(range(len(rows)), min(sample, len(rows)))]
    t = time.perf_counter()
    for i, a in enumerate(vecs):
        for b in vecs[i + 1:]:
            sum(w * b[c] for c, w in a.items() if c in b)
    pairs = len(vecs) * (len(vecs) - 1) / 2
    all_pairs = len(rows) * (len(rows) - 1) / 2 + (d.kind == 1).sum() * ((d.kind == 1).sum() - 1) / 2
    return (time.perf_counter() - t) / pairs, int(all_pairs)


def row(case: str, value: float, unit: str = "s", baseline: float | None = None, note: str = "") -> dict:
    return {"bench": "index", "case": case, "value": value, "unit": unit, "baseline": baseline, "note": note}


def run() -> list[dict]:
    rows, comp, score, items = [], {}, {}, {}
    small, large = SIZES
    for n in SIZES:
        st, gs = federation(n)
        if n == small:
            runs = []
            for _ in range(3):
                cpu = time.process_time()
                runs.append(index.build(st, gs, {}))
                runs[-1]["cpu"] = time.process_time() - cpu
            s = sorted(runs, key=lambda r: r["seconds"]["total"])[1]
            rows.append(row(f"build, {n} regions (in-memory store)", s["seconds"]["total"], baseline=5.0,
                            note=f"median of 3 (CPU {s['cpu']:.2f} s); {phases(s)}; {sum(s['items'].values())} items, "
                            f"{sum(s['opportunities'].values())} opportunities, {s['triples']} triples"))
            k10 = index.build(st, gs, {"index": {"top_k": 10}})
            rows.append(row(f"build, {n} regions, top_k = 10", k10["seconds"]["total"], baseline=s["seconds"]["total"],
                            note=f"1 run; {k10['triples']} triples; baseline: the default top_k = 5"))
            dense = dense_exact(st, gs)
            per_pair, all_pairs = python_pairs(st, gs)
        times = [compute(st, gs) for _ in range(3 if n == small else 1)]
        comp[n], score[n] = statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)
        items[n], found = times[0][2], times[0][3]
        rows.append(row(f"compute, {n} regions", comp[n],
                        note=f"read+score+explain, no store write; scoring {score[n]:.2f} s; {items[n]} items, "
                        f"{found} opportunities" + ("; median of 3" if n == small else "; 1 run")))
        del st
    grow, dense_gb = items[large] / items[small], (items[large] * 0.67) ** 2 * 8 / 1e9
    first = {n: on_disk(n, rebuild=n == small) for n in SIZES}
    built = {n: first[n][0]["value"] for n in SIZES}
    return [*first[small], *first[large],
            row(f"build growth {large}/{small} regions (on-disk store)", built[large] / built[small], "×", grow,
                f"baseline: growth of the data ({grow:.1f}× items)"),
            *rows,
            row(f"compute growth {large}/{small} regions", comp[large] / comp[small], "×", grow,
                f"baseline: growth of the data ({grow:.1f}× items); all pairs would grow {grow ** 2:.0f}×"),
            row(f"scoring growth {large}/{small} regions", score[large] / score[small], "×", grow,
                "candidates + exact rescoring + top-k only"),
            row(f"dense numpy all-pairs, {small} regions", dense, baseline=score[small],
                note="exact, measured; baseline: our scoring phase"),
            row(f"dense numpy all-pairs, {large} regions", dense * grow ** 2, baseline=score[large],
                note=f"extrapolated ×{grow ** 2:.0f}; its n×n matrix alone: {dense_gb:.0f} GB"),
            row(f"Python double loop, {small} regions", per_pair * all_pairs, baseline=score[small],
                note=f"extrapolated from 400 domains: {per_pair * 1e6:.1f} µs × {all_pairs:.2e} pairs, scores only")]


def phases(summary: dict) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in summary["seconds"].items() if k != "total")


def on_disk(n: int, rebuild: bool) -> list[dict]:
    """What a hub does: build into an on-disk store (compacted first, as a store that has served
    a while is). At the small size also a rebuild (which removes the first run's graph), and a
    run's triples bulk-loaded alone against one INSERT DATA transaction."""
    path = tempfile.mkdtemp(prefix="s3fed-bench-")
    try:
        st, gs = federation(n, path)
        st._store.optimize()  # benchmark setup: the federation was just bulk-loaded
        cpu = time.process_time()
        first = index.build(st, gs, {})
        out = [row(f"build, {n} regions (on-disk store)", first["seconds"]["total"], baseline=5.0 if rebuild else None,
                   note=f"1 run, as a hub's first build (CPU {time.process_time() - cpu:.1f} s)"
                   + ("; target 5 s" if rebuild else "") + f"; {phases(first)}; {first['triples']} triples")]
        if rebuild:
            second = index.build(st, gs, {})
            body = st.dump(ox.RdfFormat.N_TRIPLES, graph=second["graph"])
            t = time.perf_counter()
            st.load_new_graph(gs.index_run("bulk-load"), [body], ox.RdfFormat.N_TRIPLES)
            bulk = time.perf_counter() - t
            t = time.perf_counter()
            st.replace_graph(gs.index_run("one-transaction"), body)
            one_update = time.perf_counter() - t
            out += [row(f"rebuild, {n} regions (on-disk store)", second["seconds"]["total"], baseline=5.0,
                        note=f"1 run, incl. removing the previous run's graph; {phases(second)}"),
                    row(f"bulk load of a run's {second['triples']} triples (on-disk store)", bulk, baseline=one_update,
                        note="as one chunk, nothing else running (a build overlaps it with explaining); "
                        "baseline: the same triples in one INSERT DATA transaction")]
        st.close()
    finally:
        shutil.rmtree(path, ignore_errors=True)
    return out
