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
import json
import re
from dataclasses import dataclass
from xml.parsers import expat

import pyoxigraph as ox
from flask import request
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


def serialize(graph, media_type: str) -> bytes:
    """Serialise a (small) rdflib graph: an entity, a page, a description. JSON-LD is compacted
    with the shared context, shipped with the vocabulary rather than fetched."""
    import vocab
    for prefix, ns in vocab.PREFIXES.items():
        graph.bind(prefix, ns, override=True)
    if media_type == "application/ld+json":
        ctx = vocab.context()
        ctx = ctx.get("@context", ctx)
        return graph.serialize(format="json-ld", context=ctx, auto_compact=True).encode("utf-8")
    name = {"text/turtle": "turtle", "application/n-triples": "nt", "application/rdf+xml": "xml",
            "application/n-quads": "nquads", "application/trig": "trig"}[media_type]
    return graph.serialize(format=name, encoding="utf-8")


RDF_MEDIA_TYPES = [f.media_type for f in TRIPLE_FORMATS]
