"""node.formats' serialisers of pyoxigraph triples: the same graph back in every format, and
JSON-LD compacted exactly as rdflib's serialiser compacts it with the shared context."""
import json

import pyoxigraph as ox
import pytest
from rdflib.compare import isomorphic

from node.formats import serialize
from node.importer import to_rdflib

S3, SKOS, DCAT = "https://w3id.org/s3fed/vocab#", "http://www.w3.org/2004/02/skos/core#", "http://www.w3.org/ns/dcat#"
XSD, RDF = "http://www.w3.org/2001/XMLSchema#", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
E = "https://s3.example.org/id/cluster/aerospace-valley"


def n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def lit(value: str, lang: str | None = None, dt: str | None = None) -> ox.Literal:
    return ox.Literal(value, language=lang) if lang else ox.Literal(value, datatype=n(dt or XSD + "string"))


ENTITY = [  # every kind of value an entity page carries, and a few it might
    ox.Triple(n(E), n(RDF + "type"), n(S3 + "Cluster")),
    ox.Triple(n(E), n(SKOS + "prefLabel"), lit("Aerospace Valley", "fr")),
    ox.Triple(n(E), n(SKOS + "prefLabel"), lit("Aerospace Valley", "en")),
    ox.Triple(n(E), n(DCAT + "keyword"), lit("aéronautique", "fr")),
    ox.Triple(n(E), n(DCAT + "keyword"), lit("espace", "fr")),
    ox.Triple(n(E), n(DCAT + "keyword"), lit("untagged")),
    ox.Triple(n(E), n(S3 + "region"), n("https://s3.example.org/id/region/FRJ")),
    ox.Triple(n(E), n(S3 + "naceActivity"), n("http://data.europa.eu/ux2/nace2/303")),
    ox.Triple(n(E), n(S3 + "naceActivity"), n("http://data.europa.eu/ux2/nace2/3030")),
    ox.Triple(n(E), n(S3 + "memberCount"), lit("850", dt=XSD + "integer")),
    ox.Triple(n(E), n(S3 + "foundingYear"), lit("2005", dt=XSD + "gYear")),
    ox.Triple(n(E), n(S3 + "amount"), lit("1.50", dt=XSD + "decimal")),
    ox.Triple(n(E), n(S3 + "score"), lit("0.5", dt=XSD + "double")),
    ox.Triple(n(E), n(S3 + "active"), lit("true", dt=XSD + "boolean")),
    ox.Triple(n(E), n(S3 + "memberCount"), lit("many", dt=XSD + "integer")),  # ill-typed
    ox.Triple(n(E), n("http://example.org/unknown#p"), lit("x")),
    ox.Triple(n(E), n(S3 + "evidence"), ox.BlankNode("b1")),
    ox.Triple(ox.BlankNode("b1"), n(SKOS + "note"), lit("a note", "en")),
    ox.Triple(n("http://data.europa.eu/ux2/nace2/303"), n(SKOS + "prefLabel"), lit("Manufacture of air", "en")),
    ox.Triple(n("https://s3.example.org/id/membership/m1"), n("http://www.w3.org/ns/org#organization"), n(E)),
]


def _normal(x):
    """JSON with its arrays sorted: neither serialiser promises an order of values."""
    if isinstance(x, dict):
        return {k: _normal(v) for k, v in x.items()}
    if isinstance(x, list):
        return sorted((_normal(v) for v in x), key=lambda v: json.dumps(v, sort_keys=True))
    return x


def _without_bnode_labels(doc: dict) -> str:
    return json.dumps(_normal(doc), sort_keys=True).replace('"_:b1"', '"_:b"').replace('"_:b0"', '"_:b"')


@pytest.mark.parametrize("triples", [ENTITY, ENTITY[:2]], ids=["several nodes", "one node"])
def test_jsonld_is_compacted_as_rdflib_compacts_it(triples):
    ours = json.loads(serialize(triples, "application/ld+json"))
    theirs = json.loads(serialize(to_rdflib(triples), "application/ld+json"))
    assert ours["@context"] == theirs["@context"]  # the shared context, inline
    # ill-typed literals aside (rdflib drops their datatype), the documents are the same
    if len(triples) > 2:
        for doc in (ours, theirs):
            node = next(x for x in doc["@graph"] if x["id"] == E)
            node["memberCount"] = sorted(v if isinstance(v, int) else "ill-typed" for v in node["memberCount"])
    assert _without_bnode_labels(ours) == _without_bnode_labels(theirs)


def test_jsonld_uses_the_contexts_terms():
    doc = json.loads(serialize(ENTITY, "application/ld+json"))
    node = next(x for x in doc["@graph"] if x["id"] == E)
    assert node["type"] == "Cluster"
    assert node["prefLabel"] == {"fr": "Aerospace Valley", "en": "Aerospace Valley"}
    assert sorted(node["keyword"]["fr"]) == ["aéronautique", "espace"]
    assert sorted(node["naceActivity"]) == ["nace:303", "nace:3030"]
    assert node["region"] == "https://s3.example.org/id/region/FRJ"
    assert node["foundingYear"] == "2005"


@pytest.mark.parametrize("media_type,fmt", [("text/turtle", ox.RdfFormat.TURTLE),
                                            ("application/ld+json", ox.RdfFormat.JSON_LD),
                                            ("application/n-triples", ox.RdfFormat.N_TRIPLES),
                                            ("application/rdf+xml", ox.RdfFormat.RDF_XML)])
def test_every_format_gives_the_same_graph_back(media_type, fmt):
    back = [ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(serialize(ENTITY, media_type), format=fmt)]
    assert isomorphic(to_rdflib(back), to_rdflib(ENTITY))
