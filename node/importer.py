"""Validated, all-or-nothing import of RDF: the path shared by the CLI, the API and the demo.

An import replaces the whole description of every entity it mentions (so re-importing a
corrected file is how a region fixes its data) and is refused whole when any of these fails,
every failure listed:

* syntax (with line and column from the parser),
* identity: each subject is an IRI ``{base}/id/{kind}/{slug}`` of this node, typed with the
  class of that kind (no blank nodes, no other node's subjects, no path tricks in slugs),
* literals free of control characters, texts and IRIs within the JSON API's lengths, numbers
  that are valid and fit a double,
* the shared SHACL shapes.

One import holds at most ``limits.max_import_triples`` (200 000) triples — validation keeps them
all in memory — and a refusal lists its first 1000 problems (then says how many more).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pyoxigraph as ox

import vocab
from vocab import KINDS, RDF
from vocab.rdfterms import to_rdflib  # noqa: F401 — node.importer.to_rdflib, as callers know it

from .changes import ChangeSet
from .formats import RdfFormat, RdfSyntaxError, parse
from .problems import cap_errors

SLUG = r"[A-Za-z0-9][A-Za-z0-9._~-]{0,199}"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_TEXT, MAX_IRI = 100_000, 2048  # characters; the JSON API's limits too (node.schemas)
# Validation holds the whole import in memory (rdflib + pyshacl: ~0.7 GB and 30 s for 200k triples);
# past that a compact body (a 2 MB RDF list is a million triples) would take the node's memory.
MAX_IMPORT_TRIPLES = 200_000  # default of limits.max_import_triples
_XSD = "http://www.w3.org/2001/XMLSchema#"
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_DOUBLE = re.compile(r"[+-]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|INF)|NaN")
_NUMERIC = {"decimal": _DECIMAL, "double": _DOUBLE, "float": _DOUBLE, **{t: _INTEGER for t in (
    "integer", "nonNegativeInteger", "positiveInteger", "nonPositiveInteger", "negativeInteger", "long", "int",
    "short", "byte", "unsignedLong", "unsignedInt", "unsignedShort", "unsignedByte")}}


def literal_problem(lit: ox.Literal) -> str | None:
    """Why a literal cannot be published, or None: control characters, a text longer than the JSON
    API takes, or a number that is not one (``"NaN"^^xsd:decimal``) or does not fit a double (JSON
    readers would get ``Infinity``)."""
    value = lit.value
    if _CONTROL.search(value):
        return "literal contains control characters"
    if len(value) > MAX_TEXT:
        return f"literal longer than {MAX_TEXT} characters"
    dt = lit.datatype.value
    pattern = _NUMERIC.get(dt[len(_XSD):]) if dt.startswith(_XSD) else None
    if pattern is not None:
        if not pattern.fullmatch(value.strip()):
            return f"{value[:40]!r} is not a valid xsd:{dt[len(_XSD):]}"
        if pattern is not _DOUBLE and not math.isfinite(float(value)):
            return f"number too large ({len(value)} characters): numbers must fit a double, ±1.8e308"
    return None


@dataclass
class ImportRefused(Exception):
    """The import changed nothing; ``errors`` lists every reason (problem+json ``errors``)."""

    errors: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self.errors = cap_errors(self.errors)  # a problem document, not a copy of the upload

    def __str__(self) -> str:
        return f"import refused: {len(self.errors)} problem(s)"

    def text(self) -> str:
        lines = []
        for e in self.errors:
            where = e.get("source", "")
            if e.get("line"):
                where += f":{e['line']}" + (f":{e['column']}" if e.get("column") else "")
            focus = e.get("focus", "")
            path = e.get("path", "")
            lines.append("  " + " ".join(x for x in (where, focus, path and f"[{path}]", "—", e["message"]) if x))
        return "\n".join(lines)


def check_identity(triples, base: str) -> list[dict]:
    """Every subject is one of this node's entity IRIs, typed as its kind says."""
    pattern = re.compile(re.escape(base) + r"/id/([a-z-]+)/(" + SLUG + r")")
    errors, types, seen = [], {}, set()
    for t in triples:
        s = t.subject
        if isinstance(s, ox.BlankNode):
            errors.append({"focus": f"_:{s.value}", "message": "blank nodes cannot be published: give "
                           f"this entity an IRI {base}/id/{{kind}}/{{slug}}"})
            continue
        if t.predicate.value == str(RDF.type):
            types.setdefault(s.value, set()).add(t.object.value)
        if isinstance(t.object, ox.Literal) and (problem := literal_problem(t.object)):
            errors.append({"focus": s.value, "path": t.predicate.value, "message": problem})
        elif max(len(t.predicate.value), len(getattr(t.object, "value", ""))) > MAX_IRI:
            errors.append({"focus": s.value, "path": t.predicate.value[:MAX_IRI],
                           "message": f"IRI longer than {MAX_IRI} characters"})
        seen.add(s.value)
    for s in sorted(seen):
        m = pattern.fullmatch(s)
        if not m:
            errors.append({"focus": s, "message": f"subjects must be this node's entities, "
                           f"{base}/id/{{kind}}/{{slug}} (slug: letters, digits, '-', '_', '.', '~')"})
            continue
        kind = KINDS.get(m.group(1))
        if kind is None:
            errors.append({"focus": s, "message": f"unknown kind {m.group(1)!r}; kinds are "
                           + ", ".join(KINDS)})
        elif str(kind.rdf_class) not in types.get(s, ()):
            errors.append({"focus": s, "path": "rdf:type",
                           "message": f"a {kind.name} must be typed <{kind.rdf_class}>"})
    return errors


def prepare(sources: list[tuple[str, bytes, RdfFormat]], base: str, max_json_depth: int = 64,
            max_triples: int = MAX_IMPORT_TRIPLES) -> ChangeSet:
    """Parse, check and validate ``(name, data, format)`` sources into one change set.

    Raises :class:`ImportRefused` listing every problem in every source; nothing is written.
    """
    errors: list[dict] = []
    triples: list[ox.Triple] = []
    for name, data, fmt in sources:
        try:
            quads = parse(data, fmt, base_iri=base + "/", max_json_depth=max_json_depth, source=name,
                          max_triples=max_triples - len(triples))
        except RdfSyntaxError as e:
            errors.append({"source": name, "line": e.line, "column": e.column, "message": str(e)})
            continue
        for q in quads:
            if not isinstance(q.graph_name, ox.DefaultGraph):
                errors.append({"source": name, "message": "named graphs are not imported; "
                               f"send triples (found graph <{q.graph_name.value}>)"})
                break
            triples.append(ox.Triple(q.subject, q.predicate, q.object))
    if errors:
        raise ImportRefused(errors)
    errors = check_identity(triples, base)
    # literals refused above stay out of SHACL: each problem is reported once, by check_identity
    checked = [t for t in triples if not (isinstance(t.object, ox.Literal) and literal_problem(t.object))]
    report = vocab.validate(checked)  # pyoxigraph triples as they are: no rdflib copy
    errors += [v for v in report.to_problems() if v.get("severity", "Violation") == "Violation"]
    if errors:
        raise ImportRefused(errors)
    return ChangeSet(subjects={t.subject.value for t in triples}, triples=triples)


def run_import(store, graphs, sources, base: str, max_json_depth: int = 64,
               max_triples: int = MAX_IMPORT_TRIPLES) -> ChangeSet:
    """Validate ``sources`` and commit them as one change (feed events included)."""
    from .changes import commit
    changes = prepare(sources, base, max_json_depth, max_triples)
    commit(store, graphs, changes)
    return changes
