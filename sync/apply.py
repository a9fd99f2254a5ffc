"""From fetched members to one write: ownership, validation, the transaction.

Ownership (DESIGN.md): a peer may only describe subjects under ``{peer url}/id/``. Anything
else — a dump triple about another node's entity, a member that is a version of one — is dropped,
counted and named in the state, and the rest is applied.

Validation: each changed entity's new description is checked with the shared SHACL shapes.
An entity that violates them is **dropped and reported, keeping its previous version on the
hub** (or none, if it is new), and the run goes on. Why not refuse the whole run: the peer's own
node validated the same data on import, so a violation here means the two sides run different
versions of the shapes — refusing would block every later change of that region until both
upgrade, for one entity. The drop is visible in ``sync status`` and ``/peers`` with the
violation text, and the entity is taken again with its next valid version. (Syntax errors and
incomplete bodies are different: they refuse the run, see :mod:`sync.ldes`.)

The write (:func:`commit`): data, checkpoint state and provenance land together or not at all.

* Afterwards (the feed): only changed entities are deleted and re-inserted, tombstoned ones
  deleted, in one ``store.update`` with the state and provenance — one transaction, small.
* A first harvest replaces the peer's graph by the dump plus newer members. As one SPARQL update
  that is pyoxigraph's transactional write, ≈ 20 000 quads/s here, and every quad stays in the
  engine's memtables (≈ 1 KB each, no flush until far later: the hub grew 10 MB a 9 000-triple
  peer, 2.5 GB for the 250 peers of tests/benchmarks/bench_harvest.py). So on the embedded store
  a dump of :data:`BULK_MIN` triples or more goes through the bulk loader instead — ≈ 3× faster,
  flat memory: first one small update forgets the peer's graph, state node and provenance (the
  peer has no checkpoint yet, so nothing good is lost: a crash right after it is a hub that never
  harvested the peer), then **one** bulk load adds the data, the provenance and, last, the state
  with its checkpoint. pyoxigraph 0.5 writes a bulk load's table files aside and ingests them in
  one atomic step at the end (:meth:`node.store.Store.bulk_add`), so readers see the peer's graph
  empty or whole, and a checkpoint never without its data. Why not load into a staging graph and
  switch: there is no rename of a graph, and ``MOVE`` copies quad by quad (≈ 6 000/s, slower
  than the update). Smaller dumps, and external SPARQL stores, take the one-update path.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox

import vocab
from node.store import Graphs

from .ldes import Member
from .peers import Peer
from .state import SyncWrite

MAX_NAMED = 50  # dropped subjects listed by name in the state (all are counted)
BULK_MIN = 2000  # triples: below, one transaction costs less than the bulk loader's table files
_ATOMIC_BULK = tuple(int(x) for x in ox.__version__.split(".")[:2]) >= (0, 5)


@dataclass
class Changes:
    replace_graph: bool                                   # first harvest: the dump replaces all
    # the new description of each entity (None: delete it): triples, or a dump's quads as parsed
    # (in the default graph: they serialise as N-Triples and validate as triples, no copy made)
    entities: dict[str, list[ox.Triple | ox.Quad] | None] = field(default_factory=dict)
    foreign: set[str] = field(default_factory=set)
    invalid: list[dict] = field(default_factory=list)
    members_applied: int = 0

    @property
    def changed(self) -> bool:
        return self.replace_graph or bool(self.entities)

    @property
    def deleted(self) -> int:
        return sum(1 for v in self.entities.values() if v is None)

    def triples(self) -> list[ox.Triple | ox.Quad]:
        return [t for ts in self.entities.values() if ts for t in ts]


def build(peer: Peer, dump: list[ox.Quad] | None, members: list[Member]) -> Changes:
    """The final state of every entity the dump (quads in the default graph) and members touch,
    owned and valid. Per dump triple this is one dict lookup: grouped by subject term first,
    ownership checked once per subject (~10 triples each; a federation's dumps hold millions)."""
    owned = peer.owned_prefix
    ch = Changes(replace_graph=dump is not None)
    if dump is not None:
        by_subject: dict = {}
        for q in dump:
            by_subject.setdefault(q.subject, []).append(q)
        for s, triples in by_subject.items():
            if isinstance(s, ox.NamedNode) and s.value.startswith(owned):
                ch.entities[s.value] = triples
            else:
                ch.foreign.add(str(s))
    for m in sorted(members, key=lambda m: m.seq):  # later versions win
        if not m.entity.startswith(owned):
            ch.foreign.add(f"<{m.entity}>")
            continue
        ch.entities[m.entity] = None if m.deleted else m.triples
        ch.members_applied += 1
    _validate(ch)
    return ch


def _validate(ch: Changes) -> None:
    """The shapes on every changed entity at once. The native validator takes the pyoxigraph
    triples as they are (no rdflib copy) and is thread-safe, so harvests of two peers need no lock."""
    triples = [t for ts in ch.entities.values() if ts for t in ts]
    if not triples:
        return
    report = vocab.validate(triples)
    bad: dict[str, list[str]] = {}
    for v in report.violations:
        if v.severity == "Violation" and v.focus in ch.entities:
            bad.setdefault(v.focus, []).append(f"{v.path}: {v.message}" if v.path else v.message)
    for focus, messages in sorted(bad.items()):
        ch.invalid.append({"focus": focus, "message": "; ".join(messages)})
        del ch.entities[focus]  # keep what the hub had (or nothing)


def data_ops(graphs: Graphs, peer: Peer, ch: Changes) -> list[str]:
    """The change as SPARQL update operations (the one-update path of :func:`commit`)."""
    g = graphs.peer(peer.id)
    ops = []
    if ch.replace_graph:
        ops.append(f"DROP SILENT GRAPH <{g}>")
    elif ch.entities:
        values = " ".join(f"<{s}>" for s in sorted(ch.entities))
        ops.append(f"DELETE {{ GRAPH <{g}> {{ ?s ?p ?o }} }} WHERE {{ VALUES ?s {{ {values} }} "
                   f"GRAPH <{g}> {{ ?s ?p ?o }} }}")
    triples = ch.triples()
    if triples:
        body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES).decode("utf-8")
        ops.append(f"INSERT DATA {{ GRAPH <{g}> {{\n{body}}} }}")
    return ops


def commit(store, graphs: Graphs, peer: Peer, ch: Changes | None, sync: SyncWrite) -> str:
    """Write ``ch`` (None: nothing but ``sync``) and the sync graph's ``sync`` together, all or
    nothing (see the module doc); returns how: ``"bulk"`` or ``"update"``."""
    triples = ch.triples() if ch is not None and ch.replace_graph else []
    if len(triples) >= BULK_MIN and _ATOMIC_BULK and hasattr(store, "bulk_add"):
        g = graphs.peer(peer.id)
        store.update(" ;\n".join([f"DROP SILENT GRAPH <{g}>", *sync.forget]))
        data = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)  # every line ends " .\n": add the graph
        # lenient: these are terms pyoxigraph parsed (and checked) from the peer's body, and our own
        # IRIs — checking them again is a fifth of the loader's time
        store.bulk_add(data.replace(b" .\n", f" <{g}> .\n".encode()) + sync.nquads(graphs.sync),
                       ox.RdfFormat.N_QUADS, lenient=True)
        return "bulk"
    store.update(" ;\n".join([*(data_ops(graphs, peer, ch) if ch is not None else []), *sync.ops(graphs.sync)]))
    return "update"


def named(items, limit: int = MAX_NAMED) -> list[str]:
    return sorted(items)[:limit]
