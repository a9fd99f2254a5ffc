"""Scoring the cooperation index: sparse, rarity-weighted concept vectors and their best pairs.

Scale (every EU region, and 10× that) rules out a Python loop over pairs and even scoring every
pair, which grows with the square of the data. Each row block of the sparse item×concept matrix
is multiplied with a *pruned* copy (per concept, only the items it weighs most in), which gives
every item a bounded set of candidates with partial scores; the best of those are rescored
exactly. The method and its reasons are in docs/cooperation-index.md.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .index_read import FAMILIES, Data


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
        e = ev[rows].tocoo()  # pairs with evidence are rescored too, unless they are candidates already
        chosen = sp.csr_matrix((np.ones(len(pos)), (r[pos] - start, part.indices[pos])), shape=(len(rows), n))
        extra = (np.asarray(chosen[e.row, e.col]).ravel() == 0) if e.nnz else np.zeros(0, dtype=bool)
        i = np.concatenate([r[pos], rows[e.row[extra]]])
        j = np.concatenate([part.indices[pos], e.col[extra]])
        i, j = i[region[i] != region[j]], j[region[i] != region[j]]
        if len(i) == 0:
            continue
        sim = np.asarray(u[i].multiply(u[j]).sum(axis=1)).ravel()  # exact, for the few kept
        links = np.asarray(ev[i, j]).ravel()
        score = np.where(links > 0, sim + (1 - sim) * (1 - (1 - beta) ** links), sim)
        order = np.lexsort((j, -score, i))  # ties: the lower index, whatever order candidates came in
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

