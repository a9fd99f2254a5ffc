"""The SHACL shapes compiled to SPARQL SELECT queries, for the native validator (:mod:`.shacl_native`).

Why compile: pyshacl walks every focus node and value in Python (0.1–0.2 ms per triple); a harvest
of the federation brings millions of triples. Here each property shape becomes a few queries that
find *all* its violations at once, evaluated by pyoxigraph in Rust: a fixed number of queries per
validation, whatever the size of the data.

A :class:`Check` is one query. Every solution binds ``?this`` (the focus node) and, for checks of
values, ``?value``; each solution is one result with the check's message, path and severity. A
query holds the placeholder :data:`TARGETS` where the engine puts the pattern of the focus nodes
(``?this rdf:type ?c`` for the target classes and their subclasses, which depend on the data).

Per property shape: one check of its values (every value-level constraint — datatype, node kind,
class, pattern, ranges, lengths, ``sh:in``, ``sh:or`` — joined into one FILTER: they share the
shape's message, so which one failed does not change the result), one of the number of values
(``sh:minCount``/``sh:maxCount``), and one per other focus-level constraint (``sh:uniqueLang``,
``sh:hasValue``, ``sh:lessThanOrEquals``, each ``sh:sparql``).

**Anything else fails loudly**: any ``sh:`` term this module does not implement, on any shape,
raises :class:`UnsupportedShape` naming the shape and the term, when the shapes are compiled (at the
first validation, and in the tests) — a change of shapes.ttl can never be skipped silently. So do
ambiguities the pyshacl reference resolves arbitrarily (two messages for one result).

Semantics are pyshacl's (tests/test_validation.py compares both on every fixture), except where
pyshacl follows Python rather than XSD, see :data:`DATATYPE_OK`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pyoxigraph as ox
from rdflib import RDF, RDFS, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, SH, XSD
from rdflib.plugins.sparql import prepareQuery
from rdflib.term import Variable

TARGETS = "#TARGETS#"  # replaced by the engine with the focus-node pattern (binds ?this)

#: When a literal is a well-formed value of ``sh:datatype``, as a SPARQL condition on ``?value``.
#: Well-formedness is XSD's, as oxigraph implements it (it parses typed literals on load); pyshacl
#: uses Python's parsers instead, so it accepts "5_0"^^xsd:integer or "1e5"^^xsd:decimal, and does
#: not check xsd:gYear at all ("abc"^^xsd:gYear passes). A datatype missing here is refused loudly.
DATATYPE_OK = {
    XSD.string: "DATATYPE(?value) = xsd:string",
    RDF.langString: 'LANG(?value) != ""',
    XSD.integer: "DATATYPE(?value) = xsd:integer && isNumeric(?value)",
    XSD.decimal: "DATATYPE(?value) = xsd:decimal && isNumeric(?value)",
    XSD.double: "DATATYPE(?value) = xsd:double && isNumeric(?value)",
    XSD.float: "DATATYPE(?value) = xsd:float && isNumeric(?value)",
    XSD.boolean: "DATATYPE(?value) = xsd:boolean && isLiteral(xsd:boolean(?value))",
    XSD.date: "DATATYPE(?value) = xsd:date && isLiteral(xsd:date(?value))",
    XSD.dateTime: "DATATYPE(?value) = xsd:dateTime && isLiteral(xsd:dateTime(?value))",
    XSD.gYear: "DATATYPE(?value) = xsd:gYear && isLiteral(YEAR(?value))",
}

NODE_KIND_OK = {
    SH.IRI: "isIRI(?value)", SH.Literal: "isLiteral(?value)", SH.BlankNode: "isBlank(?value)",
    SH.IRIOrLiteral: "!isBlank(?value)", SH.BlankNodeOrIRI: "!isLiteral(?value)",
    SH.BlankNodeOrLiteral: "!isIRI(?value)",
}

_COMPARISONS = {SH.minInclusive: ">=", SH.maxInclusive: "<=", SH.minExclusive: ">", SH.maxExclusive: "<"}
_LENGTHS = {SH.minLength: ">=", SH.maxLength: "<="}
#: Constraints on each value node: allowed in property shapes and in the members of sh:or.
VALUE_COMPONENTS = {SH.datatype, SH.nodeKind, SH["class"], SH.pattern, SH["in"], SH["or"], *_COMPARISONS, *_LENGTHS}
#: Constraints on the focus node as a whole: property shapes only.
FOCUS_COMPONENTS = {SH.minCount, SH.maxCount, SH.uniqueLang, SH.hasValue, SH.lessThanOrEquals, SH.sparql}
_PARAMETERS = {SH.flags}  # read with the constraint they qualify (sh:pattern)
_ANNOTATIONS = {SH.name, SH.description, SH.message, SH.severity, SH.deactivated, SH.order, SH.group, SH.defaultValue}
_NODE_SHAPE_TERMS = {SH.targetClass, SH.property, *_ANNOTATIONS}
_PROPERTY_SHAPE_TERMS = {SH.path, SH.targetClass, *VALUE_COMPONENTS, *FOCUS_COMPONENTS, *_PARAMETERS, *_ANNOTATIONS}
_MEMBER_SHAPE_TERMS = {*VALUE_COMPONENTS, SH.hasValue, *_PARAMETERS, *_ANNOTATIONS}
_SPARQL_TERMS = {SH.select, SH.message, SH.deactivated}
_SEVERITIES = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Warning"}

_PREFIXES = ("PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>\n"
             "PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>\n"
             "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n")


class UnsupportedShape(ValueError):
    """The shapes use something the native validator does not implement (or cannot do as pyshacl does)."""

    def __init__(self, shape, term, why: str = "not supported by the native validator"):
        self.shape, self.term, self.why = shape, term, why
        where = shape if isinstance(shape, str) else _name(shape)
        super().__init__(f"shape {where}: {_name(term)} is {why} (vocab/shapes_sparql.py)")


@dataclass(frozen=True)
class Check:
    """One query; each solution (``?this``, maybe ``?value``) is one result of ``shape``.

    ``kind`` and ``low``/``high`` let the engine skip a check its statistics prove clean
    ("count": sh:minCount/sh:maxCount, "unique": sh:uniqueLang — see shacl_native); ``probe``, an
    ASK that is false when the query certainly has no solution, is cheaper than the query because
    it ignores the targets and stops at the first bad value ("values")."""

    shape: URIRef | BNode        # the property shape, for sh:sourceShape and error messages
    classes: frozenset[str]      # target classes (IRIs) whose instances are the focus nodes
    path: URIRef
    message: str                 # may hold {$this}/{?value} (sh:sparql messages only)
    severity: str                # "Violation" or "Warning", as in vocab.validation.Violation
    query: str                   # a SELECT with TARGETS in it
    kind: str = "other"          # "values", "count", "unique" or "other"
    probe: str | None = None
    low: int | None = None
    high: int | None = None
    templated: bool = False      # a sh:sparql message: {$this}, {?value} are filled in, as pyshacl does


def compile_shapes(shapes: Graph) -> list[Check]:
    """Every check of ``shapes``, in a stable order. Raises :class:`UnsupportedShape`."""
    targets: dict = {}
    node_shapes = set(shapes.subjects(RDF.type, SH.NodeShape)) | set(shapes.subjects(SH.targetClass, None))
    node_shapes -= set(shapes.subjects(RDF.type, SH.PropertyShape)) | set(shapes.subjects(SH.path, None))
    for ns in sorted(node_shapes, key=str):
        _only(shapes, ns, _NODE_SHAPE_TERMS)
        if {OWL.Class, RDFS.Class} & set(shapes.objects(ns, RDF.type)):
            raise UnsupportedShape(ns, RDF.type, "a class, so the shape's implicit class target")
        if _deactivated(shapes, ns):
            continue
        classes = _classes(shapes, ns)
        for ps in shapes.objects(ns, SH.property):
            targets.setdefault(ps, set()).update(classes)
    property_shapes = set(shapes.subjects(RDF.type, SH.PropertyShape)) | set(shapes.subjects(SH.path, None))
    property_shapes |= set(targets)
    checks: list[Check] = []
    for ps in sorted(property_shapes, key=str):
        try:
            classes = targets.get(ps, set()) | _classes(shapes, ps)
            checks += _property_checks(shapes, ps, frozenset(classes))
        except UnsupportedShape as e:
            if isinstance(e.shape, BNode):  # name the shape by what a reader of shapes.ttl can find
                raise UnsupportedShape(_where(shapes, ps), e.term, e.why) from None
            raise
    unread = {s: p for s, p in shapes.subject_predicates() if str(p).startswith(str(SH))}
    for node in _read(shapes, node_shapes | property_shapes):
        unread.pop(node, None)
    for node, term in sorted(unread.items(), key=str):  # e.g. sh:targetNode on an untyped node, sh:declare
        raise UnsupportedShape(node, term, "on a node the compiler does not read as a shape, so it")
    return checks


def _read(g: Graph, shapes: set) -> set:
    """The shapes and the nodes the compiler reads with them: sh:sparql constraints, sh:or members."""
    read, todo = set(), list(shapes)
    while todo:
        node = todo.pop()
        if node not in read:
            read.add(node)
            todo += list(g.objects(node, SH.sparql))
            todo += [m for members in g.objects(node, SH["or"]) for m in Collection(g, members)]
    return read


def _property_checks(g: Graph, ps, classes: frozenset[str]) -> list[Check]:
    _only(g, ps, _PROPERTY_SHAPE_TERMS)
    path = _one(g, ps, SH.path)
    if not isinstance(path, URIRef):
        raise UnsupportedShape(ps, SH.path, "not an IRI (only predicate paths are supported), so it")
    if path in (RDF.type, RDFS.subClassOf):
        raise UnsupportedShape(ps, SH.path, "rdf:type or rdfs:subClassOf, which the vocabulary typing mixed into "
                                            "the data would change, so it")
    message, severity, p = _message(g, ps), _severity(g, ps), _sparql(path)

    def check(query: str, msg: str | None = None, probe: str | None = None, **kw) -> Check:
        if msg is None and message is None:
            raise UnsupportedShape(ps, SH.message, "missing: results need a message written for people, so it")
        return Check(ps, classes, path, msg or message, severity, _PREFIXES + query,
                     probe=probe and _PREFIXES + probe, **kw)

    checks = []
    ok = _value_ok(g, ps)
    if ok != "true":
        checks.append(check(*_values_query(p, ok), kind="values"))
    low, high = _count(g, ps, SH.minCount), _count(g, ps, SH.maxCount)
    if low or high is not None:
        checks.append(check(_count_query(p, low, high), kind="count", low=low, high=high))
    unique = _one(g, ps, SH.uniqueLang, required=False)
    if unique is not None and not (isinstance(unique, Literal) and isinstance(unique.value, bool)):
        raise UnsupportedShape(ps, SH.uniqueLang, "not a boolean, so it")
    if unique is not None and unique.value:
        checks.append(check(f"SELECT DISTINCT ?this WHERE {{ {TARGETS}\n  ?this {p} ?value, ?other .\n"
                            f"  FILTER (!sameTerm(?value, ?other) && LANG(?value) != \"\"\n"
                            f"          && LCASE(LANG(?value)) = LCASE(LANG(?other)))\n}}", kind="unique"))
    for required in g.objects(ps, SH.hasValue):
        checks.append(check(f"SELECT ?this WHERE {{ {TARGETS}\n"
                            f"  FILTER NOT EXISTS {{ ?this {p} {_sparql(required)} }}\n}}"))
    for other in g.objects(ps, SH.lessThanOrEquals):
        if not isinstance(other, URIRef):
            raise UnsupportedShape(ps, SH.lessThanOrEquals, "not an IRI (only predicate paths are supported), so it")
        checks.append(check(f"SELECT DISTINCT ?this ?value WHERE {{\n  ?this {p} ?value ; {_sparql(other)} ?other .\n"
                            f"  FILTER (!COALESCE(?value <= ?other, false))\n  {TARGETS}\n}}"))
    for constraint in g.objects(ps, SH.sparql):
        c = _sparql_constraint(g, ps, constraint, p, message)
        if c is not None:
            checks.append(check(*c, templated=True))
    return [] if _deactivated(g, ps) or not classes else checks  # compiled all the same: unsupported is loud


def _values_query(p: str, ok: str) -> tuple[str, None, str]:
    """The query of the values of ``p`` that fail ``ok``, and its probe."""
    if "EXISTS" not in ok:
        bad = f"FILTER (!COALESCE({ok}, false))"
        return (f"SELECT DISTINCT ?this ?value WHERE {{\n  {{ ?this {p} ?value {bad} }}\n  {TARGETS}\n}}", None,
                f"ASK {{ ?any {p} ?value {bad} }}")
    # A class check looks up the types of each value, and concept values repeat (10 000 memberships,
    # 8 roles): each distinct value is checked once — in HAVING, as oxigraph would push a FILTER
    # below a DISTINCT — then joined back to the focus nodes that have it.
    values = f"{{ SELECT ?value WHERE {{ ?any {p} ?value }} GROUP BY ?value HAVING (!COALESCE({ok}, false)) }}"
    return (f"SELECT DISTINCT ?this ?value WHERE {{\n  {values}\n  ?this {p} ?value .\n  {TARGETS}\n}}", None,
            f"ASK {{ {values} }}")


def _count_query(p: str, low: int | None, high: int | None) -> str:
    """The focus nodes with fewer than ``low`` or more than ``high`` distinct values of ``p``."""
    if not low:
        return (f"SELECT ?this WHERE {{ {TARGETS}\n  ?this {p} ?value\n}} "
                f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {high})")
    having = f"COUNT(DISTINCT ?value) < {low}" + (f" || COUNT(DISTINCT ?value) > {high}" if high is not None else "")
    return f"SELECT ?this WHERE {{ {TARGETS}\n  OPTIONAL {{ ?this {p} ?value }}\n}} GROUP BY ?this HAVING ({having})"


def _value_ok(g: Graph, shape) -> str:
    """The SPARQL condition under which ``?value`` satisfies the value-level constraints of ``shape``
    ("true" if it has none). An error inside counts as false, as pyshacl fails what it cannot compare."""
    conditions = []
    for dt in g.objects(shape, SH.datatype):
        if dt not in DATATYPE_OK:
            raise UnsupportedShape(shape, dt, "a datatype whose well-formedness check is not written "
                                              "(add it to DATATYPE_OK), so sh:datatype with it")
        conditions.append(DATATYPE_OK[dt])
    for kind in g.objects(shape, SH.nodeKind):
        if kind not in NODE_KIND_OK:
            raise UnsupportedShape(shape, kind, "not a node kind, so sh:nodeKind with it")
        conditions.append(NODE_KIND_OK[kind])
    for cls in g.objects(shape, SH["class"]):
        conditions.append(f"EXISTS {{ ?value rdf:type/rdfs:subClassOf* {_sparql(cls)} }}")
    for pattern in g.objects(shape, SH.pattern):
        flags = _one(g, shape, SH.flags, required=False)
        args = _sparql(Literal(str(pattern))) + (f", {_sparql(Literal(str(flags)))}" if flags is not None else "")
        conditions.append(f"REGEX(STR(?value), {args})")
    for term, op in _COMPARISONS.items():
        for bound in g.objects(shape, term):
            if not isinstance(bound, Literal):
                raise UnsupportedShape(shape, term, "not a literal, so it")
            conditions.append(f"?value {op} {_sparql(bound)}")
    for term, op in _LENGTHS.items():
        for n in g.objects(shape, term):
            conditions.append(f"STRLEN(STR(?value)) {op} {_integer(shape, term, n)}")
    for members in g.objects(shape, SH["in"]):
        terms = [f"sameTerm(?value, {_sparql(t)})" for t in Collection(g, members)]
        conditions.append("(" + (" || ".join(terms) or "false") + ")")
    for members in g.objects(shape, SH["or"]):
        alternatives = []
        for member in Collection(g, members):
            _only(g, member, _MEMBER_SHAPE_TERMS)
            ok = _value_ok(g, member)
            ok = " && ".join([ok] + [f"sameTerm(?value, {_sparql(v)})" for v in g.objects(member, SH.hasValue)])
            alternatives.append(f"COALESCE({ok}, false)")
        conditions.append("(" + (" || ".join(alternatives) or "false") + ")")
    return " && ".join(f"({c})" for c in conditions) or "true"


def _sparql_constraint(g: Graph, ps, constraint, path: str, message: str | None) -> tuple[str, str] | None:
    """A ``sh:sparql`` SELECT, run once for all focus nodes: its ``$this`` is left free, and the
    solutions are joined with the targets. That equals pyshacl's pre-binding of ``$this`` per focus
    node only when ``$this`` is bound by the query's own top-level triple patterns, so that is checked."""
    _only(g, constraint, _SPARQL_TERMS)
    if _deactivated(g, constraint):
        return None
    select = str(_one(g, constraint, SH.select))
    own = _message(g, constraint)
    if message is not None and own is not None and own != message:
        raise UnsupportedShape(ps, SH.message, "different on the shape and its sh:sparql constraint (pyshacl "
                                               "reports both, one picked at random), so it")
    try:
        algebra = prepareQuery(select.replace("$PATH", path)).algebra
    except Exception as e:  # noqa: BLE001  (rdflib raises pyparsing's errors)
        raise UnsupportedShape(ps, SH.select, f"not a SPARQL query ({e}), so it") from e
    projected = {str(v) for v in algebra.get("PV", [])}
    if algebra.name != "SelectQuery" or "this" not in projected or projected - {"this", "value"}:
        raise UnsupportedShape(ps, SH.select, "not a SELECT of $this (and ?value) only, so it")
    if re.match(r"\s*(PREFIX|BASE)\b", select, re.IGNORECASE) or (constraint, SH.prefixes, None) in g:
        raise UnsupportedShape(ps, SH.prefixes, "not supported (write full IRIs in sh:select), so a prologue")
    if Variable("this") not in _bound_by_patterns(algebra["p"]):
        raise UnsupportedShape(ps, SH.select, "a query whose $this is not bound by its own triple patterns, so it")
    value = "?value" if "value" in projected else ""
    inner = select.replace("$PATH", path)
    return f"SELECT DISTINCT ?this {value} WHERE {{\n  {{ {inner} }}\n  {TARGETS}\n}}", own or message


def _bound_by_patterns(node) -> set:
    """Variables certainly bound by triple patterns of ``node`` (rdflib algebra), not counting the
    optional side of OPTIONAL, MINUS or the inside of FILTER (NOT) EXISTS."""
    name = getattr(node, "name", None)
    if name == "BGP":
        return {t for triple in node["triples"] for t in triple if isinstance(t, Variable)}
    if name in ("Join", "Union"):
        left, right = _bound_by_patterns(node["p1"]), _bound_by_patterns(node["p2"])
        return left | right if name == "Join" else left & right
    if name in ("LeftJoin", "Minus"):
        return _bound_by_patterns(node["p1"])
    if name in ("Filter", "Project", "Distinct", "Reduced", "Extend", "OrderBy", "Slice", "ToMultiSet", "Graph"):
        return _bound_by_patterns(node["p"])
    return set()


def _where(g: Graph, ps) -> str:
    """``<…#P>``, or ``[sh:path s3:region] of <…#ClusterShape>`` for a blank property shape."""
    if isinstance(ps, URIRef):
        return _name(ps)
    parents = ", ".join(sorted(_name(n) for n in g.subjects(SH.property, ps))) or "no node shape"
    return f"[sh:path {_name(g.value(ps, SH.path))}] of {parents}"


def _classes(g: Graph, shape) -> set[str]:
    classes = set(g.objects(shape, SH.targetClass))
    if any(not isinstance(c, URIRef) for c in classes):
        raise UnsupportedShape(shape, SH.targetClass, "not an IRI, so it")
    return {str(c) for c in classes}


def _only(g: Graph, shape, allowed: set) -> None:
    """Refuse any sh: term of ``shape`` not in ``allowed`` (other vocabularies are annotations)."""
    for p in g.predicates(shape, None):
        if str(p).startswith(str(SH)) and p not in allowed:
            raise UnsupportedShape(shape, p)


def _one(g: Graph, shape, term, required: bool = True):
    values = list(g.objects(shape, term))
    if len(values) > 1:
        raise UnsupportedShape(shape, term, "given more than once, so it")
    if required and not values:
        raise UnsupportedShape(shape, term, "missing, so the shape")
    return values[0] if values else None


def _message(g: Graph, shape) -> str | None:
    message = _one(g, shape, SH.message, required=False)
    return None if message is None else str(message)


def _severity(g: Graph, shape) -> str:
    severity = _one(g, shape, SH.severity, required=False)
    return _SEVERITIES.get(severity, "Violation") if severity is not None else "Violation"


def _deactivated(g: Graph, shape) -> bool:
    value = _one(g, shape, SH.deactivated, required=False)
    return value is not None and value.toPython() is True


def _count(g: Graph, shape, term) -> int | None:
    n = _one(g, shape, term, required=False)
    return None if n is None else _integer(shape, term, n)


def _integer(shape, term, n) -> int:
    if not (isinstance(n, Literal) and isinstance(n.value, int) and n.value >= 0):
        raise UnsupportedShape(shape, term, "not a non-negative integer, so it")
    return n.value


def _sparql(term) -> str:
    """An rdflib term as SPARQL text, escaped by pyoxigraph's N-Triples writer."""
    if isinstance(term, URIRef):
        return str(ox.NamedNode(str(term)))
    if isinstance(term, Literal):
        if term.language:
            return str(ox.Literal(str(term), language=term.language))
        return str(ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype or XSD.string))))
    raise UnsupportedShape("(a constraint)", term, "a blank node where a constant is needed, so it")


def _name(node) -> str:
    if isinstance(node, BNode):
        return f"_:{node}"
    return f"<{node}>" if isinstance(node, URIRef) else str(node)
