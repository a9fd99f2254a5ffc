"""The node's own pages: landing page, dataset description (VoID + DCAT), vocabulary, dump,
health.

The landing page and ``/void`` describe the same dataset — people get HTML, machines RDF or
JSON — so a harvester or a catalogue finds the SPARQL endpoint, the feed and the dump from the
node's root URL.
"""
from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, render_template, request
from rdflib import BNode, Graph, Literal, URIRef

import vocab
from vocab import DCAT, DCTERMS, KINDS, LDES, NUTS, OWL, RDF, S3, VOID, XSD

from . import __version__, graphs, settings, store
from .entities import respond
from .formats import BY_NAME, HTML, JSON, RDF_MEDIA_TYPES, negotiate, serialize
from .problems import Problem

bp = Blueprint("pages", __name__)
OFFERED = [*RDF_MEDIA_TYPES, HTML, JSON]
VOCAB_IRI = URIRef("https://w3id.org/s3fed/vocab")


def install_vocabulary(app) -> None:
    """Keep the shared vocabulary in the store's vocab graph, so SPARQL sees concept labels
    and SKOS hierarchies. Reloaded only when the vocabulary's version changed."""
    st, gs = app.extensions["s3fed.store"], app.extensions["s3fed.graphs"]
    if st.query(f'ASK {{ GRAPH <{gs.vocab}> {{ <{VOCAB_IRI}> <{OWL.versionInfo}> "{vocab.VERSION}" }} }}'):
        return
    st.replace_graph(gs.vocab, vocab.load_vocabulary().serialize(format="nt", encoding="utf-8"))


def counts() -> dict[str, int]:
    rows = store().query(f"SELECT ?t (COUNT(?s) AS ?n) {{ GRAPH <{graphs().data}> {{ ?s a ?t }} }} GROUP BY ?t")
    by_class = {r["t"].value: int(r["n"].value) for r in rows}
    return {name: by_class.get(str(k.rdf_class), 0) for name, k in KINDS.items()}


def dataset_description() -> Graph:
    node, base = settings()["node"], settings()["node"]["base_url"]
    g = Graph()
    ds = URIRef(f"{base}/void#dataset")
    g.add((ds, RDF.type, VOID.Dataset))
    g.add((ds, RDF.type, DCAT.Dataset))
    g.add((ds, DCTERMS.title, Literal(f"Smart specialisation strategy of {node['name'] or node['region']}", lang="en")))
    if node["region"]:
        g.add((ds, DCTERMS.spatial, NUTS[node["region"]]))
    g.add((ds, VOID.sparqlEndpoint, URIRef(f"{base}/sparql")))
    g.add((ds, VOID.dataDump, URIRef(f"{base}/dump")))
    g.add((ds, VOID.uriSpace, Literal(f"{base}/id/")))
    g.add((ds, VOID.vocabulary, URIRef(str(S3))))
    g.add((ds, DCTERMS.conformsTo, VOCAB_IRI))
    g.add((ds, VOID.triples, Literal(store().count(graphs().data), datatype=XSD.integer)))
    g.add((ds, DCTERMS.hasVersion, Literal(__version__)))
    for name, n in counts().items():
        part = BNode()
        g.add((ds, VOID.classPartition, part))
        g.add((part, VOID["class"], KINDS[name].rdf_class))
        g.add((part, VOID.entities, Literal(n, datatype=XSD.integer)))
    feed = URIRef(f"{base}/feed")
    g.add((feed, RDF.type, LDES.EventStream))
    g.add((ds, DCAT.distribution, feed))
    for url, media_type in ((f"{base}/dump", "application/n-quads"),
                            (f"{base}/sparql", "application/sparql-results+json")):
        dist = BNode()
        g.add((ds, DCAT.distribution, dist))
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((dist, DCAT.accessURL, URIRef(url)))
        g.add((dist, DCAT.mediaType, Literal(media_type)))
    return g


@bp.get("/")
def landing():
    media_type = negotiate(OFFERED, default=HTML)
    if media_type == HTML:
        return respond(render_template("landing.html", counts=counts()), HTML)
    return description(media_type)


@bp.get("/void")
@bp.get("/.well-known/void")
def void():
    return description(negotiate(OFFERED, default="text/turtle"))


def description(media_type: str | None):
    if media_type is None:
        raise Problem(406, "Not Acceptable", "Available as " + ", ".join(OFFERED))
    g = dataset_description()
    if media_type == JSON:
        node = settings()["node"]
        base = node["base_url"]
        return respond(current_app.json.dumps({
            "name": node["name"], "region": node["region"], "base_url": base, "version": __version__,
            "sparql": f"{base}/sparql", "feed": f"{base}/feed", "dump": f"{base}/dump",
            "vocabulary": str(VOCAB_IRI), "vocabulary_version": vocab.VERSION, "counts": counts()}), JSON)
    if media_type == HTML:
        return respond(render_template("landing.html", counts=counts()), HTML)
    return respond(serialize(g, media_type), media_type)


@bp.get("/vocab")
def vocabulary():
    media_type = negotiate([*RDF_MEDIA_TYPES, HTML], default="text/turtle")
    if media_type is None:
        raise Problem(406, "Not Acceptable", "The vocabulary is available as " + ", ".join(RDF_MEDIA_TYPES))
    if request.args.get("part") == "shapes":
        g = vocab.load_shapes()
    else:
        g = Graph()
        g += vocab.load_vocabulary()
    if media_type == HTML:
        return respond(render_template("vocab.html", g=vocab.load_vocabulary(), version=vocab.VERSION), HTML)
    return respond(serialize(g, media_type), media_type)


@bp.get("/dump")
def dump():
    """The node's current data for a first harvest, serialised natively (streams large stores)."""
    fmt = BY_NAME.get(request.args.get("format", "")) or BY_NAME["nq"]
    if "format" not in request.args and request.accept_mimetypes.best_match(
            ["application/n-quads", "text/turtle"]) == "text/turtle":
        fmt = BY_NAME["ttl"]
    from .feed import last_sequence
    with store().write_lock:  # data, triple count and feed position as of the same commit
        seq, triples = last_sequence(store(), graphs()), store().count(graphs().data)
        body = store().dump(fmt.ox_format, graph=graphs().data)
    resp = respond(body, fmt.media_type)  # harvesters continue from the feed after X-S3fed-Sequence
    resp.headers.update({"X-S3fed-Sequence": str(seq), "X-S3fed-Triples": str(triples)})
    return resp


@bp.get("/health")
def health():
    started = time.monotonic()
    try:
        triples = store().count(graphs().data)
        ok = True
    except OSError as e:  # the store could not be read
        triples, ok = None, False
        current_app.logger.error("store unreachable: %s", e)
    body = {"status": "ok" if ok else "error", "version": __version__, "vocabulary_version": vocab.VERSION,
            "region": settings()["node"]["region"], "store": {"kind": settings()["store"]["kind"],
                                                              "reachable": ok, "triples": triples},
            "checked_in_ms": round((time.monotonic() - started) * 1000, 1)}
    return Response(current_app.json.dumps(body), status=200 if ok else 503, mimetype=JSON)
