"""RDF serialisations: media types, content negotiation, and parsing of untrusted input.

One table (:data:`RDF_FORMATS`) says which serialisations the node speaks, under which media
type, ``?format=`` name and file extension; negotiation, parsing and serialising all read it.

Untrusted input is parsed with pyoxigraph's native parsers, which fetch nothing remote (a
JSON-LD remote ``@context`` is an error, not a request). Two guards sit in front of them:
RDF/XML with a DOCTYPE is refused outright (no entities, internal or external, are ever
expanded), and JSON-LD or RDF/XML deeper than a configured nesting limit is refused before it
reaches the parser (deep nesting exhausts the native parser's stack). A UTF-8 byte-order mark is
dropped; any other encoding is refused.
"""
from __future__ import annotations

import codecs
import functools
import json
import math
import re
from dataclasses import dataclass
from xml.parsers import expat

import pyoxigraph as ox
from flask import request
from rdflib import Graph
from rdflib.plugins.shared.jsonld.context import UNDEF, Context
from rdflib.plugins.shared.jsonld.keys import CONTEXT, ID, LANG, SET, VOCAB
from werkzeug.datastructures import MIMEAccept


@dataclass(frozen=True)
class RdfFormat:
    name: str            # ?format= value
    media_type: str
    ox_format: ox.RdfFormat
    extensions: tuple[str, ...]


RDF_FORMATS = [
    RdfFormat("ttl", "text/turtle", ox.RdfFormat.TURTLE, ("ttl",)),
    RdfFormat("jsonld", "application/ld+json", ox.RdfFormat.JSON_LD, ("jsonld", "json-ld")),
    RdfFormat("nt", "application/n-triples", ox.RdfFormat.N_TRIPLES, ("nt",)),
    RdfFormat("rdf", "application/rdf+xml", ox.RdfFormat.RDF_XML, ("rdf", "xml", "owl")),
    RdfFormat("nq", "application/n-quads", ox.RdfFormat.N_QUADS, ("nq",)),
    RdfFormat("trig", "application/trig", ox.RdfFormat.TRIG, ("trig",)),
]
BY_NAME = {f.name: f for f in RDF_FORMATS}
BY_MEDIA_TYPE = {f.media_type: f for f in RDF_FORMATS} | {
    "application/x-turtle": BY_NAME["ttl"], "text/n3": BY_NAME["ttl"],
    "text/plain": BY_NAME["nt"], "application/xml": BY_NAME["rdf"], "text/xml": BY_NAME["rdf"],
}
BY_EXTENSION = {ext: f for f in RDF_FORMATS for ext in f.extensions}
TRIPLE_FORMATS = [BY_NAME[n] for n in ("ttl", "jsonld", "nt", "rdf")]

HTML, JSON = "text/html", "application/json"
FORMAT_ALIASES = {"html": HTML, "json": JSON, **{f.name: f.media_type for f in RDF_FORMATS}}


class RdfSyntaxError(ValueError):
    """Input that does not parse; ``line``/``column`` when the parser gives them."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line, self.column = line, column


class UnsupportedMediaType(ValueError):
    pass


def negotiate(offered: list[str], default: str | None = None) -> str | None:
    """The media type to answer with: ``?format=`` first, then the Accept header (q-values).

    Returns None when nothing offered is acceptable (the caller answers 406). A missing or
    ``*/*`` Accept header gets the first offered type (or ``default``).
    """
    fmt = request.args.get("format")
    if fmt:
        chosen = FORMAT_ALIASES.get(fmt, fmt)
        return chosen if chosen in offered else None
    accept = request.accept_mimetypes
    if not accept or accept == MIMEAccept([("*/*", 1)]):
        return default or offered[0]
    best = accept.best_match(offered)
    if best is None and "application/json" in offered and accept.quality("application/*+json"):
        best = "application/json"
    return best


def format_for_upload(content_type: str | None, filename: str | None = None) -> RdfFormat:
    """Pick the parser for a request body or a file, by media type or extension."""
    if content_type:
        mt = content_type.split(";")[0].strip().lower()
        if mt in BY_MEDIA_TYPE:
            return BY_MEDIA_TYPE[mt]
        if not filename:
            raise UnsupportedMediaType(
                f"cannot read {mt!r}; send one of: " + ", ".join(f.media_type for f in RDF_FORMATS))
    ext = (filename or "").rsplit(".", 1)[-1].lower()
    if ext in BY_EXTENSION:
        return BY_EXTENSION[ext]
    raise UnsupportedMediaType(
        f"cannot tell the format of {filename!r}; use one of the extensions "
        + ", ".join("." + e for e in sorted(BY_EXTENSION)))


def json_depth(value) -> int:
    """How deeply ``value`` (parsed JSON) nests, counted without recursion."""
    depth, stack = 0, [(value, 1)]
    while stack:
        item, d = stack.pop()
        depth = max(depth, d)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((c, d + 1) for c in children if isinstance(c, (dict, list)))
    return depth


class _TooDeep(Exception):
    pass


def _xml_depth(data: bytes, limit: int) -> int:
    """Element nesting of an XML document, counted by expat up to ``limit + 1`` (the native RDF/XML
    parser recurses per level: ~100k levels overflow its stack and kill the process). Malformed
    XML is left to that parser, which reports it with a position."""
    parser, depth = expat.ParserCreate(), [0, 0]

    def start(*_):
        depth[0] += 1
        depth[1] = max(depth[1], depth[0])
        if depth[0] > limit:
            raise _TooDeep

    def end(*_):
        depth[0] -= 1
    parser.StartElementHandler, parser.EndElementHandler = start, end
    try:
        parser.Parse(data, True)
    except (_TooDeep, expat.ExpatError):
        pass
    return depth[1]


def _guard(data: bytes, fmt: RdfFormat, max_json_depth: int) -> None:
    if fmt.name == "rdf":
        head = data[:65536].lower()
        if b"<!doctype" in head or b"<!entity" in data.lower():
            raise RdfSyntaxError("RDF/XML with a DOCTYPE or entity declarations is refused: "
                                 "s3fed never expands XML entities. Remove the DOCTYPE.")
        if _xml_depth(data, max_json_depth) > max_json_depth:
            raise RdfSyntaxError(f"XML nested deeper than {max_json_depth} levels is refused")
    elif fmt.name == "jsonld":
        try:
            doc = json.loads(data)
        except RecursionError:
            raise RdfSyntaxError(f"JSON nested deeper than {max_json_depth} levels is refused") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise RdfSyntaxError(f"invalid JSON: {e}",
                                 getattr(e, "lineno", None), getattr(e, "colno", None)) from None
        if json_depth(doc) > max_json_depth:
            raise RdfSyntaxError(f"JSON nested deeper than {max_json_depth} levels is refused")


def parse(data: bytes, fmt: RdfFormat, base_iri: str | None = None, *, max_json_depth: int = 64,
          source: str = "input", max_triples: int | None = None) -> list[ox.Quad]:
    """Parse untrusted bytes into quads, or raise :class:`RdfSyntaxError` with line and column
    (also when there are more than ``max_triples``: parsing stops there)."""
    if data.startswith(codecs.BOM_UTF8):  # what Windows editors put before UTF-8 text
        data = data[len(codecs.BOM_UTF8):]
    _guard(data, fmt, max_json_depth)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RdfSyntaxError(f"{source} is not UTF-8 (invalid byte at offset {e.start})") from None
    try:
        quads = []
        for quad in ox.parse(data, format=fmt.ox_format, base_iri=base_iri):
            quads.append(quad)
            if max_triples is not None and len(quads) > max_triples:
                raise RdfSyntaxError(f"{source} has more triples than one import takes ({max_triples}, "
                                     "limits.max_import_triples): split it into several imports")
        return quads
    except SyntaxError as e:
        line, col = _position(e)
        raise RdfSyntaxError(f"{source} is not valid {fmt.media_type}: {e}", line, col) from None
    except MemoryError as e:  # the parser's own bound on one token, line or literal (16 MB)
        raise RdfSyntaxError(f"{source} has a token, line or comment too long to parse ({e})") from None


def _position(err: SyntaxError) -> tuple[int | None, int | None]:
    m = re.search(r"line (\d+) column (\d+)", str(err))
    return (int(m.group(1)), int(m.group(2))) if m else (err.lineno, err.offset)


def serialize(data, media_type: str) -> bytes:
    """Serialise a small graph — an entity, a page, a description — given as pyoxigraph triples
    (the fast path: native serialisers, and JSON-LD compacted by :func:`jsonld`) or as an rdflib
    graph (descriptions built in Python, the vocabulary: rdflib's serialisers). JSON-LD is
    compacted with the shared context, shipped with the vocabulary rather than fetched."""
    if not isinstance(data, Graph):
        return _serialize_triples(data, media_type)
    import vocab
    for prefix, ns in vocab.PREFIXES.items():
        data.bind(prefix, ns, override=True)
    if media_type == "application/ld+json":
        return data.serialize(format="json-ld", context=_jsonld_context()[0], auto_compact=True).encode("utf-8")
    name = {"text/turtle": "turtle", "application/n-triples": "nt", "application/rdf+xml": "xml",
            "application/n-quads": "nquads", "application/trig": "trig"}[media_type]
    return data.serialize(format=name, encoding="utf-8")


def _serialize_triples(triples, media_type: str) -> bytes:
    """pyoxigraph's serialisers, ~100× faster than rdflib's on an entity (measured by
    tests/benchmarks/bench_http.py); triples are grouped by subject so Turtle nests them."""
    by_subject: dict = {}
    for t in triples:
        by_subject.setdefault(t.subject, []).append(t)
    if media_type == "application/ld+json":
        return jsonld(by_subject)
    grouped = [t for ts in by_subject.values() for t in ts]
    fmt = BY_MEDIA_TYPE[media_type].ox_format
    return ox.serialize(grouped, format=fmt, prefixes=_prefixes() if fmt != ox.RdfFormat.N_TRIPLES else None)


@functools.cache
def _prefixes() -> dict[str, str]:
    import vocab
    return {p: str(ns) for p, ns in vocab.PREFIXES.items()}


@functools.cache
def _jsonld_context() -> tuple[dict, Context]:
    """The shared JSON-LD context, and rdflib's reading of it (terms, prefixes, coercions):
    built once per process."""
    import vocab
    data = vocab.context()
    data = data.get("@context", data)
    return data, Context(data)


_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_XSD = "http://www.w3.org/2001/XMLSchema#"
_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


def _native(lexical: str, datatype: str):
    """The JSON value of a literal of the types JSON-LD writes natively (as rdflib's
    ``toPython`` does); an ill-typed lexical form stays a string."""
    try:
        if datatype == _XSD + "integer":
            return int(lexical)
        if datatype == _XSD + "double":
            value = float(lexical)
            return value if math.isfinite(value) else lexical
        if datatype == _XSD + "boolean":
            return {"true": True, "1": True, "false": False, "0": False}.get(lexical.strip(), lexical)
    except ValueError:
        return lexical
    return lexical  # xsd:string


_NATIVE = {_XSD + "integer", _XSD + "double", _XSD + "boolean", _XSD + "string"}


class _Compactor:
    """JSON-LD compaction of flat RDF (no lists, blank nodes as references) against the shared
    context, term for term as rdflib's JSON-LD serialiser chooses them (it reads the same
    :class:`~rdflib.plugins.shared.jsonld.context.Context`): a term when one fits the value's
    datatype, language or ``@id`` coercion, language maps for ``@container: @language``, compact
    IRIs for ``@id`` values, native JSON numbers and booleans. The choices depend only on the
    predicate and the value's kind, so they are cached for the process."""

    def __init__(self):
        self.data, self.ctx = _jsonld_context()
        self.data_json = json.dumps(self.data, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        self.terms: dict = {}
        self.shrink = functools.cache(self.ctx.shrink_iri)  # IRI -> compact IRI
        self.symbol = functools.cache(self.ctx.to_symbol)   # IRI -> term name

    def term(self, p: str, o):
        if isinstance(o, ox.Literal):
            key = (p, o.datatype.value, o.language)
        else:
            key = (p, None, None)
        try:
            return self.terms[key]
        except KeyError:
            pass
        if isinstance(o, ox.Literal):
            lang = o.language
            term = self.ctx.find_term(p, None if lang else o.datatype.value, language=lang)
        else:
            term = None
            for coercion in (ID, VOCAB, UNDEF):
                term = self.ctx.find_term(p, coercion, None)
                if term:
                    break
        self.terms[key] = term
        return term

    def ref(self, o) -> str:
        return self.shrink(o.value) if isinstance(o, ox.NamedNode) else f"_:{o.value}"

    def raw(self, o):
        """A value without a term's help: node reference, value object or native value."""
        if not isinstance(o, ox.Literal):
            return {self.ctx.id_key: self.ref(o)}
        if o.language:
            return {self.ctx.lang_key: o.language, self.ctx.value_key: o.value}
        datatype = o.datatype.value
        if datatype in _NATIVE:
            value = _native(o.value, datatype)
            if not isinstance(value, str) or datatype == _XSD + "string":
                return value
        return {self.ctx.type_key: self.symbol(datatype), self.ctx.value_key: o.value}

    def add(self, node: dict, p: str, o) -> None:
        term, value, key = self.term(p, o), None, None
        if term:
            key = term.name
            if term.type:
                value = self.coerce(o, term.type)
            elif term.language and isinstance(o, ox.Literal) and o.language == term.language:
                value = o.value
            if LANG in term.container and isinstance(o, ox.Literal) and o.language:
                by_lang = node.setdefault(key, {})
                if o.language in by_lang:
                    if not isinstance(by_lang[o.language], list):
                        by_lang[o.language] = [by_lang[o.language]]
                    by_lang[o.language].append(o.value)
                else:
                    by_lang[o.language] = [o.value] if SET in term.container else o.value
                return
        else:
            key = self.symbol(p)
            defined = self.ctx.terms.get(key)
            if defined and (defined.type or defined.container):
                key = p
            if p == _RDF_TYPE:
                key = self.ctx.type_key
                if isinstance(o, ox.NamedNode):
                    value = self.symbol(o.value)
        if value is None:
            value = self.raw(o)
        if key in node:
            if not isinstance(node[key], list):
                node[key] = [node[key]]
            node[key].append(value)
        else:
            node[key] = [value] if term and SET in term.container else value

    def coerce(self, o, coercion):
        if coercion == ID:
            return self.ref(o) if not isinstance(o, ox.Literal) else o.value
        if coercion == VOCAB and isinstance(o, ox.NamedNode):
            return self.symbol(o.value)
        if isinstance(o, ox.Literal) and o.datatype.value == coercion:
            return o.value
        return None


_compactor: _Compactor | None = None


def jsonld(by_subject: dict) -> bytes:
    """Compacted JSON-LD of triples grouped by subject (see :class:`_Compactor`): one node object
    per subject, under ``@graph`` unless there is only one, with the shared context inline."""
    global _compactor
    c = _compactor = _compactor or _Compactor()
    nodes = []
    for s, ts in by_subject.items():
        node = {c.ctx.id_key: c.ref(s)}
        for t in ts:
            c.add(node, t.predicate.value, t.object)
        nodes.append(node)
    doc = nodes[0] if len(nodes) == 1 else {c.ctx.graph_key: nodes}
    # no indent: only then does json use its C encoder (5-10× faster on a large entity); the
    # context, the same in every document, is encoded once and put first
    body = json.dumps(doc, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return f'{{"{CONTEXT}":{c.data_json}{"," if len(body) > 2 else ""}{body[1:]}'.encode()


RDF_MEDIA_TYPES = [f.media_type for f in TRIPLE_FORMATS]
