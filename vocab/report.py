"""What a validation found, in the form its callers answer with, whichever engine found it.

The results are flattened into :class:`Violation` records (focus, path as a CURIE, message, value,
severity) because the callers answer with them: RFC 9457 problem documents, CLI output, harvest
logs. ``sh:Warning`` results are reported but never make ``conforms`` false: a warning is advice.

The engines (:mod:`.shacl_native`, :mod:`.shacl_pyshacl`) hand over :class:`Found` results; the
``sh:ValidationReport`` graph is only built when someone asks for :attr:`ValidationReport.graph`
(the native engine has no graph of its own, and bulk paths never look at one).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from rdflib import RDF, BNode, Graph, Literal, URIRef
from rdflib.namespace import SH, NamespaceManager

from .kinds import KIND_OF_CLASS
from .namespaces import PREFIXES, RDFS

_CURIES = NamespaceManager(Graph(), bind_namespaces="none")
for _prefix, _ns in PREFIXES.items():
    _CURIES.bind(_prefix, _ns, override=True)

DEFAULT_MESSAGE = "This value does not conform to the s3fed shapes."


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


@dataclass(frozen=True)
class Found:
    """A result as an engine found it: the record, plus the nodes the report graph needs."""

    violation: Violation
    focus: URIRef | BNode
    path: URIRef | None
    value: URIRef | BNode | Literal | None
    shape: URIRef | BNode | None


@dataclass
class ValidationReport:
    """What :func:`vocab.validate` found. ``conforms`` is false only when there is a Violation."""

    conforms: bool
    violations: list[Violation]
    focus_descriptions: dict[str, str] = field(default_factory=dict, repr=False)
    found: list[Found] = field(default_factory=list, repr=False)
    results_graph: Callable[[], Graph] | None = field(default=None, repr=False)  # the engine's own, if any

    @classmethod
    def of(cls, found: list[Found], descriptions: dict[str, str], results_graph=None) -> ValidationReport:
        """Deduplicated (pyshacl reports a value once per failed constraint) and sorted by focus then path."""
        seen = {f.violation: f for f in found}
        violations = sorted(seen, key=lambda v: (v.focus, v.path, v.severity != "Violation", v.message, v.value or ""))
        return cls(conforms=not any(v.severity == "Violation" for v in violations), violations=violations,
                   focus_descriptions={k: d for k, d in descriptions.items() if d},
                   found=[seen[v] for v in violations], results_graph=results_graph)

    @property
    def warnings(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "Warning"]

    @cached_property
    def graph(self) -> Graph:
        """The results as a W3C ``sh:ValidationReport`` graph (pyshacl's own with that engine)."""
        if self.results_graph is not None:
            return self.results_graph()
        g = Graph()
        report = BNode()
        g.add((report, RDF.type, SH.ValidationReport))
        g.add((report, SH.conforms, Literal(self.conforms)))
        for f in self.found:
            r = BNode()
            g.add((report, SH.result, r))
            g.add((r, RDF.type, SH.ValidationResult))
            g.add((r, SH.focusNode, f.focus))
            g.add((r, SH.resultMessage, Literal(f.violation.message)))
            g.add((r, SH.resultSeverity, SH.Warning if f.violation.severity == "Warning" else SH.Violation))
            for term, node in ((SH.resultPath, f.path), (SH.value, f.value), (SH.sourceShape, f.shape)):
                if node is not None:
                    g.add((r, term, node))
        return g

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
        return _CURIES.curie(URIRef(str(term)), generate=False)
    except (KeyError, ValueError):
        return str(term)


def describe(types: list[str], labels: list[tuple[str, str | None]], class_labels: dict[str, str]) -> str:
    """``Cluster 'Aerospace Valley'``: a focus node's kind and name, as far as the data says.

    ``types`` are the node's rdf:type IRIs in the data; ``labels`` its (text, language) names —
    skos:prefLabel, else rdfs:label; ``class_labels`` the English labels of the vocabulary's classes,
    for classes outside the kinds (e.g. s3:CooperationOpportunity). English is preferred, then
    French, German, Italian, then the first name in alphabetical order."""
    kind = None
    for t in sorted(types):
        if URIRef(t) in KIND_OF_CLASS:
            kind = KIND_OF_CLASS[URIRef(t)].label
            break
        if kind is None:
            kind = class_labels.get(t)
    name = None
    ordered = sorted(labels, key=lambda lbl: (lbl[0], lbl[1] or ""))
    for lang in ("en", "fr", "de", "it", None):
        name = next((text for text, tag in ordered if lang is None or (tag or "").lower() == lang), None)
        if name is not None:
            break
    if kind and name:
        return f"{kind} '{name}'"
    return kind or (f"'{name}'" if name else "")


def english_class_labels(vocabulary: Graph) -> dict[str, str]:
    """``{class IRI: its English rdfs:label}`` of the vocabulary."""
    labels: dict[str, str] = {}
    for s, label in vocabulary.subject_objects(RDFS.label):
        if isinstance(s, URIRef) and getattr(label, "language", None) == "en":
            labels.setdefault(str(s), str(label))
    return labels
