"""Harvest state and provenance, kept as RDF in the hub's sync graph.

Why in the store and not in a side file: the checkpoint must move *with* the data. A harvest
replaces the peer's entities and this state (checkpoint, ETags, digest) and writes the PROV-O
run all at once — one SPARQL update, or one bulk load (:func:`sync.apply.commit`), which is why
a write is kept as :class:`SyncWrite` (removals + triples) and not as SPARQL text — so a crash
can never leave data ahead of or behind its checkpoint. A failed run only rewrites the state
node (attempt time, error), never the data.

One node per peer, ``{hub}/sync/peer/{id}``: the sequence number reached (``s3:checkpoint``), the
times and error people ask about, and the rest (ETags, page digest, counters, what was dropped
and why) as one ``rdf:JSON`` literal, because only the harvester and ``/peers`` read it.
Provenance: the peer's graph ``prov:wasGeneratedBy`` the last run that changed it, a
``prov:Activity`` with start and end times that ``prov:used`` the peer's dump and/or feed.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import pyoxigraph as ox

from node.store import Graphs, Store
from vocab import PROV, RDF, S3, XSD

from .peers import Peer

RDF_JSON = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"


@dataclass
class PeerState:
    peer: str
    checkpoint: int | None = None       # last feed sequence applied; None: never harvested
    last_attempt: str | None = None
    last_success: str | None = None
    last_error: str | None = None
    members_applied: int = 0            # over all runs
    feed_etag: str | None = None        # of /feed, for a one-request "nothing new" run
    page_url: str | None = None         # the page (or from= view) the last run ended on …
    page_etag: str | None = None        # … and its ETag, for a conditional request
    page_digest: str | None = None      # "{checkpoint}:{digest of that member}": a rewrite is detected
    page_size: int | None = None        # the feed's page size then
    last_run: dict = field(default_factory=dict)   # mode, pages, bytes, requests, members, seconds…
    dropped_foreign: list[str] = field(default_factory=list)  # subjects not under the peer's /id/
    dropped_foreign_count: int = 0
    dropped_invalid: list[dict] = field(default_factory=list)  # SHACL violations (focus, message)
    generated_by: str | None = None     # the run that last changed the peer's graph

    DETAILS = ("feed_etag", "page_url", "page_etag", "page_digest", "page_size", "last_run", "dropped_foreign",
               "dropped_foreign_count", "dropped_invalid", "generated_by")

    def as_dict(self) -> dict:
        return asdict(self)


def node_iri(graphs: Graphs, peer_id: str) -> str:
    return f"{graphs.base}/sync/peer/{peer_id}"


def _lit(value, datatype=None) -> str:
    text = ox.Literal(str(value), datatype=ox.NamedNode(datatype)) if datatype else ox.Literal(str(value))
    return str(text)


def load(store: Store, graphs: Graphs, peer_id: str) -> PeerState:
    s = node_iri(graphs, peer_id)
    rows = store.query(f"SELECT ?p ?o {{ GRAPH <{graphs.sync}> {{ <{s}> ?p ?o }} }}")
    st = PeerState(peer_id)
    for r in rows:
        p, o = r["p"].value, r["o"].value
        if p == str(S3.checkpoint):
            st.checkpoint = int(o)
        elif p == str(S3.lastAttempt):
            st.last_attempt = o
        elif p == str(S3.lastSuccess):
            st.last_success = o
        elif p == str(S3.lastError):
            st.last_error = o
        elif p == str(S3.membersApplied):
            st.members_applied = int(o)
        elif p == str(S3.harvestDetails):
            details = json.loads(o)
            for key in PeerState.DETAILS:
                if key in details:
                    setattr(st, key, details[key])
    return st


@dataclass
class SyncWrite:
    """What a run writes in the sync graph: operations that first remove what it replaces, then
    triples (N-Triples lines). As SPARQL for an update, or as N-Quads for the bulk loader
    (:func:`sync.apply.commit`, which runs the removal first)."""

    forget: list[str]
    lines: list[str]

    def __add__(self, other: SyncWrite) -> SyncWrite:
        return SyncWrite(self.forget + other.forget, self.lines + other.lines)

    def ops(self, graph: str) -> list[str]:
        return [*self.forget, f"INSERT DATA {{ GRAPH <{graph}> {{\n" + "\n".join(self.lines) + "\n} }"]

    def nquads(self, graph: str) -> bytes:
        return "".join(f"{line[:-1]}<{graph}> .\n" for line in self.lines).encode("utf-8")


def state_write(graphs: Graphs, peer: Peer, st: PeerState) -> SyncWrite:
    """Replace the peer's state node with ``st``."""
    s, g = node_iri(graphs, peer.id), graphs.sync
    lines = [f"<{s}> <{RDF.type}> <{S3.HarvestState}> .",
             f"<{s}> <{S3.peerId}> {_lit(peer.id)} .",
             f"<{s}> <{S3.peerUrl}> <{peer.url}> .",
             f"<{s}> <{S3.membersApplied}> {_lit(st.members_applied, str(XSD.integer))} ."]
    if st.checkpoint is not None:
        lines.append(f"<{s}> <{S3.checkpoint}> {_lit(st.checkpoint, str(XSD.integer))} .")
    for pred, value in ((S3.lastAttempt, st.last_attempt), (S3.lastSuccess, st.last_success)):
        if value:
            lines.append(f"<{s}> <{pred}> {_lit(value, str(XSD.dateTime))} .")
    if st.last_error:
        lines.append(f"<{s}> <{S3.lastError}> {_lit(st.last_error)} .")
    details = {k: getattr(st, k) for k in PeerState.DETAILS}
    lines.append(f"<{s}> <{S3.harvestDetails}> {_lit(json.dumps(details, sort_keys=True), RDF_JSON)} .")
    return SyncWrite([f"DELETE WHERE {{ GRAPH <{g}> {{ <{s}> ?p ?o }} }}"], lines)


def state_ops(graphs: Graphs, peer: Peer, st: PeerState) -> list[str]:
    """SPARQL update operations that replace the peer's state node with ``st``."""
    return state_write(graphs, peer, st).ops(graphs.sync)


def provenance_write(graphs: Graphs, peer: Peer, run_iri: str, started: str, ended: str,
                     used: list[str]) -> SyncWrite:
    """Make ``run_iri`` the activity that generated the peer's graph (the previous one is
    removed: the state node keeps counts, the store is not a run log)."""
    g, pg = graphs.sync, graphs.peer(peer.id)
    wgb = PROV.wasGeneratedBy
    lines = [f"<{run_iri}> <{RDF.type}> <{PROV.Activity}> .",
             f"<{run_iri}> <{RDF.type}> <{S3.HarvestRun}> .",
             f"<{run_iri}> <{PROV.startedAtTime}> {_lit(started, str(XSD.dateTime))} .",
             f"<{run_iri}> <{PROV.endedAtTime}> {_lit(ended, str(XSD.dateTime))} .",
             f"<{run_iri}> <{PROV.wasAssociatedWith}> <{graphs.base}/void#dataset> .",
             f"<{run_iri}> <{S3.harvestOf}> <{node_iri(graphs, peer.id)}> .",
             *(f"<{run_iri}> <{PROV.used}> <{u}> ." for u in used),
             f"<{pg}> <{wgb}> <{run_iri}> .",
             f"<{pg}> <{PROV.generatedAtTime}> {_lit(ended, str(XSD.dateTime))} .",
             f"<{pg}> <{PROV.wasDerivedFrom}> <{peer.url}/void#dataset> ."]
    return SyncWrite([f"DELETE {{ GRAPH <{g}> {{ <{pg}> ?p ?o . ?a ?ap ?ao }} }} WHERE {{ GRAPH <{g}> "
                      f"{{ <{pg}> ?p ?o OPTIONAL {{ <{pg}> <{wgb}> ?a . ?a ?ap ?ao }} }} }}"], lines)


def save(store: Store, graphs: Graphs, peer: Peer, st: PeerState) -> None:
    """Write the state alone (a failed or unchanged run): the peer's data is not touched."""
    store.update(" ;\n".join(state_ops(graphs, peer, st)))


def provenance(store: Store, graphs: Graphs, peer_id: str) -> dict:
    """The run that generated the peer's graph, for /peers."""
    pg = graphs.peer(peer_id)
    rows = list(store.query(
        f"SELECT ?run ?start ?end (GROUP_CONCAT(STR(?used); separator=' ') AS ?u) {{ GRAPH <{graphs.sync}> {{ "
        f"<{pg}> <{PROV.wasGeneratedBy}> ?run . ?run <{PROV.startedAtTime}> ?start ; "
        f"<{PROV.endedAtTime}> ?end ; <{PROV.used}> ?used }} }} GROUP BY ?run ?start ?end"))
    if not rows:
        return {}
    r = rows[0]
    return {"graph": pg, "wasGeneratedBy": r["run"].value, "startedAtTime": r["start"].value,
            "endedAtTime": r["end"].value, "used": r["u"].value.split()}
