"""The Linked Data read surface: ``/id/{kind}/{slug}`` and paged collections ``/id/{kind}/``.

Each resource is served in every RDF serialisation, as HTML for people and as plain JSON for
apps, chosen by ``Accept`` (werkzeug's q-value parsing) or ``?format=``. Responses carry an
``ETag`` of their content and answer ``If-None-Match`` with 304.
"""
from __future__ import annotations

import hashlib
import re
from urllib.parse import urlencode

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, render_template, request
from rdflib import Graph, Literal, URIRef

from vocab import HYDRA, KINDS, ORG, RDF, SKOS
from vocab.profiles import PROFILES, to_json

from . import graphs, settings, store
from .formats import HTML, JSON, RDF_MEDIA_TYPES, negotiate, serialize
from .importer import SLUG, to_rdflib
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


def describe(uri: str) -> Graph | None:
    """The entity's triples plus what a reader needs: labels of linked things, incoming links
    with their labels, and its memberships. None when this node does not publish ``uri``."""
    data = graphs().data
    if not store().query(f"ASK {{ GRAPH <{data}> {{ <{uri}> a ?t }} }}"):
        return None
    triples = store().query(DESCRIBE.format(e=uri, data=data), default_graph=read_graphs())
    return to_rdflib(triples)


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
    if media_type == JSON:
        return respond(current_app.json.dumps(to_json(g, node, kind)), JSON)
    if media_type == HTML:
        return respond(render_template("entity.html", **entity_view(g, node, kind)), HTML)
    return respond(serialize(g, media_type), media_type)


def entity_view(g: Graph, node: URIRef, kind: str) -> dict:
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
