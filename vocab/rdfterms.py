"""Terms between the two RDF libraries: pyoxigraph (the store, parsers and serialisers) and
rdflib (pyshacl, the JSON mapping, templates). One pair of converters, wherever the two meet."""
from __future__ import annotations

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef

_STRING = "http://www.w3.org/2001/XMLSchema#string"


def to_rdflib_term(t, *, simple_strings: bool = False):
    """A pyoxigraph term as rdflib's. ``simple_strings``: an xsd:string literal without its
    datatype, as rdflib's own parsers give it (blank node labels are kept either way)."""
    if isinstance(t, ox.NamedNode):
        return URIRef(t.value)
    if isinstance(t, ox.BlankNode):
        return BNode(t.value)
    if t.language:
        return Literal(t.value, lang=t.language)
    if simple_strings and t.datatype.value == _STRING:
        return Literal(t.value)
    return Literal(t.value, datatype=URIRef(t.datatype.value))


def to_ox_term(t):
    """An rdflib term as pyoxigraph's (which checks it: an invalid IRI or language tag raises ValueError)."""
    if isinstance(t, URIRef):
        return ox.NamedNode(str(t))
    if isinstance(t, BNode):
        return ox.BlankNode(str(t))
    if t.language:
        return ox.Literal(str(t), language=t.language)
    return ox.Literal(str(t), datatype=ox.NamedNode(str(t.datatype))) if t.datatype else ox.Literal(str(t))


def to_rdflib(triples) -> Graph:
    """An rdflib graph of pyoxigraph triples (or quads: their graph names are left out)."""
    g = Graph()
    for t in triples:
        g.add((to_rdflib_term(t.subject), to_rdflib_term(t.predicate), to_rdflib_term(t.object)))
    return g


def to_ox(graph: Graph) -> list[ox.Triple]:
    """The triples of an rdflib graph as pyoxigraph's."""
    return [ox.Triple(to_ox_term(s), to_ox_term(p), to_ox_term(o)) for s, p, o in graph]
