"""Reading the cooperation index's input: every priority domain and cluster the hub holds, with
its region, its concepts (and their SKOS parents) and the collaborations that link clusters.

One query without joins: a join across hundreds of peer graphs costs a lookup per graph, so
Python puts the rows together (a dictionary pass over the rows, not over pairs).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyoxigraph as ox

from node.store import Graphs, Store
from vocab import DCAT, NACE, RDF, S3, SKOS

FAMILIES = (S3.naceActivity, S3.scientificField, S3.policyObjective, S3.technology, DCAT.keyword)
KINDS = (("domain", S3.PriorityDomain), ("cluster", S3.Cluster))
READ = f"""SELECT ?s ?p ?o WHERE {{
  VALUES ?p {{ <{RDF.type}> <{S3.strategy}> <{S3.region}> <{S3.nutsCode}> <{S3.contributesTo}> <{S3.partner}>
              <{SKOS.broader}> <{SKOS.narrower}> {' '.join(f'<{f}>' for f in FAMILIES)} }}
  ?s ?p ?o
  FILTER(?p != <{RDF.type}> || ?o IN (<{S3.PriorityDomain}>, <{S3.Cluster}>, <{S3.Collaboration}>, <{S3.Action}>))
}}"""



def source_graphs(store: Store, graphs: Graphs) -> list[str]:
    """What the index reads: the hub's own data and every harvested peer graph."""
    prefix = graphs.peer("")
    return [graphs.data] + sorted(g for g in store.named_graphs() if g.startswith(prefix))



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


def _rows(store: Store, graphs: list[str]) -> Iterator[str]:
    """READ's rows as TSV lines, the graphs queried in two halves at once: the engine serialises
    natively (≈ 2× faster than a Python term object per cell) and releases the GIL meanwhile."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="index-read") as pool:
        halves = pool.map(lambda half: store.query(READ, default_graph=half).serialize(
            format=ox.QueryResultsFormat.TSV).decode("utf-8"), (graphs[0::2], graphs[1::2]))
        for tsv in halves:
            yield from filter(None, tsv.split("\n")[1:])


def read(store: Store, graphs: Graphs) -> Data:
    """One query without joins (a join across hundreds of graphs costs a lookup per graph);
    Python puts the rows together."""
    fam = {f"<{f}>": n for n, f in enumerate(FAMILIES)}
    types, concepts, rel = {}, defaultdict(set), defaultdict(list)
    for row in _rows(store, source_graphs(store, graphs) + [graphs.vocab]):
        s, p, o = row.split("\t")
        if o[0] == "_" or s[0] == "_":
            continue  # blank nodes: nothing to compare or link
        s, literal = s[1:-1], o[0] == '"'
        o = _lexical(o) if literal else o[1:-1]
        f = fam.get(p)
        if f is not None:
            if literal == (f == 4):  # keywords are texts, concepts IRIs
                concepts[s].add((f, '"' + " ".join(o.lower().split()) if f == 4 else o))
        elif p == _TYPE:
            types.setdefault(s, o)
        elif not literal or p == _NUTS:
            rel[p[1:-1]].append((s, o))
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
            d.own.append(sorted({d.column(k, f) for f, k in sorted(concepts.get(uri, ()))}))  # columns in a set order
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


_TYPE, _NUTS = f"<{RDF.type}>", f"<{S3.nutsCode}>"


def _lexical(term: str) -> str:
    """A literal's text from its N-Triples form (TSV cells): escapes, rare, are left to the parser."""
    text = term[1:term.rindex('"')]
    if "\\" in text:
        text = next(iter(ox.parse(f"<s:> <p:> {term} .", format=ox.RdfFormat.N_TRIPLES))).object.value
    return text


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

