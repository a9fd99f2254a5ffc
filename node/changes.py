"""The one door every write goes through: a change set committed as one SPARQL update.

A change set names the entities it touches and the triples that now describe them. Committing
removes every triple of those entities from the node's data graph, inserts the new ones and
appends the matching change-feed events — all in a single update, which the store applies as
one transaction. So there is no write without its feed event and no event without its write,
whatever happens to the process.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox

from .store import Graphs, Store


@dataclass
class ChangeSet:
    #: entities whose description is replaced by the triples below (or removed, if none)
    subjects: set[str] = field(default_factory=set)
    #: the new triples, all about ``subjects``
    triples: list[ox.Triple] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.subjects)


def _nt(triples) -> str:
    return ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES).decode("utf-8") if triples else ""


def commit(store: Store, graphs: Graphs, changes: ChangeSet) -> int:
    """Apply ``changes`` atomically; returns the number of triples written."""
    from . import feed  # the feed module needs the data triples; imported late to keep layers clear
    if not changes:
        return 0
    g = graphs.data
    values = " ".join(f"<{s}>" for s in sorted(changes.subjects))
    parts = [f"DELETE {{ GRAPH <{g}> {{ ?s ?p ?o }} }} WHERE {{ VALUES ?s {{ {values} }} GRAPH <{g}> {{ ?s ?p ?o }} }}"]
    if changes.triples:
        parts.append(f"INSERT DATA {{ GRAPH <{g}> {{\n{_nt(changes.triples)}}} }}")
    with store.write_lock:  # the feed's sequence number is read and advanced under the lock
        parts.extend(feed.record(store, graphs, changes))
        store.update(" ;\n".join(parts))
    return len(changes.triples)
