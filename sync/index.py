"""The cross-region cooperation index: which priority domains and clusters of different regions
should work together, and why. The method and its reasons are in docs/cooperation-index.md.

``build(store, graphs, config)`` reads every domain and cluster the hub holds (its own data graph
and every peer graph) with one join-free SPARQL query, scores pairs of the same kind in different
regions by a shrunk cosine of rarity-weighted concept vectors expanded through SKOS ``broader``,
raises pairs whose clusters already work together, keeps each item's ``top_k`` best partners and
publishes them, explained, as ``s3:CooperationOpportunity`` in the index graph with one
``replace_graph`` (readers see the old run or the new one, never a mix).

Scale (every EU region, and 10× that) rules out a Python loop over pairs and even scoring every
pair, which grows with the square of the data. Each row block of the sparse item×concept matrix
is multiplied with a *pruned* copy (per concept, only the items it weighs most in), which gives
every item a bounded set of candidates with partial scores; the best of those are rescored
exactly. Python loops only over the opportunities kept.
"""
from __future__ import annotations

import gc
import hashlib
import json
import time
import uuid
import zlib
from collections import defaultdict
from contextlib import contextmanager
from datetime import UTC, datetime

import numpy as np
import pyoxigraph as ox
import scipy.sparse as sp

from node.store import Graphs, Store
from vocab import DCAT, DCTERMS, NACE, PROV, RDF, S3, SKOS, XSD

FAMILIES = (S3.naceActivity, S3.scientificField, S3.policyObjective, S3.technology, DCAT.keyword)
KINDS = (("domain", S3.PriorityDomain), ("cluster", S3.Cluster))
DEFAULTS = {"top_k": 5, "min_score": 0.1, "decay": 0.7, "shrinkage": 0.25, "evidence_boost": 0.3,
            "generators": 8, "candidates_per_concept": 200, "rescore": 100, "block_rows": 512, "max_shared": 3,
            "max_matches": 8,
            "weights": {"naceActivity": 1.0, "scientificField": 1.0, "policyObjective": 1.0,
                        "technology": 1.0, "keyword": 0.5}}
RDF_JSON = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"
READ = f"""SELECT ?s ?p ?o WHERE {{
  VALUES ?p {{ <{RDF.type}> <{S3.strategy}> <{S3.region}> <{S3.nutsCode}> <{S3.contributesTo}> <{S3.partner}>
              <{SKOS.broader}> <{SKOS.narrower}> {' '.join(f'<{f}>' for f in FAMILIES)} }}
  ?s ?p ?o
  FILTER(?p != <{RDF.type}> || ?o IN (<{S3.PriorityDomain}>, <{S3.Cluster}>, <{S3.Collaboration}>, <{S3.Action}>))
}}"""


def params(config: dict | None) -> dict:
    """The settings: ``[index]`` of the hub's s3fed.toml (and ``[index.weights]``) over DEFAULTS."""
    got = dict((config or {}).get("index", {}))
    return {**DEFAULTS, **got, "weights": {**DEFAULTS["weights"], **got.get("weights", {})}}


def source_graphs(store: Store, graphs: Graphs) -> list[str]:
    """What the index reads: the hub's own data and every harvested peer graph."""
    prefix = graphs.peer("")
    return [graphs.data] + sorted(g for g in store.named_graphs() if g.startswith(prefix))


# -- reading ------------------------------------------------------------------------------

class Data:
    """Items (domains, clusters) with their kind, region and own concepts; the concept columns
    (IRIs, or ``"keyword`` for a lower-cased keyword) and their parents; the evidence."""

    def __init__(self):
        self.uris, self.kind, self.region, self.region_uri, self.own = [], [], [], [], []
        self.col: dict[str, int] = {}
        self.family: list[int] = []
        self.parents: dict[int, set[int]] = defaultdict(set)
        self.evidence: list[str] = []
        self.partners: list[tuple[int, int]] = []     # (evidence, cluster item)
        self.contributes: list[tuple[int, int]] = []  # (cluster item, domain item)

    def column(self, key: str, family: int) -> int:
        if key not in self.col:
            self.col[key] = len(self.family)
            self.family.append(family)
        return self.col[key]


def read(store: Store, graphs: Graphs) -> Data:
    """One query without joins (a join across hundreds of graphs costs a lookup per graph);
    Python puts the rows together."""
    fam = {str(f): n for n, f in enumerate(FAMILIES)}
    types, concepts, rel = {}, defaultdict(set), defaultdict(list)
    for r in store.query(READ, default_graph=source_graphs(store, graphs) + [graphs.vocab]):
        s, p, o = r[0].value, r[1].value, r[2]
        f = fam.get(p)
        if f is not None:
            if isinstance(o, ox.Literal) == (f == 4):  # keywords are texts, concepts IRIs
                concepts[s].add((f, '"' + " ".join(o.value.lower().split()) if f == 4 else o.value))
        elif p == str(RDF.type):
            types.setdefault(s, o.value)
        elif isinstance(o, ox.NamedNode) or p == str(S3.nutsCode):
            rel[p].append((s, o.value))
    d = Data()
    strategy, region = dict(sorted(rel[str(S3.strategy)])), dict(sorted(rel[str(S3.region)]))
    nuts, regions = {s: o.strip().upper() for s, o in rel[str(S3.nutsCode)]}, {}
    for kind, (_, cls) in enumerate(KINDS):
        for uri in sorted(u for u, t in types.items() if t == str(cls)):
            reg = region.get(strategy.get(uri)) if kind == 0 else region.get(uri)
            if reg is None:
                continue  # no region, nothing to compare it with
            d.uris.append(uri)
            d.kind.append(kind)
            d.region.append(regions.setdefault(nuts.get(reg, reg), len(regions)))
            d.region_uri.append(reg)
            d.own.append(sorted({d.column(k, f) for f, k in concepts.get(uri, ())}))
    d.kind, d.region = np.array(d.kind, dtype=np.int8), np.array(d.region, dtype=np.int64)
    for p, flip in ((SKOS.broader, False), (SKOS.narrower, True)):
        for c, b in rel[str(p)]:
            c, b = (b, c) if flip else (c, b)
            if c != b:
                fc = d.family[d.col[c]] if c in d.col else 0
                d.parents[d.column(c, fc)].add(d.column(b, fc))
    _nace_parents(d)
    where = {u: i for i, u in enumerate(d.uris)}
    ev = {}
    for e, x in sorted(rel[str(S3.partner)]):
        if types.get(e) in (str(S3.Collaboration), str(S3.Action)) and x in where and d.kind[where[x]] == 1:
            d.partners.append((ev.setdefault(e, len(ev)), where[x]))
    d.evidence = list(ev)
    d.contributes = [(where[c], where[t]) for c, t in rel[str(S3.contributesTo)]
                     if c in where and t in where and d.kind[where[c]] == 1 and d.kind[where[t]] == 0]
    return d


def _nace_parents(d: Data) -> None:
    """NACE codes the vocabulary does not list (classes such as nace2/3030) get their parent
    from the code itself (3030 -> 303 -> 30), so they still meet their relatives."""
    todo = [k for k in d.col if k.startswith(str(NACE))]
    while todo:
        key = todo.pop()
        code, c = key[len(str(NACE)):], d.col[key]
        if c not in d.parents and len(code) >= 3 and code.isdigit():
            parent = str(NACE) + code[:-1]
            if parent not in d.col:
                todo.append(parent)
            d.parents[c] = {d.column(parent, d.family[c])}


# -- scoring ------------------------------------------------------------------------------

def expand(d: Data, decay: float) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Items × concepts: own concepts at 1, and the same with every ancestor at
    ``decay ** distance`` (the nearest path wins: a concept is carried, not counted twice)."""
    m, n = len(d.family), len(d.uris)
    rows = np.repeat(np.arange(n), [len(o) for o in d.own])
    cols = np.fromiter((c for o in d.own for c in o), dtype=np.int64, count=len(rows))
    own = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, m))
    pairs = np.array([(c, p) for c, ps in d.parents.items() for p in ps], dtype=np.int64).reshape(-1, 2)
    up = sp.csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(m, m))
    acc = cur = own
    for depth in range(1, 16):  # bounded: a cycle in someone's hierarchy must not loop forever
        cur = (cur @ up).tocsr()
        if cur.nnz == 0:
            break
        cur.data[:] = decay ** depth
        acc = acc.maximum(cur)
    return own, acc.tocsr()


def weigh(x: sp.csr_matrix, family: np.ndarray, p: dict) -> tuple[sp.csr_matrix, np.ndarray]:
    """Rows scaled so that a dot product is the shrunk cosine of rarity-weighted vectors:
    ``u_i = v_i / sqrt(|v_i|² + K)``, ``v_ic = x_ic · idf_c · w_family``, ``idf_c = ln((n+1)/df_c)``,
    ``K = shrinkage · ln(n+1)²``."""
    n = x.shape[0]
    idf = np.log((n + 1) / np.maximum(np.bincount(x.indices, minlength=x.shape[1]), 1))
    fam = np.array([p["weights"][str(f).split("#")[-1]] for f in FAMILIES])[family]
    v = (x @ sp.diags(idf * fam)).tocsr()
    v.eliminate_zeros()
    norm2 = np.asarray(v.multiply(v).sum(axis=1)).ravel()
    return (sp.diags(1 / np.sqrt(norm2 + p["shrinkage"] * np.log(n + 1) ** 2)) @ v).tocsr(), idf


def prune(u: sp.csr_matrix, limit: int, tiebreak: np.ndarray) -> sp.csr_matrix:
    """Per concept only the ``limit`` items it weighs most in (ties: a stable hash): the candidate
    generators. A concept held by at most ``limit`` items keeps them all, so pairs sharing it
    are always found."""
    c = u.tocsc()
    col = np.repeat(np.arange(c.shape[1]), np.diff(c.indptr))
    order = np.lexsort((tiebreak[c.indices], -c.data, col))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - c.indptr[col[order]]
    keep = rank < limit
    return sp.csr_matrix((c.data[keep], (c.indices[keep], col[keep])), shape=u.shape)


def evidence_matrix(n: int, pairs: list[tuple[int, int]], n_ev: int, via: sp.csr_matrix | None = None):
    """Item × item: how many distinct collaborations or actions link the two (for domains,
    through the clusters contributing to them: ``via`` is clusters × domains)."""
    if not pairs:
        return sp.csr_matrix((n, n))
    e, i = np.array(pairs).T
    inc = sp.csr_matrix((np.ones(len(e)), (e, i)), shape=(n_ev, n if via is None else via.shape[0]))
    inc = (inc if via is None else inc @ via).tocsr()
    inc.data[:] = 1
    m = (inc.T @ inc).tocsr()
    m = (m - sp.diags(m.diagonal())).tocsr()
    m.eliminate_zeros()
    return m


def strongest(u: sp.csr_matrix, m: int) -> sp.csr_matrix:
    """Each row's ``m`` heaviest concepts: what a strong partner almost always shares with it,
    so only these go looking for candidates (broad ancestors would bring everybody)."""
    row = np.repeat(np.arange(u.shape[0]), np.diff(u.indptr))
    order = np.lexsort((-u.data, row))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - u.indptr[row[order]]
    keep = rank < m
    return sp.csr_matrix((u.data[keep], (row[keep], u.indices[keep])), shape=u.shape)


def ragged_top(indptr: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest finite values of each row of a CSR layout (argpartition
    over a padded block, no loop over rows)."""
    counts = np.diff(indptr)
    if len(values) == 0:
        return np.array([], dtype=np.int64)
    row = np.repeat(np.arange(len(counts)), counts)
    pad = np.full((len(counts), counts.max()), -np.inf)
    pad[row, np.arange(len(values)) - indptr[row]] = values
    kk = min(k, pad.shape[1])
    best = np.argpartition(-pad, kk - 1, axis=1)[:, :kk]
    ok = np.isfinite(np.take_along_axis(pad, best, axis=1))
    return (indptr[:-1, None] + best)[ok]


def top_pairs(u, w, region, ev, p) -> tuple[np.ndarray, ...]:
    """(a, b, score, similarity) of every item's best ``top_k`` partners in other regions."""
    n, beta, out = u.shape[0], p["evidence_boost"], []
    small = n <= p["candidates_per_concept"]  # nothing is pruned: stay exact, every concept generates
    wt, g = w.T.tocsr(), u if small else strongest(u, p["generators"])
    for start in range(0, n, p["block_rows"]):
        rows = np.arange(start, min(n, start + p["block_rows"]))
        part = (g[rows] @ wt).tocsr()  # candidates, with partial scores to pick the ones to rescore
        r = np.repeat(rows, np.diff(part.indptr))
        pos = ragged_top(part.indptr, np.where(region[r] != region[part.indices], part.data, -np.inf), p["rescore"])
        e = ev[rows].tocoo()
        i = np.concatenate([r[pos], rows[e.row]])
        j = np.concatenate([part.indices[pos], e.col])
        i, j = np.divmod(np.unique(i * n + j), n)
        i, j = i[region[i] != region[j]], j[region[i] != region[j]]
        if len(i) == 0:
            continue
        sim = np.asarray(u[i].multiply(u[j]).sum(axis=1)).ravel()  # exact, for the few kept
        links = np.asarray(ev[i, j]).ravel()
        score = np.where(links > 0, sim + (1 - sim) * (1 - (1 - beta) ** links), sim)
        order = np.lexsort((-score, i))
        starts = np.searchsorted(i[order], i[order], side="left")
        keep = order[(np.arange(len(order)) - starts < p["top_k"]) & (score[order] >= p["min_score"])]
        out.append((i[keep], j[keep], score[keep], sim[keep]))
    if not out:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64), np.array([]), np.array([])
    a, b, score, sim = (np.concatenate(x) for x in zip(*out, strict=True))
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    _, keep = np.unique(lo * n + hi, return_index=True)  # (a, b) and (b, a): one opportunity
    keep = keep[np.argsort(-score[keep], kind="stable")]
    return lo[keep], hi[keep], score[keep], sim[keep]


# -- explanations -------------------------------------------------------------------------

def literal(text: str) -> str:
    """An N-Triples string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


class Explainer:
    """A kept pair's per-concept contributions (they sum to its similarity) as matches a person
    can read: a concept both carry (identical), or a broader concept relating concepts of the two
    sides (naming the common ancestor and what it relates); plus the evidence linking them.

    A shared concept that some more specific shared concept lies below (nace2/30 when both carry
    nace2/303) is not a match of its own: its weight goes to the most specific one's match."""

    def __init__(self, d: Data, own: sp.csr_matrix, max_shared: int, max_matches: int):
        self.d, self.keys, self.max_shared, self.max_matches = d, list(d.col), max_shared, max_matches
        self.iri = [f'"{k}"' for k in self.keys]  # a concept IRI as a JSON string
        self.head = [f'{{"keyword":{json.dumps(k[1:], ensure_ascii=False)},"match":"identical","weight":' if k[0] == '"'
                     else f'{{"concept":"{k}","match":"identical","weight":' for k in self.keys]
        self.anc = [frozenset(self._ancestors(c)) for c in range(len(d.family))]  # proper ancestors
        below: list[set[int]] = [set() for _ in self.keys]
        for c, ancestors in enumerate(self.anc):
            for q in ancestors:
                below[q].add(c)
        self.below = [frozenset(x) for x in below]
        self.depth = [self._depth(c) for c in range(len(d.family))]
        self.own = [frozenset(own.indices[own.indptr[i]:own.indptr[i + 1]].tolist()) for i in range(own.shape[0])]
        self.ev: dict[int, set[int]] = defaultdict(set)
        for e, i in d.partners:
            self.ev[i].add(e)
        for c, dm in d.contributes:
            self.ev[dm] |= self.ev.get(c, set())

    def _ancestors(self, c: int) -> set[int]:
        seen, todo = set(), list(self.d.parents.get(c, ()))
        while todo:
            q = todo.pop()
            if q not in seen and q != c:
                seen.add(q)
                todo.extend(self.d.parents.get(q, ()))
        return seen

    def _depth(self, c: int, guard: int = 16) -> int:
        parents = self.d.parents.get(c, ())
        return 0 if not parents or guard == 0 else 1 + max(self._depth(q, guard - 1) for q in parents)

    def matches(self, i: int, j: int, cols: list[int], contrib: list[float]) -> list[list]:
        """``[weight, concept, identical, concepts of i under it, concepts of j under it]``, heaviest first."""
        oi, oj, anc, depth = self.own[i], self.own[j], self.anc, self.depth
        found, rest = {}, []
        for c, w in zip(cols, contrib, strict=True):
            if c in oi and c in oj:
                found[c] = [w, c, True, None, None]
            else:
                rest.append((depth[c], c, w))
        for _, c, w in sorted(rest, reverse=True):  # deepest first
            under = self.below[c].intersection(found)
            if under:
                max(found[q] for q in under)[0] += w
            else:
                found[c] = [w, c, False, [o for o in oi if c in anc[o]], [o for o in oj if c in anc[o]]]
        return sorted((m for m in found.values() if m[0] >= 5e-4), reverse=True)

    def lines(self, opp: str, run: str, kind: str, i: int, j: int, score: float, sim: float,
              cols: list[int], contrib: list[float]) -> list[str]:
        """The opportunity's triples; its explanation as one rdf:JSON literal (written by hand:
        IRIs need no JSON escaping, keywords get json.dumps)."""
        d, keys, iri, head = self.d, self.keys, self.iri, self.head
        a, b = d.uris[i], d.uris[j]
        parts, shared = [], []
        found = self.matches(i, j, cols, contrib)
        for w, c, same, under_a, under_b in found[:self.max_matches]:
            if same:
                parts.append(f"{head[c]}{w:.4f}}}")
                if keys[c][0] != '"' and len(shared) < self.max_shared:
                    shared.append(keys[c])
                continue
            if len(shared) < self.max_shared:
                shared.append(keys[c])
            parts.append(f'{{"concept":"{keys[c]}","match":"broader","weight":{w:.4f},'
                         f'"a":[{",".join(iri[o] for o in under_a)}],"b":[{",".join(iri[o] for o in under_b)}]}}')
        rest = sum(m[0] for m in found[self.max_matches:])  # the lightest matches, summed: weights still add up
        why = (f'{{"kind":"{kind}","between":["{a}","{b}"],"regions":["{d.region_uri[i]}","{d.region_uri[j]}"],'
               f'"similarity":{sim:.4f},"matches":[{",".join(parts)}],"others":{rest:.4f}}}')
        why = why.replace("\\", "\\\\").replace('"', '\\"')  # as an N-Triples literal
        evidence = sorted(self.ev.get(i, set()) & self.ev.get(j, set()))
        return [f"<{opp}> {_TYPE} {_OPP} .", f"<{opp}> {_BETWEEN} <{a}> .", f"<{opp}> {_BETWEEN} <{b}> .",
                f'<{opp}> {_SCORE} "{min(max(score, 0.0), 1.0):.4f}"^^{_DECIMAL} .', f"<{opp}> {_GENERATED} <{run}> .",
                f'<{opp}> {_EXPLANATION} "{why}"^^{_JSON} .', *(f"<{opp}> {_SHARED} <{c}> ." for c in shared),
                *(f"<{opp}> {_EVIDENCE} <{d.evidence[e]}> ." for e in evidence)]


_TYPE, _OPP, _BETWEEN, _SCORE, _DECIMAL, _GENERATED, _EXPLANATION, _SHARED, _EVIDENCE, _JSON = (
    f"<{t}>" for t in (RDF.type, S3.CooperationOpportunity, S3.between, S3.score, XSD.decimal, PROV.wasGeneratedBy,
                       S3.explanation, S3.sharedConcept, S3.evidence, RDF_JSON))


# -- the run ------------------------------------------------------------------------------

def opportunity_id(a: str, b: str) -> str:
    """Stable across runs: the same pair keeps its URI (and its links) when the index is rebuilt."""
    return hashlib.sha256(" ".join(sorted((a, b))).encode("utf-8")).hexdigest()[:16]


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


def compute(d: Data, p: dict, base: str, run: str, seconds: dict | None = None) -> tuple[list[str], dict]:
    """The opportunities' N-Triples lines, and how many of each kind (``seconds``: time spent
    finding them, "score", and explaining them, "explain")."""
    seconds = {} if seconds is None else seconds
    seconds.update(score=0.0, explain=0.0)
    t0 = time.perf_counter()
    own, x = expand(d, p["decay"])
    family = np.array(d.family, dtype=np.int64)
    tiebreak = np.array([zlib.crc32(u.encode()) for u in d.uris], dtype=np.int64)
    ex, lines, found = Explainer(d, own, p["max_shared"], p["max_matches"]), [], {}
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
        found[kind], t = len(a), time.perf_counter()
        seconds["score"] += t - t0
        contrib = u[a].multiply(u[b]).tocsr()
        for n in range(len(a)):
            i, j, sl = rows[a[n]], rows[b[n]], slice(contrib.indptr[n], contrib.indptr[n + 1])
            opp = f"{base}/index/{opportunity_id(d.uris[i], d.uris[j])}"
            lines += ex.lines(opp, run, kind, i, j, float(score[n]), float(sim[n]), contrib.indices[sl].tolist(),
                              contrib.data[sl].tolist())
        t0 = time.perf_counter()
        seconds["explain"] += t0 - t
    return lines, found


def build(store: Store, graphs: Graphs, config: dict | None = None) -> dict:
    """Rebuild the index from what the hub holds now, publish it, and return a summary."""
    p, t0, started = params(config), time.perf_counter(), _now()
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    run = f"{graphs.base}/index/run/{run_id}"
    seconds: dict[str, float] = {}
    with _no_gc():
        d = read(store, graphs)
        seconds["read"] = time.perf_counter() - t0
        lines, found = compute(d, p, graphs.base, run, seconds)
        used = source_graphs(store, graphs)
        lines += _run_lines(store, graphs, run, started, used, p, found, len(d.uris))
        body = "\n".join(lines).encode("utf-8")
    t = time.perf_counter()
    store.replace_graph(graphs.index, body)
    seconds["publish"] = time.perf_counter() - t
    return {"run": run, "id": run_id, "started": started, "ended": _now(), "graph": graphs.index,
            "items": {"domain": int((d.kind == 0).sum()), "cluster": int((d.kind == 1).sum())},
            "concepts": len(d.family), "evidence": len(d.evidence), "opportunities": found,
            "triples": len(lines), "graphs": used,
            "seconds": {**{k: round(v, 3) for k, v in seconds.items()}, "total": round(time.perf_counter() - t0, 3)}}


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
