"""Explaining the cooperation index: each kept pair as ``s3:CooperationOpportunity`` triples
whose ``s3:explanation`` says which concepts (identical, or related through a broader one) and
which collaborations make the score. Python loops only over the opportunities kept.
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict

import numpy as np
import scipy.sparse as sp

from vocab import PROV, S3, XSD

from .index_read import Data

RDF_JSON = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"


def literal(text: str) -> str:
    """An N-Triples string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


class Explainer:
    """A kept pair's per-concept contributions (they sum to its similarity) as matches a person
    can read: a concept both carry (identical), or a broader concept relating concepts of the two
    sides (naming the common ancestor and what it relates); plus the evidence linking them.

    A shared concept that some more specific shared concept lies below (nace2/30 when both carry
    nace2/303) is not a match of its own: its weight goes to the heaviest shared concept below it."""

    def __init__(self, d: Data, own: sp.csr_matrix, max_shared: int, max_matches: int):
        self.d, self.keys, self.max_shared, self.max_matches = d, list(d.col), max_shared, max_matches
        # pieces of explanations; backslashes (JSON escapes in keywords) already doubled for N-Triples
        self.iri = [f'"{k}"' for k in self.keys]  # a concept IRI as a JSON string
        self.head = [(f'{{"keyword":{json.dumps(k[1:], ensure_ascii=False)}' if k[0] == '"' else f'{{"concept":"{k}"')
                     .replace("\\", "\\\\") + ',"match":"identical","weight":' for k in self.keys]
        self.anc = [frozenset(self._ancestors(c)) for c in range(len(d.family))]  # proper ancestors
        below: list[set[int]] = [set() for _ in self.keys]
        for c, ancestors in enumerate(self.anc):
            for q in ancestors:
                below[q].add(c)
        self.below = [frozenset(x) for x in below]
        pairs = [(c, q) for c, ancestors in enumerate(self.anc) for q in ancestors]
        self.anc_matrix = sp.csr_matrix((np.ones(len(pairs)), ([c for c, _ in pairs], [q for _, q in pairs])),
                                        shape=(len(self.keys), len(self.keys)))
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

    def matches(self, i: np.ndarray, j: np.ndarray, same: sp.csr_matrix, other: sp.csr_matrix) -> list[list[tuple]]:
        """Per pair ``i[n]``–``j[n]``, its matches, heaviest first: ``(weight, concept)`` for a
        concept both carry, ``(weight, ancestor, concepts of i under it, concepts of j under it)``
        for a broader one. ``same`` and ``other`` (pairs × concepts) split each pair's
        contributions into the concepts both carry and the others.

        Vectorised: the weight of an ancestor of shared concepts goes to the heaviest of them
        (one sort of (pair, ancestor) keys); only the contributions no shared concept lies below
        — broader matches, rare — take a loop of their own."""
        s, o, n_cols = same.tocoo(), other.tocoo(), len(self.keys)
        below = self.anc_matrix[s.col]  # each shared contribution's proper ancestors, as rows
        k = np.repeat(np.arange(s.nnz), np.diff(below.indptr))
        key = s.row[k].astype(np.int64) * n_cols + below.indices
        order = np.lexsort((s.col[k], s.data[k], key))  # per key, the heaviest last (ties: the larger column)
        key, k = key[order], k[order]
        last = np.append(key[1:] != key[:-1], True)
        key, k = key[last], k[last]
        okey = o.row.astype(np.int64) * n_cols + o.col
        at = np.searchsorted(key, okey)  # each other contribution's (pair, ancestor) key, if a shared concept has it
        hit = at < len(key)
        hit[hit] = key[at[hit]] == okey[hit]
        weight = s.data + np.bincount(k[at[hit]], weights=o.data[hit], minlength=s.nnz)
        keep = weight >= 5e-4
        rows, cols, weight = s.row[keep], s.col[keep], weight[keep]
        order = np.lexsort((-cols, -weight, rows))
        ptr = np.searchsorted(rows[order], np.arange(len(i) + 1))
        pairs = list(zip(weight[order].tolist(), cols[order].tolist(), strict=True))
        out = [pairs[ptr[n]:ptr[n + 1]] for n in range(len(i))]
        rows_rest, cols_rest, weights_rest = o.row[~hit], o.col[~hit], o.data[~hit]  # rows sorted (from CSR)
        starts = np.flatnonzero(np.diff(rows_rest, prepend=-1))
        ends = np.append(starts[1:], len(rows_rest))[:len(starts)]
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            n = int(rows_rest[start])
            out[n] = self._with_broader(int(i[n]), int(j[n]), out[n], cols_rest[start:end].tolist(),
                                        weights_rest[start:end].tolist())
        return out

    def _with_broader(self, i: int, j: int, found: list[tuple], cols: list[int], weights: list[float]) -> list[tuple]:
        """Add broader matches: deepest first, a contribution becomes a match of its own, or goes
        to the heaviest broader match below it (division 30 relating 30.1 and 30.3, then section C)."""
        oi, oj, anc, depth, below = self.own[i], self.own[j], self.anc, self.depth, self.below
        broader: dict[int, list] = {}
        for _, c, w in sorted(zip([depth[c] for c in cols], cols, weights, strict=True), reverse=True):
            under = below[c].intersection(broader)
            if under:
                max(broader[q] for q in under)[0] += w
            else:
                broader[c] = [w, c, [q for q in oi if c in anc[q]], [q for q in oj if c in anc[q]]]
        return sorted(found + [tuple(m) for m in broader.values() if m[0] >= 5e-4], reverse=True)

    def statement(self, opp: str, run: str, kind: str, i: int, j: int, score: float, sim: float,
                  found: list[tuple]) -> tuple[str, int]:
        """The opportunity as one Turtle statement, and how many triples it has. Its explanation
        is one rdf:JSON literal (written by hand: IRIs need no JSON escaping, keywords got
        json.dumps; then escaped as a Turtle string)."""
        d, keys, iri, head = self.d, self.keys, self.iri, self.head
        a, b = d.uris[i], d.uris[j]
        parts, shared = [], []
        for m in found[:self.max_matches]:
            if len(m) == 2:  # identical
                parts.append(f"{head[m[1]]}{m[0]:.4f}}}")
                if keys[m[1]][0] != '"' and len(shared) < self.max_shared:
                    shared.append(keys[m[1]])
                continue
            w, c, under_a, under_b = m
            if len(shared) < self.max_shared:
                shared.append(keys[c])
            parts.append(f'{{"concept":"{keys[c]}","match":"broader","weight":{w:.4f},'
                         f'"a":[{",".join(iri[o] for o in under_a)}],"b":[{",".join(iri[o] for o in under_b)}]}}')
        rest = sum(m[0] for m in found[self.max_matches:])  # the lightest matches, summed: weights still add up
        why = (f'{{"kind":"{kind}","between":["{a}","{b}"],"regions":["{d.region_uri[i]}","{d.region_uri[j]}"],'
               f'"similarity":{sim:.4f},"matches":[{",".join(parts)}],"others":{rest:.4f}}}').replace('"', '\\"')
        evidence = [d.evidence[e] for e in sorted(self.ev.get(i, set()) & self.ev.get(j, set()))]
        more = (f" ; {_SHARED} <{'>, <'.join(shared)}>" if shared else "") + (
            f" ; {_EVIDENCE} <{'>, <'.join(evidence)}>" if evidence else "")
        score = min(max(score, 0.0), 1.0)
        return (f'<{opp}> a {_OPP} ; {_BETWEEN} <{a}>, <{b}> ; {_SCORE} "{score:.4f}"^^{_DECIMAL} ; '
                f'{_GENERATED} <{run}> ; {_EXPLANATION} "{why}"^^{_JSON}{more} .', 6 + len(shared) + len(evidence))


_OPP, _BETWEEN, _SCORE, _DECIMAL, _GENERATED, _EXPLANATION, _SHARED, _EVIDENCE, _JSON = (
    f"<{t}>" for t in (S3.CooperationOpportunity, S3.between, S3.score, XSD.decimal, PROV.wasGeneratedBy,
                       S3.explanation, S3.sharedConcept, S3.evidence, RDF_JSON))



def opportunity_id(a: str, b: str) -> str:
    """Stable across runs: the same pair keeps its URI (and its links) when the index is rebuilt."""
    return hashlib.sha256(" ".join(sorted((a, b))).encode("utf-8")).hexdigest()[:16]

