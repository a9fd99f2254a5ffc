"""Explaining the cooperation index: each kept pair as ``s3:CooperationOpportunity`` triples
whose ``s3:explanation`` says which concepts (identical, or related through a broader one) and
which collaborations make the score. Python loops only over the opportunities kept.
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict

import scipy.sparse as sp

from vocab import PROV, RDF, S3, XSD

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
    nace2/303) is not a match of its own: its weight goes to the most specific one's match."""

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

    def matches(self, i: int, j: int, same: list[int], same_w: list[float], other: list[int],
                other_w: list[float]) -> list[list]:
        """``[weight, concept, identical, concepts of i under it, concepts of j under it]``, heaviest
        first, from the contributions of concepts both carry (``same``) and of the others."""
        found = {c: [w, c, True, None, None] for c, w in zip(same, same_w, strict=True)}
        if other:
            oi, oj, anc, depth, below = self.own[i], self.own[j], self.anc, self.depth, self.below
            for _, c, w in sorted(zip([depth[c] for c in other], other, other_w, strict=True), reverse=True):
                under = below[c].intersection(found)  # deepest first: they may take the weight of broader ones
                if under:
                    max(found[q] for q in under)[0] += w
                else:
                    found[c] = [w, c, False, [o for o in oi if c in anc[o]], [o for o in oj if c in anc[o]]]
        return sorted((m for m in found.values() if m[0] >= 5e-4), reverse=True)

    def lines(self, opp: str, run: str, kind: str, i: int, j: int, score: float, sim: float,
              contributions: tuple[list, list, list, list]) -> list[str]:
        """The opportunity's triples; its explanation as one rdf:JSON literal (written by hand:
        IRIs need no JSON escaping, keywords got json.dumps; then escaped as an N-Triples literal)."""
        d, keys, iri, head = self.d, self.keys, self.iri, self.head
        a, b = d.uris[i], d.uris[j]
        parts, shared = [], []
        found = self.matches(i, j, *contributions)
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
               f'"similarity":{sim:.4f},"matches":[{",".join(parts)}],"others":{rest:.4f}}}').replace('"', '\\"')
        evidence = sorted(self.ev.get(i, set()) & self.ev.get(j, set()))
        return [f"<{opp}> {_TYPE} {_OPP} .", f"<{opp}> {_BETWEEN} <{a}> .", f"<{opp}> {_BETWEEN} <{b}> .",
                f'<{opp}> {_SCORE} "{min(max(score, 0.0), 1.0):.4f}"^^{_DECIMAL} .', f"<{opp}> {_GENERATED} <{run}> .",
                f'<{opp}> {_EXPLANATION} "{why}"^^{_JSON} .', *(f"<{opp}> {_SHARED} <{c}> ." for c in shared),
                *(f"<{opp}> {_EVIDENCE} <{d.evidence[e]}> ." for e in evidence)]


_TYPE, _OPP, _BETWEEN, _SCORE, _DECIMAL, _GENERATED, _EXPLANATION, _SHARED, _EVIDENCE, _JSON = (
    f"<{t}>" for t in (RDF.type, S3.CooperationOpportunity, S3.between, S3.score, XSD.decimal, PROV.wasGeneratedBy,
                       S3.explanation, S3.sharedConcept, S3.evidence, RDF_JSON))



def opportunity_id(a: str, b: str) -> str:
    """Stable across runs: the same pair keeps its URI (and its links) when the index is rebuilt."""
    return hashlib.sha256(" ".join(sorted((a, b))).encode("utf-8")).hexdigest()[:16]

