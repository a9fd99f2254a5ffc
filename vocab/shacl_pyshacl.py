"""The reference validator: pyshacl with the shared shapes (``vocab.validate(data, engine="pyshacl")``).

The native validator (:mod:`.shacl_native`) is the default because this one costs 0.1–0.2 ms per
triple; this one stays as the reference that the tests compare the native one with, and as a
second opinion for a person (``s3fed vocab check --engine pyshacl``).

The vocabulary is mixed into the data so concept values are checked against the concept schemes
(``sh:class s3:ClusterType`` …) while links to other entities only need to be IRIs. The mixing is
done here rather than by pyshacl's ``ont_graph``: pyshacl's "inoculation" copies only RDFS/OWL
axioms, not the ``rdf:type`` of the concepts that ``sh:class`` needs; declaring the concepts
``owl:NamedIndividual`` to have them copied makes it deep-clone whole schemes through
``skos:inScheme``/``skos:hasTopConcept`` on every call (minutes). Instead an index of the
vocabulary's typing and class axioms is built once, and only the types of the concepts the data
actually uses are added to a copy of the data, which pyshacl then validates in place.
"""
from __future__ import annotations

import threading
from collections import defaultdict

import pyshacl
from pyshacl.shapes_graph import ShapesGraph
from rdflib import RDF, RDFS, SKOS, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import SH

from .report import DEFAULT_MESSAGE, Found, ValidationReport, Violation, curie, describe, english_class_labels

# pyshacl parses its SPARQL constraints with rdflib's pyparsing grammar, which is not thread-safe:
# two validations at once in one process fail inside the parser. Serialise them.
_PYSHACL_LOCK = threading.Lock()

_SEVERITY = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Warning"}


def validate(graph: Graph, shapes: Graph | None = None) -> ValidationReport:
    """Validate ``graph`` (not modified) with pyshacl. ``shapes`` replaces the s3fed shapes (tests)."""
    from . import _cached, load_vocabulary
    data = _mixed(graph)
    if shapes is None:
        shapes = _shapes_for_pyshacl()
    else:
        shapes = Graph() + shapes  # pyshacl writes into the shapes graph
    with _PYSHACL_LOCK:
        _, results, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none",
                                         advanced=True, allow_warnings=True, inplace=True)
    class_labels = _cached("class-labels", lambda: english_class_labels(load_vocabulary()))
    found, descriptions = [], {}
    for result in results.subjects(RDF.type, SH.ValidationResult):
        focus, value = results.value(result, SH.focusNode), results.value(result, SH.value)
        path = results.value(result, SH.resultPath)
        message = results.value(result, SH.resultMessage)
        v = Violation(
            focus=_node_text(focus),
            path=_path_text(results, path),
            message=str(message) if message is not None else DEFAULT_MESSAGE,
            value=None if value is None else _node_text(value),
            severity=_SEVERITY.get(results.value(result, SH.resultSeverity), "Violation"),
        )
        found.append(Found(v, focus, path, value, results.value(result, SH.sourceShape)))
        if v.focus not in descriptions:
            descriptions[v.focus] = _describe(graph, focus, class_labels)
    return ValidationReport.of(found, descriptions, results_graph=lambda: results)


def _describe(data: Graph, node, class_labels: dict[str, str]) -> str:
    labels = [o for o in data.objects(node, SKOS.prefLabel) if isinstance(o, Literal)]
    labels = labels or [o for o in data.objects(node, RDFS.label) if isinstance(o, Literal)]
    return describe([str(t) for t in data.objects(node, RDF.type) if isinstance(t, URIRef)],
                    [(str(lbl), lbl.language) for lbl in labels], class_labels)


def _path_text(g: Graph, path) -> str:
    """A SHACL property path as text: ``s3:region``, ``^org:member``, ``org:member/s3:actorType``."""
    if path is None:
        return ""
    if isinstance(path, URIRef):
        return curie(path)
    inverse = g.value(path, SH.inversePath)
    if inverse is not None:
        return "^" + _path_text(g, inverse)
    if g.value(path, RDF.first) is not None:
        return "/".join(_path_text(g, p) for p in Collection(g, path))
    for key, suffix in ((SH.zeroOrMorePath, "*"), (SH.oneOrMorePath, "+"), (SH.zeroOrOnePath, "?")):
        inner = g.value(path, key)
        if inner is not None:
            return _path_text(g, inner) + suffix
    alternatives = g.value(path, SH.alternativePath)
    if alternatives is not None:
        return "(" + "|".join(_path_text(g, p) for p in Collection(g, alternatives)) + ")"
    return str(path)


def _node_text(node) -> str:
    if isinstance(node, BNode):
        return f"_:{node}"
    return str(node)


def _shapes_for_pyshacl() -> Graph:
    """A private copy of the shapes: pyshacl adds its system triples to the shapes graph it is
    given, and the graph load_shapes() hands out is served as-is on /vocab."""
    from . import _cached, load_shapes

    def build():
        g = Graph()
        g += load_shapes()
        ShapesGraph(g)  # add pyshacl's system triples now, not under load
        return g
    return _cached("shapes-pyshacl", build)


def _vocabulary_index() -> tuple[dict, list]:
    """``{concept: [its types]}`` and the rdfs:subClassOf axioms of the vocabulary, built once."""
    from . import _cached, load_vocabulary

    def build():
        vocabulary = load_vocabulary()
        types: dict = defaultdict(list)
        for s, o in vocabulary.subject_objects(RDF.type):
            if isinstance(s, URIRef):
                types[s].append(o)
        axioms = [(s, RDFS.subClassOf, o) for s, o in vocabulary.subject_objects(RDFS.subClassOf)
                  if isinstance(s, URIRef) and isinstance(o, URIRef)]
        return dict(types), axioms
    return _cached("vocabulary-index", build)


def _mixed(graph: Graph) -> Graph:
    """A copy of ``graph`` plus the class axioms and the types of the vocabulary terms it uses."""
    types, axioms = _vocabulary_index()
    mixed = Graph()
    mixed += graph
    used = {o for o in graph.objects() if isinstance(o, URIRef)}
    mixed.addN((term, RDF.type, t, mixed) for term in used & types.keys() for t in types[term])
    mixed.addN((*axiom, mixed) for axiom in axioms)
    return mixed
