"""The lexical guard of ``/sparql``: one regex pass over a query before the engine sees it.

It finds what the endpoint must decide before evaluation — the query's first keyword (updates
are refused), its ``SERVICE`` targets (only configured peers pass: pyoxigraph would call any
IRI, even a variable's value, which is SSRF) and its ``FROM`` / ``FROM NAMED`` graphs — and it
bounds the query's size: the engine's parser and planner recurse on the query's structure (a
few thousand nested groups, or chained operators, overflow a stack and kill the process), so
queries nested deeper than ``limits.sparql_max_nesting`` or longer than
``limits.sparql_max_tokens`` terms outside VALUES are refused.

rdflib's parser is no help here: it fails on SERVICE after a PREFIX (its ServiceGraphPattern
post-parse action re-searches the whole query text) and costs ≈100 ms a query.
"""
from __future__ import annotations

import re
from urllib.parse import urljoin

from .problems import Problem

MAX_TOKENS, MAX_NESTING = 4000, 64  # defaults of limits.sparql_max_tokens / sparql_max_nesting
UPDATE_WORDS = {"insert", "delete", "load", "clear", "create", "drop", "copy", "move", "add", "with"}
# SPARQL's lexical level, enough to find keywords: IRIs, strings and comments are consumed whole,
# so a "SERVICE" inside them is no keyword, and no keyword can hide from the scan.
_TOKEN = re.compile(r"""
    (?P<ws>\s+) | (?P<comment>\#[^\r\n]*) | (?P<iri><(?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*>)
  | (?P<string>"{3}(?:[^"\\]|\\.|"(?!""))*"{3} | '{3}(?:[^'\\]|\\.|'(?!''))*'{3}
              | "(?:[^"\\\r\n]|\\.)*" | '(?:[^'\\\r\n]|\\.)*')
  | (?P<var>[?$]\w+) | (?P<word>[^\W\d]\w*+(?![\w.\u00B7\u0300-\u036F\u203F\u2040-]*:))
  | (?P<pname>(?:[^\W\d_][\w.\u00B7\u0300-\u036F\u203F\u2040-]*)?:
               (?:[\w.:%\u00B7\u0300-\u036F\u203F\u2040-]|\\[_~.\-!$&'()*+,;=/?\#@%])*)
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)
_GLUED = {"service", "silent", "from", "named", "prefix"}  # oxigraph reads SERVICE:x as SERVICE :x
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def scan(q: str, base: str, max_tokens: int = MAX_TOKENS, max_nesting: int = MAX_NESTING
         ) -> tuple[str, list[tuple[str, str | None]], list[str], list[str]]:
    """The query's first keyword, its SERVICE targets (as written, and the IRI they spell when
    it is one) and its FROM / FROM NAMED graphs (resolved on ``base``); a 400 problem when the
    query is too big or has a backslash where SPARQL allows none."""
    toks = []
    depth, values, data = 0, 0, 0  # values: 1 after VALUES, 2 inside its data block (terms only)
    for m in _TOKEN.finditer(q):
        kind, text = m.lastgroup, m.group()
        if kind in ("ws", "comment"):
            continue
        if values == 2:  # VALUES rows are data, not structure: counted apart, not kept
            if text == "}":
                values, depth = 0, depth - 1
            data += 1
            if data > max_tokens * 50:
                raise _too_complex(f"has more than {max_tokens * 50} values in its VALUES blocks")
            continue
        if kind == "word" and text.lower() == "values":
            values = 1
        elif values == 1 and text == "{":
            values = 2
        if kind == "other" and text in "{([":
            depth += 1
            if depth > max_nesting:
                raise _too_complex(f"nests groups, brackets or parentheses more than {max_nesting} deep")
        elif kind == "other" and text in "})]":
            depth -= 1
        pfx, _, local = text.partition(":")
        if kind == "pname" and pfx.lower() in _GLUED:
            toks += [("word", pfx), ("pname", ":" + local)]
        elif kind == "other" and text == "\\":  # only legal in strings, IRIs and prefixed names
            raise Problem(400, "SPARQL syntax error", "The query has a backslash outside strings, IRIs and "
                          f"prefixed names (at character {m.start()}).", kind="sparql-syntax")
        else:
            toks.append((kind, text))
        if len(toks) > max_tokens:
            raise _too_complex(f"has more than {max_tokens} keywords, terms and operators outside VALUES")
    toks.append(("", ""))
    prefixes: dict[str, str] = {}
    first, services, default, named = "", [], [], []

    def iri(kind: str, text: str) -> str | None:  # as written: never resolved against BASE
        if kind == "iri":
            return text[1:-1]
        pfx, _, local = text.rstrip(".").partition(":")
        return prefixes[pfx] + local if kind == "pname" and pfx in prefixes else None
    for i, (kind, text) in enumerate(toks[:-1]):
        word = text.lower() if kind == "word" else ""
        if word == "prefix":  # a prefix declared twice spells nothing we vouch for
            name = toks[i + 1][1].partition(":")[0]
            prefixes[name] = "" if name in prefixes else toks[min(i + 2, len(toks) - 1)][1][1:-1]
        elif word == "base":
            base = urljoin(base, toks[i + 1][1][1:-1])
        elif word and not first:
            first = word
        skip = 2 if toks[i + 1][1].lower() in ("silent", "named") else 1
        target = toks[min(i + skip, len(toks) - 1)]
        if word == "service":
            services.append((target[1] or "(nothing)", iri(*target)))
        elif word == "from":
            graph = iri(*target)
            (named if skip == 2 else default).append(urljoin(base, graph) if graph else target[1])
    return first, services, default, named


def _too_complex(what: str) -> Problem:
    """Past a few thousand levels or terms the engine's parser and planner exhaust their stack
    and take the process down (a crash, not an error), and planning cost grows much faster than
    the query. So the size is bounded up front."""
    return Problem(400, "Query too complex", f"The query {what}, past this endpoint's limits "
                   "(limits.sparql_max_nesting, limits.sparql_max_tokens). Put long lists of values in a "
                   "VALUES block, or load the node's /dump locally for heavy analysis.", kind="sparql-too-complex")


def check_services(services, allowed: set[str]) -> None:
    """pyoxigraph would call any SERVICE IRI, even one bound to a variable at run time: only the
    ``allowed`` endpoints (the configured peers'), named by absolute IRI, may pass (no SSRF).
    Checked in the node, before a worker process (which makes the call) sees the query."""
    for written, iri in services:
        if iri is None or not _ABSOLUTE.match(iri) or iri not in allowed:
            raise Problem(400, "SERVICE not allowed", f"SERVICE {written} is refused: this endpoint only "
                          "federates with its configured peers' SPARQL endpoints, named by absolute IRI ("
                          + (", ".join(f"<{a}>" for a in sorted(allowed)) or "none are configured") + ").",
                          kind="sparql-service")
