"""From fetched members to one SPARQL update: ownership, validation, the transaction.

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

The update: for a first harvest, the peer's graph is replaced by the dump plus any newer
members; afterwards only changed entities are deleted and re-inserted and tombstoned ones
deleted. Data, checkpoint state and provenance go in one ``store.update`` — one transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox

import vocab
from node.store import Graphs

from .ldes import Member
from .peers import Peer

MAX_NAMED = 50  # dropped subjects listed by name in the state (all are counted)


@dataclass
class Changes:
    replace_graph: bool                                   # first harvest: the dump replaces all
    entities: dict[str, list[ox.Triple] | None] = field(default_factory=dict)  # None: delete
    foreign: set[str] = field(default_factory=set)
    invalid: list[dict] = field(default_factory=list)
    members_applied: int = 0

    @property
    def changed(self) -> bool:
        return self.replace_graph or bool(self.entities)

    @property
    def deleted(self) -> int:
        return sum(1 for v in self.entities.values() if v is None)


def build(peer: Peer, dump: list[ox.Quad] | None, members: list[Member]) -> Changes:
    """The final state of every entity the dump and members touch, owned and valid."""
    owned = peer.owned_prefix
    ch = Changes(replace_graph=dump is not None)
    if dump is not None:
        for q in dump:
            s = q.subject
            if isinstance(s, ox.NamedNode) and s.value.startswith(owned):
                ch.entities.setdefault(s.value, []).append(ox.Triple(s, q.predicate, q.object))
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
    g = graphs.peer(peer.id)
    ops = []
    if ch.replace_graph:
        ops.append(f"DROP SILENT GRAPH <{g}>")
    elif ch.entities:
        values = " ".join(f"<{s}>" for s in sorted(ch.entities))
        ops.append(f"DELETE {{ GRAPH <{g}> {{ ?s ?p ?o }} }} WHERE {{ VALUES ?s {{ {values} }} "
                   f"GRAPH <{g}> {{ ?s ?p ?o }} }}")
    triples = [t for ts in ch.entities.values() if ts for t in ts]
    if triples:
        body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES).decode("utf-8")
        ops.append(f"INSERT DATA {{ GRAPH <{g}> {{\n{body}}} }}")
    return ops


def named(items, limit: int = MAX_NAMED) -> list[str]:
    return sorted(items)[:limit]
