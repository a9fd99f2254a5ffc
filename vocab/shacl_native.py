"""The native SHACL validator: the shapes compiled to SPARQL (:mod:`.shapes_sparql`), run by pyoxigraph.

Why: imports and harvests validate everything they take, and pyshacl costs 0.1–0.2 ms per triple
(minutes for a federation); this costs about what loading the data into pyoxigraph costs.

Per validation a fresh in-memory store is filled with the data — by pyoxigraph's own parser when
that keeps blank node labels, as results name blank nodes by their label — plus exactly what the
pyshacl path mixes in (:mod:`.shacl_pyshacl`): the ``rdf:type`` of the vocabulary terms the data
uses as objects, and the vocabulary's ``rdfs:subClassOf`` axioms. So the queries see the very graph
pyshacl validates, and ``sh:class s3:ClusterType`` accepts the cluster-type concepts. Then every
check (one SELECT each) whose target classes have instances runs once over the whole store.

Stores are per call and the compiled checks are immutable, so validations may run in parallel.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

import pyoxigraph as ox
from rdflib import Graph, URIRef

from .rdfterms import to_ox_term, to_rdflib_term
from .report import Found, ValidationReport, Violation, curie, describe, english_class_labels
from .shapes_sparql import TARGETS, Check, compile_shapes

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_TYPE = ox.NamedNode(_RDF + "type")
_SUBCLASS = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#subClassOf")
_LABELS = (ox.NamedNode("http://www.w3.org/2004/02/skos/core#prefLabel"),
           ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"))
_INSTANCE_OF = f"{_TYPE}/{_SUBCLASS}*"  # SHACL instances: of the class or of a subclass
_DEFAULT = ox.DefaultGraph()
_STRING = "http://www.w3.org/2001/XMLSchema#string"
_NT = ox.RdfFormat.N_TRIPLES

Data = Graph | bytes | Iterable[ox.Triple | ox.Quad]


class Unrepresentable(ValueError):
    """An rdflib graph holds a term pyoxigraph refuses (``vocab.validate`` then uses pyshacl)."""


def validate(data: Data, shapes: Graph | None = None) -> ValidationReport:
    """Validate ``data``: an rdflib Graph, N-Triples bytes, or pyoxigraph Triples or Quads (graph
    names ignored: all are validated as one graph). ``shapes`` replaces the s3fed shapes (tests)."""
    checks = _checks() if shapes is None else compile_shapes(shapes)
    store = ox.Store()
    _load(store, data)
    mixed = _mix(store)
    stats = _Statistics(store, {c for check in checks for c in check.classes})
    found: list[Found] = []
    focus_nodes: dict[str, ox.NamedNode | ox.BlankNode] = {}
    probes: dict[str, bool] = {}  # shapes share probes: every kind of entity has a skos:prefLabel
    for check in checks:
        classes = [c for c in sorted(check.classes) if stats.present(c) and not stats.clean(check, c)]
        if not classes:
            continue
        if check.probe is not None and check.probe not in probes:
            probes[check.probe] = bool(store.query(check.probe))
        if check.probe is None or probes[check.probe]:
            found += _run(store, check, classes, focus_nodes)
    labels = _class_labels()
    descriptions = {text: _describe(store, node, mixed, labels) for text, node in focus_nodes.items()}
    return ValidationReport.of(found, descriptions)


class _Statistics:
    """How many instances of each target class have each property, with how many values: one
    pass over the data that proves most cardinality checks clean without running them (every
    actor has a name: 11 000 instances, 11 000 of them with skos:prefLabel, 11 000 values).

    Only for a class without subclasses in the data: instances of a subclass are focus nodes too,
    and may be typed with both; then the checks just run."""

    def __init__(self, store: ox.Store, classes: set[str]):
        self._store = store
        self.counts: dict[tuple[str, str], tuple[int, int]] = {}  # (class, property): (subjects, values)
        listed = " ".join(str(ox.NamedNode(c)) for c in sorted(classes))
        for row in store.query(f"SELECT ?c ?p (COUNT(DISTINCT ?s) AS ?subjects) (COUNT(*) AS ?values) WHERE {{ "
                               f"VALUES ?c {{ {listed} }} ?s {_TYPE} ?c . ?s ?p ?o }} GROUP BY ?c ?p"):
            self.counts[row["c"].value, row["p"].value] = (int(row["subjects"].value), int(row["values"].value))
        parents = {q.object for q in store.quads_for_pattern(None, _SUBCLASS, None, _DEFAULT)}
        self._exact = {c for c in classes if ox.NamedNode(c) not in parents}
        self._present: dict[str, bool] = {}

    def present(self, cls: str) -> bool:
        if cls in self._exact:
            return self.counts.get((cls, _TYPE.value), (0, 0))[0] > 0
        if cls not in self._present:
            self._present[cls] = bool(self._store.query(f"ASK {{ ?x {_INSTANCE_OF} {ox.NamedNode(cls)} }}"))
        return self._present[cls]

    def clean(self, check: Check, cls: str) -> bool:
        """Whether the counts prove ``check`` has no result on the instances of ``cls``."""
        if check.kind not in ("count", "unique", "values") or cls not in self._exact:
            return False
        instances = self.counts[cls, _TYPE.value][0]
        subjects, values = self.counts.get((cls, str(check.path)), (0, 0))
        single = values == subjects  # each instance with the property has one value
        if check.kind == "values":
            return values == 0
        if check.kind == "unique":
            return single
        return ((not check.low or (check.low == 1 and subjects == instances))
                and (check.high is None or values == 0 or (single and check.high >= 1)))


def _checks() -> list[Check]:
    from . import _cached, load_shapes
    return _cached("shacl-native", lambda: compile_shapes(load_shapes()))


def _load(store: ox.Store, data: Data) -> None:
    """Into the default graph, by pyoxigraph's parser: serialising pyoxigraph terms to N-Triples and
    parsing them back costs less than building a Quad per triple in Python. Blank nodes keep their
    labels (``store.load`` would rename them, and results name blank nodes by label)."""
    if isinstance(data, Graph):
        try:
            quads = [ox.Quad(to_ox_term(s), to_ox_term(p), to_ox_term(o)) for s, p, o in data]
        except ValueError as e:  # rdflib keeps what RDF forbids: language tag "I", lone surrogates
            raise Unrepresentable(str(e)) from e
        store.extend(quads)
        return
    trusted = not isinstance(data, (bytes, bytearray, memoryview))  # terms pyoxigraph has already checked
    if trusted:
        items = data if isinstance(data, list) else list(data)
        try:
            data = ox.serialize(items, format=_NT)
        except ValueError:  # quads in named graphs: the graph names are dropped
            data = ox.serialize([ox.Triple(q.subject, q.predicate, q.object) for q in items], format=_NT)
    data = bytes(data)
    if b"_:" in data:  # maybe a blank node (or a literal with "_:" in it: slower, still right)
        store.extend(ox.parse(data, format=_NT, lenient=trusted))
    else:
        store.load(data, format=_NT, lenient=trusted)


def _mix(store: ox.Store) -> set[tuple[str, str]]:
    """Add the vocabulary typing the pyshacl path adds; returns the (node, type) pairs added
    that were not in the data, which describing a focus node leaves out."""
    types, axioms = _vocabulary_typing()
    new = [q for term, quads in types.items()
           if next(store.quads_for_pattern(None, None, term, _DEFAULT), None) is not None
           for q in quads if q not in store]
    new += [q for q in axioms if q not in store]
    store.extend(new)
    return {(q.subject.value, q.object.value) for q in new if q.predicate == _TYPE}


def _vocabulary_typing() -> tuple[dict[ox.NamedNode, list[ox.Quad]], list[ox.Quad]]:
    """``{vocabulary term: its rdf:type quads}`` and the rdfs:subClassOf axioms, built once."""
    from . import _cached, load_vocabulary

    def build():
        types: dict[ox.NamedNode, list[ox.Quad]] = {}
        vocabulary = load_vocabulary()
        for s, o in vocabulary.subject_objects(URIRef(_TYPE.value)):
            if isinstance(s, URIRef):
                types.setdefault(ox.NamedNode(str(s)), []).append(ox.Quad(ox.NamedNode(str(s)), _TYPE, to_ox_term(o)))
        axioms = [ox.Quad(ox.NamedNode(str(s)), _SUBCLASS, ox.NamedNode(str(o)))
                  for s, o in vocabulary.subject_objects(URIRef(_SUBCLASS.value))
                  if isinstance(s, URIRef) and isinstance(o, URIRef)]
        return types, axioms
    return _cached("vocabulary-typing-ox", build)


def _class_labels() -> dict[str, str]:
    from . import _cached, load_vocabulary
    return _cached("class-labels", lambda: english_class_labels(load_vocabulary()))


def _run(store: ox.Store, check: Check, classes: list[str], focus_nodes: dict) -> list[Found]:
    targets = f"?this {_INSTANCE_OF} ?target_ . VALUES ?target_ {{ {' '.join(str(ox.NamedNode(c)) for c in classes)} }}"
    path = curie(check.path)
    found = []
    for solution in store.query(check.query.replace(TARGETS, targets)):
        this, value = solution["this"], solution["value"]
        message = check.message
        if check.templated:
            message = _fill(message, {"this": this, "value": value, "path": ox.NamedNode(str(check.path))})
        v = Violation(focus=_text(this), path=path, message=message,
                      value=None if value is None else _text(value), severity=check.severity)
        found.append(Found(v, _rdflib(this), check.path, None if value is None else _rdflib(value), check.shape))
        focus_nodes[v.focus] = this
    return found


def _fill(message: str, bound: dict) -> str:
    """pyshacl's templating of sh:sparql messages: ``{$this}``, ``{?value}``, ``{?path}``."""
    for var, term in bound.items():
        if term is not None:
            message = re.sub("{[?$]" + var + "}", lambda _m, t=term: _text(t).removeprefix("_:"), message)
    return message


def _describe(store: ox.Store, node, mixed: set[tuple[str, str]], class_labels: dict[str, str]) -> str:
    key = node.value
    types = [q.object.value for q in store.quads_for_pattern(node, _TYPE, None, _DEFAULT)
             if isinstance(q.object, ox.NamedNode) and (key, q.object.value) not in mixed]
    labels: list = []
    for predicate in _LABELS:  # skos:prefLabel, else rdfs:label
        labels = labels or [(q.object.value, q.object.language) for q in store.quads_for_pattern(
            node, predicate, None, _DEFAULT) if isinstance(q.object, ox.Literal)]
    return describe(types, labels, class_labels)


def _text(term) -> str:
    """As the report shows a node: an IRI or a literal's text as is, a blank node as ``_:label``."""
    return f"_:{term.value}" if isinstance(term, ox.BlankNode) else term.value


def _rdflib(term):
    return to_rdflib_term(term, simple_strings=True)  # as rdflib's parsers give a simple literal
