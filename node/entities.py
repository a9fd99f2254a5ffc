"""The Linked Data read surface: ``/id/{kind}/{slug}`` and paged collections ``/id/{kind}/``.

Each resource is served in every RDF serialisation, as HTML for people and as plain JSON for
apps, chosen by ``Accept`` (werkzeug's q-value parsing) or ``?format=``. Responses carry an
``ETag`` of their content and answer ``If-None-Match`` with 304.
"""
from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections import OrderedDict
from urllib.parse import urlencode

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, render_template, request
from rdflib import BNode, Graph, Literal, URIRef

from vocab import HYDRA, KINDS, ORG, RDF, SKOS
from vocab.profiles import PROFILES, to_json

from . import graphs, settings, store
from .formats import HTML, JSON, RDF_MEDIA_TYPES, negotiate, serialize
from .importer import SLUG
from .problems import Problem
from .store import readable_graphs
from .templating import label

bp = Blueprint("entities", __name__)
OFFERED = [*RDF_MEDIA_TYPES, HTML, JSON]
MAX_PAGE = 1_000_000  # OFFSET stays a number the SPARQL engine reads


def read_graphs() -> list[str]:
    """The graphs a read sees: the node's data, the vocabulary, and a hub's harvests and index."""
    return readable_graphs(store(), graphs())


def kind_or_404(kind: str):
    if kind not in KINDS:
        raise Problem(404, "Not Found", f"There is no kind {kind!r} here; kinds are: " + ", ".join(KINDS))
    return KINDS[kind]


def entity_uri(kind: str, slug: str) -> str:
    return f"{settings()['node']['base_url']}/id/{kind}/{slug}"


DESCRIBE = """
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX org: <http://www.w3.org/ns/org#>
CONSTRUCT {{ <{e}> ?p ?o . ?o skos:prefLabel ?ol . ?in ?ip <{e}> . ?in a ?it . ?in skos:prefLabel ?il .
            ?m ?mp ?mo . ?mo skos:prefLabel ?mol . }}
WHERE {{
  {{ GRAPH <{data}> {{ <{e}> ?p ?o }} OPTIONAL {{ ?o skos:prefLabel ?ol }} }}
  UNION {{ ?in ?ip <{e}> FILTER(isIRI(?in)) OPTIONAL {{ ?in a ?it }} OPTIONAL {{ ?in skos:prefLabel ?il }} }}
  UNION {{ ?m org:organization|org:member <{e}> . ?m ?mp ?mo OPTIONAL {{ ?mo skos:prefLabel ?mol }} }}
}}"""


def describe(uri: str) -> list[ox.Triple] | None:
    """The entity's triples plus what a reader needs: labels of linked things, incoming links
    with their labels, and its memberships. None when this node does not publish ``uri``.

    pyoxigraph triples, not an rdflib graph: the RDF representations are serialised from them
    natively, and only what needs rdflib terms (the JSON profile, the HTML page) converts them.
    One query: the entity is published when its own part (from the data graph) has its
    ``rdf:type`` — the other parts describe other subjects (an import types every subject, and
    another graph cannot hold this node's subjects), so no separate ASK is needed. The answer
    is kept until the store is written (:class:`Descriptions`): callers must not change it."""
    cache = current_app.extensions.get("s3fed.descriptions")
    if cache is None:
        cache = current_app.extensions.setdefault("s3fed.descriptions", Descriptions())
    return cache.get(store(), uri, lambda: _describe(uri))


def _describe(uri: str) -> list[ox.Triple] | None:
    e, rdf_type = ox.NamedNode(uri), ox.NamedNode(str(RDF.type))
    found = store().query(DESCRIBE.format(e=uri, data=graphs().data), default_graph=read_graphs())
    triples = list(dict.fromkeys(found))
    return triples if any(t.subject == e and t.predicate == rdf_type for t in triples) else None


class Descriptions:
    """Entity descriptions of the store's current write generation (:attr:`node.store.Store.generation`,
    bumped by every write; the /sparql workers' checkpoints rely on it the same way), least
    recently used dropped past ``budget`` triples. Why: the describe query is most of the cost
    of an entity GET (tests/benchmarks/bench_http.py), and reads far outnumber writes. A store
    without a generation (an external SPARQL server, which other processes write) is not cached.
    A generation is read before its query runs, so an answer is never kept as newer than it is."""

    def __init__(self, budget: int = 200_000):
        self.budget, self._lock = budget, threading.Lock()
        self._generation, self._by_uri, self._size = None, OrderedDict(), 0

    def get(self, st, uri: str, compute):
        generation = getattr(st, "generation", None)
        if generation is None:
            return compute()
        with self._lock:
            if generation != self._generation:
                self._generation, self._size = generation, 0
                self._by_uri.clear()
            if uri in self._by_uri:
                self._by_uri.move_to_end(uri)
                return self._by_uri[uri]
        value = compute()
        if value is not None:  # unknown URIs are not kept: anyone can ask for many
            with self._lock:
                if generation == self._generation and uri not in self._by_uri:
                    self._by_uri[uri], self._size = value, self._size + len(value)
                    while self._size > self.budget and len(self._by_uri) > 1:
                        self._size -= len(self._by_uri.popitem(last=False)[1])
        return value


@functools.lru_cache(maxsize=65536)
def _iri(value: str) -> URIRef:
    return URIRef(value)


@functools.lru_cache(maxsize=65536)
def _literal(value: str, language: str | None, datatype: str) -> Literal:
    return Literal(value, lang=language) if language else Literal(value, datatype=_iri(datatype))


def _term(t):
    """An rdflib term for a pyoxigraph one, as :func:`node.importer.to_rdflib` makes it; cached,
    since the same predicates, types, concepts and labels come back on every page."""
    if isinstance(t, ox.NamedNode):
        return _iri(t.value)
    if isinstance(t, ox.BlankNode):
        return BNode(t.value)
    return _literal(t.value, t.language, t.datatype.value)


class Description:
    """An entity's description as its HTML page and its JSON profile read it: the part of
    rdflib's ``Graph`` API they use (``objects``, ``predicates``, ``subjects``,
    ``subject_predicates``, ``value``, ``add``, ``in``) over two dicts, with rdflib terms.
    Building an rdflib ``Graph`` (its indexes, its term checks) cost more than rendering the
    page (tests/benchmarks/bench_http.py)."""

    def __init__(self, triples=()):
        self._out: dict = {}  # s → {p → [o]}
        self._in: dict = {}   # o → [(s, p)]
        for t in triples:
            self.add((_term(t.subject), _term(t.predicate), _term(t.object)))

    def add(self, triple) -> None:
        s, p, o = triple
        objects = self._out.setdefault(s, {}).setdefault(p, [])
        if o not in objects:
            objects.append(o)
            self._in.setdefault(o, []).append((s, p))

    def triples(self, pattern):
        s, p, o = pattern
        if o is not None and s is None:
            for s2, p2 in self._in.get(o, ()):
                if p is None or p == p2:
                    yield s2, p2, o
            return
        for s2, by_p in ([(s, self._out.get(s, {}))] if s is not None else self._out.items()):
            for p2, objects in ([(p, by_p.get(p, ()))] if p is not None else by_p.items()):
                for o2 in objects:
                    if o is None or o == o2:
                        yield s2, p2, o2

    def __contains__(self, triple) -> bool:
        return next(self.triples(triple), None) is not None

    def __iter__(self):
        return self.triples((None, None, None))

    def __len__(self) -> int:
        return sum(len(objects) for by_p in self._out.values() for objects in by_p.values())

    def objects(self, subject=None, predicate=None):
        return (o for _, _, o in self.triples((subject, predicate, None)))

    def subjects(self, predicate=None, object=None):  # noqa: A002 — rdflib's names
        return (s for s, _, _ in self.triples((None, predicate, object)))

    def predicates(self, subject=None, object=None):  # noqa: A002
        return (p for _, p, _ in self.triples((subject, None, object)))

    def subject_predicates(self, object=None):  # noqa: A002
        return ((s, p) for s, p, _ in self.triples((None, None, object)))

    def value(self, subject=None, predicate=None, object=None, default=None):  # noqa: A002
        if object is None:
            return next(self.objects(subject, predicate), default)
        return next(self.subjects(predicate, object), default)


def respond(body: bytes | str, media_type: str) -> Response:
    """A response with ``Vary: Accept`` and a content ETag; 304 when the client has it."""
    # RDF serialisations are UTF-8 by definition; say so for clients that guess otherwise
    charset = "; charset=utf-8" if media_type in ("application/n-triples", "application/n-quads") else ""
    resp = current_app.response_class(body, content_type=media_type + charset if charset else None,
                                      mimetype=None if charset else media_type)
    resp.headers["Vary"] = "Accept"
    resp.set_etag(hashlib.sha256(resp.get_data()).hexdigest()[:32])
    return resp.make_conditional(request)


def _not_acceptable() -> Problem:
    return Problem(406, "Not Acceptable", "This resource is available as: " + ", ".join(OFFERED)
                   + " (or ?format=ttl|jsonld|nt|rdf|html|json).")


@bp.get("/id/<kind>/<slug>")
def entity(kind: str, slug: str):
    k = kind_or_404(kind)
    uri = entity_uri(kind, slug)
    if not re.fullmatch(SLUG, slug) or (g := describe(uri)) is None:
        raise Problem(404, "Not Found", f"This node publishes no {k.label.lower()} at {uri}.")
    media_type = negotiate(OFFERED, default=HTML if request.accept_mimetypes.accept_html else None)
    if media_type is None:
        raise _not_acceptable()
    node = URIRef(uri)
    if media_type == JSON:  # the profile reads only the entity's own triples
        subject = ox.NamedNode(uri)
        return respond(current_app.json.dumps(to_json(Description(t for t in g if t.subject == subject), node, kind)),
                       JSON)
    if media_type == HTML:
        return respond(render_template("entity.html", **entity_view(Description(g), node, kind)), HTML)
    return respond(serialize(g, media_type), media_type)


def entity_view(g: Description, node: URIRef, kind: str) -> dict:
    """What the HTML page shows: the profile's fields in order, then anything else, then the
    things that point here (clusters contributing to a domain, memberships…)."""
    shown, fields = {RDF.type}, []
    for f in PROFILES[kind]:
        values = sorted(g.objects(node, f.predicate))
        shown.add(f.predicate)
        if values:
            fields.append((f.name, f.predicate, values))
    for p in sorted(set(g.predicates(node)) - shown):
        fields.append((None, p, sorted(g.objects(node, p))))
    incoming: dict[URIRef, list[URIRef]] = {}
    for s, p in g.subject_predicates(node):
        if p not in (ORG.organization, ORG.member):
            incoming.setdefault(p, []).append(s)
    memberships = []
    for m in set(g.subjects(ORG.organization, node)) | set(g.subjects(ORG.member, node)):
        other = g.value(m, ORG.member) if g.value(m, ORG.organization) == node else g.value(m, ORG.organization)
        memberships.append({"uri": m, "other": other, "role": g.value(m, ORG.role)})
    return {"g": g, "node": node, "kind": KINDS[kind], "title": label(g, node),
            "fields": fields, "incoming": sorted(incoming.items()),
            "memberships": sorted(memberships, key=lambda x: label(g, x["other"]) if x["other"] else ""),
            "is_literal": lambda v: isinstance(v, Literal), "formats": ["ttl", "jsonld", "nt", "rdf", "json"]}


# -- collections ---------------------------------------------------------------------------

def _page_args() -> tuple[int, int]:
    limits = settings()["limits"]
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("per_page", limits["page_size"]))
    except ValueError:
        raise Problem(400, "Bad Request", "page and per_page must be whole numbers") from None
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= limits["max_page_size"]:  # as /api/v1/{kind}
        raise Problem(400, "Bad Request", f"page must be between 1 and {MAX_PAGE} and per_page between 1 and "
                      f"{limits['max_page_size']}")
    return page, per_page


def _filters(kind: str) -> str:
    """Triple patterns for ``?field=IRI`` filters on the kind's link fields, and ``?q=`` text."""
    patterns = []
    links = {f.name: f for f in PROFILES[kind] if f.shape in ("link", "links")
             and f.name not in ("page", "per_page", "q")}  # a strategy's foaf:page is a field, ?page= is paging
    for name, value in request.args.items():
        if name in links:
            try:  # absolute, and nothing that could close the IRI in the query
                iri = ox.NamedNode(value) if len(value) <= 2048 else None
            except ValueError:
                iri = None
            if iri is None:
                raise Problem(400, "Bad Request", f"{name} must be an absolute IRI (e.g. https://example.org/thing)")
            patterns.append(f"?s <{links[name].predicate}> {iri} .")
    q = request.args.get("q", "").strip()
    if q:  # a SPARQL string literal, escaped by the engine's own serialiser (quotes, newlines…)
        patterns.append(f'?s <{SKOS.prefLabel}> ?_q . FILTER(CONTAINS(LCASE(STR(?_q)), LCASE({ox.Literal(q)})))')
    return "\n".join(patterns)


@bp.get("/id/<kind>/")
def collection(kind: str):
    k = kind_or_404(kind)
    page, per_page = _page_args()
    media_type = negotiate(OFFERED, default=HTML if request.accept_mimetypes.accept_html else None)
    if media_type is None:
        raise _not_acceptable()
    where = f"GRAPH <{graphs().data}> {{ ?s a <{k.rdf_class}> . {_filters(kind)} }}"
    total = int(next(iter(store().query(f"SELECT (COUNT(DISTINCT ?s) AS ?n) {{ {where} }}")))["n"].value)
    rows = store().query(
        f"SELECT ?s ?l {{ {{ SELECT DISTINCT ?s {{ {where} }} ORDER BY ?s LIMIT {per_page} "
        f"OFFSET {(page - 1) * per_page} }} OPTIONAL {{ GRAPH <{graphs().data}> {{ ?s <{SKOS.prefLabel}> ?l }} }} }}")
    g = Graph()
    members: list[URIRef] = []
    for row in rows:
        s = URIRef(row["s"].value)
        if s not in members:
            members.append(s)
        if row["l"] is not None:
            g.add((s, SKOS.prefLabel, Literal(row["l"].value, lang=row["l"].language)))
    last = max(1, -(-total // per_page))
    links = _page_links(kind, page, per_page, last)
    if media_type == JSON:
        body = {"kind": kind, "total": total, "page": page, "per_page": per_page, **links,
                "items": [{"id": str(m), "label": label(g, m)} for m in members]}
        return respond(current_app.json.dumps(body), JSON)
    if media_type == HTML:
        return respond(render_template("collection.html", kind=k, g=g, members=members, total=total,
                                       page=page, last=last, links=links, q=request.args.get("q", "")), HTML)
    coll = URIRef(f"{settings()['node']['base_url']}/id/{kind}/")
    g.add((coll, RDF.type, HYDRA.Collection))
    g.add((coll, HYDRA.totalItems, Literal(total)))
    for m in members:
        g.add((coll, HYDRA.member, m))
        g.add((m, RDF.type, k.rdf_class))
    view = URIRef(links["self"])
    g.add((coll, HYDRA.view, view))
    g.add((view, RDF.type, HYDRA.PartialCollectionView))
    for rel in ("first", "last", "next", "previous"):
        if links.get(rel):
            g.add((view, HYDRA[rel], URIRef(links[rel])))
    return respond(serialize(g, media_type), media_type)


def _page_links(kind: str, page: int, per_page: int, last: int) -> dict:
    base = f"{settings()['node']['base_url']}/id/{kind}/"
    extra = {k: v for k, v in request.args.items() if k not in ("page", "per_page")}

    def link(p: int) -> str:
        return base + "?" + urlencode({**extra, "page": p, "per_page": per_page})
    return {"self": link(page), "first": link(1), "last": link(last),
            "next": link(page + 1) if page < last else None,
            "previous": link(page - 1) if page > 1 else None}
