"""The cross-region cooperation index: which priority domains and clusters of different regions
should work together, and why. The method and its reasons are in docs/cooperation-index.md.

``build(store, graphs, config)`` reads every domain and cluster the hub holds (its own data graph
and every peer graph, :mod:`sync.index_read`), scores pairs of the same kind in different regions
by a shrunk cosine of rarity-weighted concept vectors expanded through SKOS ``broader``, raised
where their clusters already work together (:mod:`sync.index_score`), keeps each item's ``top_k``
best partners and explains them as ``s3:CooperationOpportunity`` (:mod:`sync.index_explain`).

Publishing: each run's opportunities go into a graph of their own, ``{hub}/graph/index/{run id}``,
filled by pyoxigraph's bulk loader chunk by chunk while the next chunk is explained; then one
small update replaces the index graph ``{hub}/graph/index``, which describes the run (PROV-O)
and names its graph. That switch is the
only transaction, so readers see the old run or the new one, never a mix, and a crash while
loading leaves an unpublished graph that the next build removes. Why not one ``INSERT DATA``:
on disk, a transaction of a quarter million triples costs 4-5× the bulk load (measured in
``make bench``). Readers find the published run graph with
:func:`node.store.readable_graphs`. Superseded run graphs are removed after the switch — by a
low-priority background thread in a serving hub, since the engine deletes far slower than it
bulk-loads.
"""
from __future__ import annotations

import gc
import json
import logging
import os
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import numpy as np
import pyoxigraph as ox
import scipy.sparse as sp

from node.store import Graphs, Store, current_index_graph
from vocab import DCTERMS, PROV, RDF, S3, XSD

from .index_explain import RDF_JSON, Explainer, literal, opportunity_id
from .index_read import KINDS, Data, read, source_graphs
from .index_score import evidence_matrix, expand, prune, top_pairs, weigh

__all__ = ["DEFAULTS", "build", "compute", "params", "read", "source_graphs"]
_removing = threading.Lock()  # one removal at a time
_building = threading.Lock()  # one build at a time: the last to switch must be the newest
# Opportunities per bulk-loaded chunk: at least CHUNK, and at most CHUNKS chunks per kind — each
# chunk is a set of table files the engine compacts afterwards, work that grows with their number.
CHUNK, CHUNKS = 5000, 8

DEFAULTS = {"top_k": 5, "min_score": 0.1, "decay": 0.7, "shrinkage": 0.25, "evidence_boost": 0.3,
            "generators": 8, "candidates_per_concept": 200, "rescore": 100, "block_rows": 512, "max_shared": 3,
            "max_matches": 8,
            "weights": {"naceActivity": 1.0, "scientificField": 1.0, "policyObjective": 1.0,
                        "technology": 1.0, "keyword": 0.5}}


def params(config: dict | None) -> dict:
    """The settings: ``[index]`` of the hub's s3fed.toml (and ``[index.weights]``) over DEFAULTS."""
    got = dict((config or {}).get("index", {}))
    return {**DEFAULTS, **got, "weights": {**DEFAULTS["weights"], **got.get("weights", {})}}


# -- the run ------------------------------------------------------------------------------

def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def _no_gc():
    """The build makes millions of small lists and tuples; CPython's cyclic collector would scan
    them all again at every full collection, so time would grow faster than the data."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def opportunities(d: Data, p: dict, base: str, run: str, found: dict,
                  seconds: dict) -> Iterator[tuple[str, int]]:
    """The opportunities in Turtle, and their number of triples, in chunks (see CHUNK), so that
    the store loads one while the next is explained; ``found`` counts them by kind, ``seconds``
    adds the time spent finding them ("score") and explaining them ("explain")."""
    seconds.update(score=0.0, explain=0.0)
    t0 = time.perf_counter()
    own, x = expand(d, p["decay"])
    family = np.array(d.family, dtype=np.int64)
    tiebreak = np.array([zlib.crc32(u.encode()) for u in d.uris], dtype=np.int64)
    ex = Explainer(d, own, p["max_shared"], p["max_matches"])
    clusters = np.flatnonzero(d.kind == 1)
    cl_local = np.full(len(d.uris), -1)
    cl_local[clusters] = np.arange(len(clusters))
    for kind_no, (kind, _) in enumerate(KINDS):
        rows = np.flatnonzero(d.kind == kind_no)
        local = np.full(len(d.uris), -1)
        local[rows] = np.arange(len(rows))
        via = None
        if kind == "domain":
            via = sp.csr_matrix((np.ones(len(d.contributes)), ([cl_local[c] for c, _ in d.contributes],
                                [local[t] for _, t in d.contributes])), shape=(len(clusters), len(rows)))
        ev = evidence_matrix(len(rows), [(e, cl_local[c]) for e, c in d.partners], len(d.evidence), via)
        u, _ = weigh(x[rows], family, p)
        a, b, score, sim = top_pairs(u, prune(u, p["candidates_per_concept"], tiebreak[rows]), d.region[rows], ev, p)
        found[kind] = len(a)
        seconds["score"] += time.perf_counter() - t0
        size = max(CHUNK, -(-len(a) // CHUNKS))
        for start in range(0, len(a), size):
            t0, statements, triples = time.perf_counter(), [], 0
            part = slice(start, min(start + size, len(a)))
            i, j = rows[a[part]], rows[b[part]]
            for n, matches in enumerate(ex.matches(i, j, *_contributions(u[a[part]], u[b[part]], own[i], own[j]))):
                opp = f"{base}/index/{opportunity_id(d.uris[i[n]], d.uris[j[n]])}"
                text, count = ex.statement(opp, run, kind, int(i[n]), int(j[n]), float(score[part][n]),
                                           float(sim[part][n]), matches)
                statements.append(text)
                triples += count
            seconds["explain"] += time.perf_counter() - t0
            yield "\n".join(statements) + "\n", triples
        t0 = time.perf_counter()


def _contributions(ua: sp.csr_matrix, ub: sp.csr_matrix, own_a: sp.csr_matrix,
                   own_b: sp.csr_matrix) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Pairs × concepts: what each concept adds to a pair's similarity, split into the concepts
    both carry and the others — one sparse product."""
    contrib = ua.multiply(ub).tocsr()
    same = contrib.multiply(own_a.multiply(own_b)).tocsr()
    other = (contrib - same).tocsr()
    other.eliminate_zeros()
    return same, other


def compute(d: Data, p: dict, base: str, run: str, seconds: dict | None = None) -> tuple[str, dict, int]:
    """All the opportunities at once: Turtle, how many of each kind, how many triples."""
    found: dict[str, int] = {}
    chunks = list(opportunities(d, p, base, run, found, {} if seconds is None else seconds))
    return "".join(text for text, _ in chunks), found, sum(n for _, n in chunks)


def build(store: Store, graphs: Graphs, config: dict | None = None, *, remove: str = "now") -> dict:
    """Rebuild the index from what the hub holds now, publish it, and return a summary.

    ``remove="later"`` (a serving hub) leaves superseded run graphs to a background thread."""
    p, t0, started = params(config), time.perf_counter(), _now()
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    run, run_graph = f"{graphs.base}/index/run/{run_id}", graphs.index_run(run_id)
    seconds: dict[str, float] = {}
    found: dict[str, int] = {}
    triples, explained = 0, 0.0

    def chunks() -> Iterator[bytes]:
        nonlocal triples, explained
        for text, count in opportunities(d, p, graphs.base, run, found, seconds):
            triples += count
            yield text.encode("utf-8")
        explained = time.perf_counter()

    with _building, _no_gc():
        d = read(store, graphs)
        seconds["read"] = time.perf_counter() - t0
        store.load_new_graph(run_graph, chunks(), ox.RdfFormat.TURTLE, lenient=True)
        t = time.perf_counter()
        seconds["load after explaining"] = t - explained
        used = source_graphs(store, graphs)
        switch(store, graphs, run, run_graph, _run_lines(store, graphs, run, started, used, p, found, len(d.uris)))
        seconds["switch"] = time.perf_counter() - t
    total = time.perf_counter() - t0
    old = old_runs(store, graphs)
    if remove == "later":
        threading.Thread(target=_remove_quietly, args=(store, old), name="index-remove-old-runs", daemon=True).start()
    else:
        t = time.perf_counter()
        remove_runs(store, old)
        seconds["remove old runs"] = time.perf_counter() - t
    return {"run": run, "id": run_id, "started": started, "ended": _now(), "graph": run_graph,
            "items": {"domain": int((d.kind == 0).sum()), "cluster": int((d.kind == 1).sum())},
            "concepts": len(d.family), "evidence": len(d.evidence), "opportunities": found,
            "triples": triples, "graphs": used, "removed": old,
            "seconds": {**{k: round(v, 3) for k, v in seconds.items()}, "total": round(total, 3)}}


def switch(store: Store, graphs: Graphs, run: str, run_graph: str, head: list[str]) -> None:
    """Publish a loaded run graph: replace the index graph, which describes the run and names
    its graph, in one update."""
    store.update(f"DROP SILENT GRAPH <{graphs.index}> ;\nINSERT DATA {{ GRAPH <{graphs.index}> {{\n"
                 + "\n".join(head) + f"\n<{run_graph}> <{PROV.wasGeneratedBy}> <{run}> .\n}} }}")


def old_runs(store: Store, graphs: Graphs) -> list[str]:
    """Every run graph but the published one: superseded runs and interrupted loads."""
    current, prefix = current_index_graph(store, graphs), graphs.index_run("")
    return [g for g in store.named_graphs() if g.startswith(prefix) and g != current]


def remove_runs(store: Store, old: list[str]) -> None:
    """Drop unpublished run graphs. Nobody reads them, so no write lock: other writes go on. Slow
    (the engine deletes quad by quad, several times the bulk load), hence ``remove="later"``."""
    with _removing:
        for g in old:
            store.drop_unread_graph(g)


def _remove_quietly(store: Store, old: list[str]) -> None:
    """In a background thread, at the lowest CPU priority (Linux lets a thread have its own)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass
    try:
        remove_runs(store, old)
    except Exception:  # the store closed meanwhile: the next build finds them again
        logging.getLogger(__name__).warning("old index runs not removed yet: %s", old, exc_info=True)


def _run_lines(store, graphs, run, started, used, p, found, items) -> list[str]:
    """The run in PROV-O: its times, the graphs it read, the harvest runs that made them."""
    t = f"^^<{XSD.dateTime}>"
    lines = [f"<{run}> <{RDF.type}> <{S3.IndexRun}> .", f"<{run}> <{RDF.type}> <{PROV.Activity}> .",
             f'<{run}> <{PROV.startedAtTime}> "{started}"{t} .', f'<{run}> <{PROV.endedAtTime}> "{_now()}"{t} .',
             f"<{run}> <{PROV.wasAssociatedWith}> <{graphs.base}/void#dataset> .",
             *(f"<{run}> <{PROV.used}> <{g}> ." for g in used)]
    if graphs.sync in store.named_graphs():
        for r in store.query(f"SELECT DISTINCT ?h {{ GRAPH <{graphs.sync}> {{ ?g <{PROV.wasGeneratedBy}> ?h "
                             f"FILTER(?g IN ({', '.join(f'<{g}>' for g in used)})) }} }}"):
            lines.append(f"<{run}> <{PROV.wasInformedBy}> <{r['h'].value}> .")
    settings = {**p, "items": items, "opportunities": found}
    lines += [f"<{run}> <{S3.indexParameters}> {literal(json.dumps(settings, sort_keys=True))}^^<{RDF_JSON}> .",
              f'<{run}> <{DCTERMS.description}> "Cooperation index run: {sum(found.values())} opportunities '
              f'among {items} priority domains and clusters."@en .']
    return lines

