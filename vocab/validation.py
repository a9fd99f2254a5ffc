"""SHACL validation of s3fed data, with reports a person can act on.

Import, harvest and ``s3fed vocab check`` all call :func:`validate`. It runs pyshacl with the shared
shapes on the data with the vocabulary mixed in, so concept values are checked against the concept
schemes (``sh:class s3:ClusterType`` …) while links to other entities only need to be IRIs.

The mixing is done here rather than by pyshacl's ``ont_graph``: pyshacl's "inoculation" copies only
RDFS/OWL axioms, not the ``rdf:type`` of the concepts that ``sh:class`` needs; declaring the
concepts ``owl:NamedIndividual`` to have them copied makes it deep-clone whole schemes through
``skos:inScheme``/``skos:hasTopConcept`` on every call (minutes). Instead an index of the
vocabulary's typing and class axioms is built once, and only the types of the concepts the data
actually uses are added to a copy of the data, which pyshacl then validates in place.

The result is flattened into :class:`Violation` records (focus, path as a CURIE, message, value,
severity) because the callers answer with them: RFC 9457 problem documents, CLI output, harvest logs.

``sh:Warning`` results are reported but never make ``conforms`` false: a warning is advice.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field

import pyshacl
from pyshacl.shapes_graph import ShapesGraph
from rdflib import RDF, RDFS, SKOS, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import SH, NamespaceManager

from .kinds import KIND_OF_CLASS
from .namespaces import PREFIXES

_CURIES = NamespaceManager(Graph(), bind_namespaces="none")
for _prefix, _ns in PREFIXES.items():
    _CURIES.bind(_prefix, _ns, override=True)


@dataclass(frozen=True)
class Violation:
    """One SHACL result: which node, which property, what is wrong, with which value."""

    focus: str
    path: str
    message: str
    value: str | None = None
    severity: str = "Violation"  # "Violation" or "Warning"

    def as_dict(self) -> dict:
        return {"focus": self.focus, "path": self.path, "message": self.message, "value": self.value,
                "severity": self.severity}


@dataclass
class ValidationReport:
    """What :func:`validate` found. ``conforms`` is false only when there is a Violation."""

    conforms: bool
    violations: list[Violation]
    graph: Graph  # pyshacl's results graph (sh:ValidationReport)
    focus_descriptions: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def warnings(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "Warning"]

    def to_problems(self) -> list[dict]:
        """The violations as plain dicts, for problem+json ``errors`` lists."""
        return [v.as_dict() for v in self.violations]

    def text(self) -> str:
        """One line per result, grouped by focus node:
        ``<focus> (Cluster 'Aerospace Valley'): skos:prefLabel — A cluster needs …``."""
        by_focus: dict[str, list[Violation]] = defaultdict(list)
        for v in self.violations:
            by_focus[v.focus].append(v)
        lines = []
        for focus, results in by_focus.items():
            head = f"<{focus}>" if not focus.startswith("_:") else focus
            desc = self.focus_descriptions.get(focus)
            if desc:
                head += f" ({desc})"
            for v in results:
                line = f"{head}: {v.path or '(node)'} — "
                line += ("Warning: " if v.severity == "Warning" else "") + v.message
                if v.value is not None:
                    line += f" [value: {v.value}]"
                lines.append(line)
        return "\n".join(lines)


def curie(term) -> str:
    """``s3:region`` for a known namespace, else the full IRI."""
    try:
        return _CURIES.curie(term, generate=False)
    except (KeyError, ValueError):
        return str(term)


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


def _pick_label(graph: Graph, node) -> str | None:
    labels = [o for o in graph.objects(node, SKOS.prefLabel) if isinstance(o, Literal)]
    labels = labels or [o for o in graph.objects(node, RDFS.label) if isinstance(o, Literal)]
    for lang in ("en", "fr", "de", "it", None):
        for lit in sorted(labels):
            if lang is None or lit.language == lang:
                return str(lit)
    return None


def _describe(data: Graph, vocabulary: Graph, node) -> str:
    """``Cluster 'Aerospace Valley'``: the node's kind and name, as far as the data says."""
    kind = None
    for t in sorted(data.objects(node, RDF.type)):
        if t in KIND_OF_CLASS:
            kind = KIND_OF_CLASS[t].label
            break
        english = [lbl for lbl in vocabulary.objects(t, RDFS.label) if getattr(lbl, "language", None) == "en"]
        if english and kind is None:  # classes outside the kinds, e.g. s3:CooperationOpportunity
            kind = str(english[0])
    name = _pick_label(data, node)
    if kind and name:
        return f"{kind} '{name}'"
    return kind or (f"'{name}'" if name else "")


# pyshacl parses its SPARQL constraints with rdflib's pyparsing grammar, which is not thread-safe:
# two validations at once in one process fail inside the parser. Serialise them.
_PYSHACL_LOCK = threading.Lock()

_SEVERITY = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Warning"}


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


def validate(graph: Graph) -> ValidationReport:
    """Validate ``graph`` against the s3fed shapes; ``graph`` itself is not modified.

    Every result is reported, Violations and Warnings, sorted by focus node then path.
    """
    from . import load_vocabulary
    vocabulary = load_vocabulary()
    data, shapes = _mixed(graph), _shapes_for_pyshacl()
    with _PYSHACL_LOCK:
        _, results, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none",
                                         advanced=True, allow_warnings=True, inplace=True)
    seen: set[Violation] = set()
    descriptions: dict[str, str] = {}
    for result in results.subjects(RDF.type, SH.ValidationResult):
        focus = results.value(result, SH.focusNode)
        value = results.value(result, SH.value)
        message = results.value(result, SH.resultMessage)
        v = Violation(
            focus=_node_text(focus),
            path=_path_text(results, results.value(result, SH.resultPath)),
            message=str(message) if message is not None else "This value does not conform to the s3fed shapes.",
            value=None if value is None else _node_text(value),
            severity=_SEVERITY.get(results.value(result, SH.resultSeverity), "Violation"),
        )
        seen.add(v)
        if v.focus not in descriptions:
            descriptions[v.focus] = _describe(graph, vocabulary, focus)
    violations = sorted(seen, key=lambda v: (v.focus, v.path, v.severity != "Violation", v.message, v.value or ""))
    conforms = not any(v.severity == "Violation" for v in violations)
    return ValidationReport(conforms=conforms, violations=violations, graph=results,
                            focus_descriptions={k: d for k, d in descriptions.items() if d})
