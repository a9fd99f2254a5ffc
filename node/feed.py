"""The change feed: every committed change becomes immutable LDES members, served as pages.

Writing (:func:`record`). Each entity touched by a commit gets a new *version member*
``{base}/feed/member/{seq}``: ``dcterms:isVersionOf`` the entity, ``prov:generatedAtTime`` the
commit time, a gap-free increasing ``s3:sequence``, and the entity's triples at that time with
the version as subject. A deleted entity gets a tombstone member typed ``as:Delete`` (declared
as the stream's ``ldes:versionDeleteObject``). Members live in the node's feed graph, apart from
the published data, and are written in the same update as the data change (:mod:`node.changes`).
Timestamps never go backwards (a member is stamped with the commit time or the newest timestamp
already published, whichever is later), so a ``tree:GreaterThanOrEqualToRelation`` once
published stays true.

Reading (``/feed``, ``/feed/{n}``). ``GET /feed`` is the ``ldes:EventStream`` with its
``tree:view`` (page 0), ``s3:pageSize`` P and ``s3:lastSequence``. Page n holds the members with
sequence ``n*P+1 … (n+1)*P`` in sequence order, so *the members after sequence N start on page
``N // P``* (``GET /feed?since=N`` redirects there). A full page links to the next with a
``tree:GreaterThanOrEqualToRelation`` on ``prov:generatedAtTime`` (value: its own last member's
timestamp, a lower bound for everything after it) and never changes again: it is served
``immutable`` for a year. The newest page is cached for a few seconds only. Every response has
an ``ETag`` (304 on ``If-None-Match``) and ``Vary: Accept``. The page's own description comes
*after* its members in the document, so a body cut at a line boundary is detectably incomplete.

Resuming (``/feed/{n}?from=K``). A harvester that has every member up to K needs the rest of the
page holding K, not the whole page: with 250 members a page and ~2 000 entities a node, re-reading
the newest page would cost an incremental harvest more bytes than the changes themselves. So a
page also answers ``?from=K`` (K on that page) with only the members ``K …`` of it: a
``tree:Node`` of its own, ``{base}/feed/{n}?from=K`` with ``s3:firstSequence`` K, holding those
members and, when page n is full, the same relation to page n+1 — a consistent TREE node, just
not one that ``tree:view`` leads to, so LDES clients that walk the tree from ``/feed`` (the npm
ldes-client) never meet it and see the feed exactly as before. Member K itself is included on
purpose: the client already has it and checks it is unchanged (a peer restored from an old
backup reuses sequence numbers). Caching follows the page: immutable once page n is full, a few
seconds while it is the newest.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pyoxigraph as ox
from flask import Blueprint, redirect, request

from vocab import AS, DCTERMS, LDES, PROV, RDF, S3, TREE, XSD

from .store import Graphs, Store

_SEQ = ox.NamedNode(str(S3.lastSequence))
DEFAULT_PAGE_SIZE = 250
IMMUTABLE = "public, max-age=31536000, immutable"
FORMATS = {"text/turtle": ox.RdfFormat.TURTLE, "application/n-triples": ox.RdfFormat.N_TRIPLES,
           "application/ld+json": ox.RdfFormat.JSON_LD, "application/n-quads": ox.RdfFormat.N_QUADS,
           "application/trig": ox.RdfFormat.TRIG}
PREFIXES = {"ldes": str(LDES), "tree": str(TREE), "prov": str(PROV), "dcterms": str(DCTERMS),
            "s3": str(S3), "as": str(AS), "xsd": str(XSD), "rdf": str(RDF)}

bp = Blueprint("feed", __name__)


def _nn(term) -> ox.NamedNode:
    return ox.NamedNode(str(term))


def _int(n: int) -> ox.Literal:
    return ox.Literal(str(n), datatype=_nn(XSD.integer))


# -- writing ---------------------------------------------------------------------------------

def last_sequence(store: Store, graphs: Graphs) -> int:
    rows = list(store.query(f"SELECT ?n {{ GRAPH <{graphs.feed}> {{ <{graphs.feed}> <{_SEQ.value}> ?n }} }}"))
    return int(rows[0]["n"].value) if rows else 0


def _member(graphs: Graphs, seq: int) -> str:
    return f"{graphs.base}/feed/member/{seq}"


def _timestamp_of(store: Store, graphs: Graphs, seq: int) -> str | None:
    rows = list(store.query(f"SELECT ?t {{ GRAPH <{graphs.feed}> {{ <{_member(graphs, seq)}> "
                            f"<{PROV.generatedAtTime}> ?t }} }}"))
    return rows[0]["t"].value if rows else None


def record(store: Store, graphs: Graphs, changes) -> list[str]:
    """SPARQL update operations that append the members for ``changes``.

    Must run under ``store.write_lock`` together with the data update it accompanies.
    """
    seq = last_sequence(store, graphs)
    now = datetime.now(UTC)
    previous = _timestamp_of(store, graphs, seq) if seq else None
    if previous:  # compared as times: the store canonicalises the lexical form (drops ".000000")
        now = max(now, datetime.fromisoformat(previous.replace("Z", "+00:00")))
    stamp = ox.Literal(now.isoformat(timespec="microseconds").replace("+00:00", "Z"), datatype=_nn(XSD.dateTime))
    by_subject: dict[str, list[ox.Triple]] = {}
    for t in changes.triples:
        by_subject.setdefault(t.subject.value, []).append(t)
    members: list[ox.Triple] = []
    for subject in sorted(changes.subjects):
        seq += 1
        v = ox.NamedNode(_member(graphs, seq))
        members += [ox.Triple(v, _nn(DCTERMS.isVersionOf), ox.NamedNode(subject)),
                    ox.Triple(v, _nn(PROV.generatedAtTime), stamp),
                    ox.Triple(v, _nn(S3.sequence), _int(seq))]
        triples = by_subject.get(subject)
        if triples:
            members += [ox.Triple(v, t.predicate, t.object) for t in triples]
        else:
            members.append(ox.Triple(v, _nn(RDF.type), _nn(AS.Delete)))
    feed = graphs.feed
    body = ox.serialize(members, format=ox.RdfFormat.N_TRIPLES).decode("utf-8")
    return [
        f"DELETE WHERE {{ GRAPH <{feed}> {{ <{feed}> <{_SEQ.value}> ?n }} }}",
        f"INSERT DATA {{ GRAPH <{feed}> {{\n{body}<{feed}> <{_SEQ.value}> {seq} .\n}} }}",
    ]


# -- reading ---------------------------------------------------------------------------------

def page_size(cfg: dict) -> int:
    return max(1, int(cfg.get("feed", {}).get("page_size", DEFAULT_PAGE_SIZE)))


def stream_description(base: str, size: int, last: int) -> list[ox.Triple]:
    """The ``ldes:EventStream``: how to read its members (on ``/feed`` and on every page)."""
    s = ox.NamedNode(f"{base}/feed")
    return [ox.Triple(s, _nn(RDF.type), _nn(LDES.EventStream)),
            ox.Triple(s, _nn(LDES.timestampPath), _nn(PROV.generatedAtTime)),
            ox.Triple(s, _nn(LDES.versionOfPath), _nn(DCTERMS.isVersionOf)),
            ox.Triple(s, _nn(LDES.sequencePath), _nn(S3.sequence)),
            ox.Triple(s, _nn(LDES.versionDeletePath), _nn(RDF.type)),
            ox.Triple(s, _nn(LDES.versionDeleteObject), _nn(AS.Delete)),
            ox.Triple(s, _nn(S3.pageSize), _int(size)),
            ox.Triple(s, _nn(S3.lastSequence), _int(last)),
            ox.Triple(s, _nn(TREE.view), ox.NamedNode(f"{base}/feed/0"))]


def page_triples(store: Store, graphs: Graphs, n: int, size: int, last: int,
                 start: int | None = None) -> tuple[list[ox.Triple], bool]:
    """Page ``n``'s document — or, with ``start``, its members from that sequence on, as the node
    ``/feed/{n}?from={start}`` — and whether page n is full (hence immutable). Members are looked
    up by their IRIs (sequence → IRI), never by scanning the feed."""
    base, end = graphs.base, min((n + 1) * size, last)
    first = n * size + 1 if start is None else start
    stream = ox.NamedNode(f"{base}/feed")
    out: list[ox.Triple] = []
    if end >= first:
        values = " ".join(f"<{_member(graphs, s)}>" for s in range(first, end + 1))
        rows = store.query(f"SELECT ?m ?p ?o {{ VALUES ?m {{ {values} }} GRAPH <{graphs.feed}> {{ ?m ?p ?o }} }}")
        by_member: dict[str, list[ox.Triple]] = {}
        for r in rows:
            by_member.setdefault(r["m"].value, []).append(ox.Triple(r["m"], r["p"], r["o"]))
        for s in range(first, end + 1):
            m = _member(graphs, s)
            out += sorted(by_member.get(m, []), key=str)
            out.append(ox.Triple(stream, _nn(TREE.member), ox.NamedNode(m)))
    full = last >= (n + 1) * size
    page = ox.NamedNode(f"{base}/feed/{n}" + ("" if start is None else f"?from={start}"))
    out += stream_description(base, size, last)[:6]  # how to read members, without the moving counter
    out += [ox.Triple(stream, _nn(TREE.view), ox.NamedNode(f"{base}/feed/0")),
            ox.Triple(page, _nn(RDF.type), _nn(TREE.Node)),
            ox.Triple(page, _nn(S3.firstSequence), _int(first)),
            ox.Triple(page, _nn(S3.lastSequence), _int(max(end, first - 1)))]
    if full:
        rel = ox.NamedNode(f"{page.value}#next")
        stamp = _timestamp_of(store, graphs, (n + 1) * size)
        out += [ox.Triple(page, _nn(TREE.relation), rel),
                ox.Triple(rel, _nn(RDF.type), _nn(TREE.GreaterThanOrEqualToRelation)),
                ox.Triple(rel, _nn(TREE.path), _nn(PROV.generatedAtTime)),
                ox.Triple(rel, _nn(TREE.value), ox.Literal(stamp, datatype=_nn(XSD.dateTime))),
                ox.Triple(rel, _nn(TREE.node), ox.NamedNode(f"{base}/feed/{n + 1}"))]
    return out, full


def _respond(triples: list[ox.Triple], cache: str):
    from .entities import respond
    from .formats import negotiate
    from .problems import Problem
    media_type = negotiate(list(FORMATS), default="text/turtle")
    if media_type is None:
        raise Problem(406, "Not Acceptable", "The feed is available as " + ", ".join(FORMATS)
                      + " (or ?format=ttl|nt|jsonld|nq|trig).")
    fmt = FORMATS[media_type]
    kwargs = {"prefixes": PREFIXES} if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else {}
    resp = respond(ox.serialize(triples, format=fmt, **kwargs), media_type)
    resp.headers["Cache-Control"] = cache
    return resp


def _context():
    from . import graphs, settings, store
    return store(), graphs(), settings()


@bp.get("/feed")
def stream():
    st, gs, cfg = _context()
    size = page_size(cfg)
    if "since" in request.args:
        try:
            since = int(request.args["since"])
        except ValueError:
            since = -1
        if since < 0:
            from .problems import Problem
            raise Problem(400, "Bad Request", "since must be a sequence number ≥ 0 (the last one you have)")
        return redirect(f"{gs.base}/feed/{since // size}", 302)
    return _respond(stream_description(gs.base, size, last_sequence(st, gs)), f"public, max-age={_max_age(cfg)}")


@bp.get("/feed/<int:n>")
def page(n: int):
    st, gs, cfg = _context()
    size = page_size(cfg)
    # A commit writes its members and the counter in one transaction, so every member up to
    # the counter read here exists: no lock needed.
    last = last_sequence(st, gs)
    if n > last // size:
        from .problems import Problem
        raise Problem(404, "Not Found", f"The feed has {last} members in pages 0–{last // size} "
                      f"of {size}; page {n} does not exist yet.")
    start = _from(request.args.get("from"), n, size, last)
    triples, full = page_triples(st, gs, n, size, last, start)
    return _respond(triples, IMMUTABLE if full else f"public, max-age={_max_age(cfg)}")


def _from(value: str | None, n: int, size: int, last: int) -> int | None:
    """``?from=K``: a sequence on page n that exists (400 / 404 with the range otherwise)."""
    if value is None:
        return None
    from .problems import Problem
    first, end = n * size + 1, (n + 1) * size
    if not value.isdigit() or not first <= int(value) <= end:
        raise Problem(400, "Bad Request", f"from must be a sequence number on page {n}: {first}–{end}")
    if int(value) > last:
        raise Problem(404, "Not Found", f"The feed has {last} members; member {value} does not exist yet.")
    return int(value)


def _max_age(cfg: dict) -> int:
    return int(cfg.get("feed", {}).get("max_age_s", 5))


def register(app) -> None:
    app.register_blueprint(bp)
