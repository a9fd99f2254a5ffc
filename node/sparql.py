"""The node's read-only SPARQL 1.1 endpoint, ``/sparql`` (Protocol, Service Description, CORS).

Dataset: the default graph is the union of :func:`node.entities.read_graphs` (data, vocabulary,
and on a hub the harvested peers and the index); the named graphs are the same list. Both are
always passed to the engine explicitly (it lets them override FROM): ``GRAPH`` on the feed or
sync graph sees nothing, and ``default-graph-uri``/``named-graph-uri``/``FROM`` may only narrow
the dataset to readable graphs (anything else is a 400).

pyoxigraph executes ``SERVICE`` itself over HTTP(S), to any IRI or even a variable's value, so
an open ``SERVICE`` would let anyone make this node fetch arbitrary URLs (SSRF). A lexical scan
of the query (:func:`_scan`) finds every SERVICE keyword; only the configured peers' endpoints,
written as absolute IRIs, pass.

Limits: the engine cannot be cancelled, but it releases the GIL. Each query is evaluated in a
daemon thread; the request waits at most ``limits.sparql_timeout_s`` and answers 503 (as Fuseki
does; no Retry-After, since the same query would time out again). Evaluation
stops itself at its next produced row (or 8 KB of output) past the deadline; one that never
produces a row (a COUNT over a huge cross product) runs to its end on one core. At most
``limits.sparql_max_concurrent`` evaluations (default: the CPU count) run at once, abandoned
ones included, so runaway queries cannot take more than that; beyond it the endpoint answers
503 with Retry-After while the rest of the node stays responsive. Bodies are buffered, so a
limit hit mid-way is still a clean problem, and ``limits.sparql_max_results`` bounds them (past
it: 400, "page with LIMIT/OFFSET"). A SERVICE call has no timeout of its own in pyoxigraph: a
hung peer holds its slot until the connection fails. The engine's parser and planner recurse on
the query's structure (a few thousand nested groups, or chained operators, overflow a thread's
stack and kill the process), so :func:`_scan` refuses queries nested deeper than
``limits.sparql_max_nesting`` (64) or longer than ``limits.sparql_max_tokens`` (4000) terms
outside VALUES, and evaluation threads get a 64 MB stack.
"""
from __future__ import annotations

import io
import os
import re
import threading
import time
from urllib.parse import urljoin

import pyoxigraph as ox
from flask import Blueprint, current_app, render_template, request
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF

from vocab.namespaces import PREFIXES, SD

from . import settings, store
from .entities import read_graphs, respond
from .formats import HTML, serialize
from .problems import Problem
from .store import QueryTimeout, ResultCapExceeded, iterate_with_limits

bp = Blueprint("sparql", __name__)
QRF = ox.QueryResultsFormat
SOLUTIONS = {"application/sparql-results+json": QRF.JSON, "application/sparql-results+xml": QRF.XML,
             "text/csv": QRF.CSV, "text/tab-separated-values": QRF.TSV,
             "application/json": QRF.JSON, "application/xml": QRF.XML, "text/xml": QRF.XML}
TRIPLES = {"text/turtle": ox.RdfFormat.TURTLE, "application/ld+json": ox.RdfFormat.JSON_LD,
           "application/n-triples": ox.RdfFormat.N_TRIPLES, "application/rdf+xml": ox.RdfFormat.RDF_XML,
           "application/x-turtle": ox.RdfFormat.TURTLE, "text/plain": ox.RdfFormat.N_TRIPLES,
           "application/xml": ox.RdfFormat.RDF_XML}
_SOL = {"json": "application/sparql-results+json", "xml": "application/sparql-results+xml",
        "csv": "text/csv", "tsv": "text/tab-separated-values"}
_RDF = {"ttl": "text/turtle", "turtle": "text/turtle", "n3": "text/turtle", "jsonld": "application/ld+json",
        "json-ld": "application/ld+json", "json": "application/ld+json", "nt": "application/n-triples",
        "rdf": "application/rdf+xml", "rdf+xml": "application/rdf+xml", "xml": "application/rdf+xml"}
DESCRIPTION_TYPES = ["text/turtle", "application/ld+json", "application/n-triples", "application/rdf+xml"]
PREFIX_MAP = {p: str(ns) for p, ns in PREFIXES.items()}
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
MAX_TOKENS, MAX_NESTING = 4000, 64  # defaults of limits.sparql_max_tokens / sparql_max_nesting
WORKER_STACK = 64 * 1024 * 1024  # evaluation threads: recursion in the engine stays far from the end
_STACK_LOCK = threading.Lock()
_GLUED = {"service", "silent", "from", "named", "prefix"}  # oxigraph reads SERVICE:x as SERVICE :x
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
READ_ONLY = ("this endpoint is read-only; it answers SPARQL queries (SELECT, ASK, CONSTRUCT, DESCRIBE). "
             "Change a node's data through its JSON API (/api/v1/…) or `s3fed node import`.")


def register(app) -> None:
    """Mount ``/sparql`` with open CORS for reads (so YASGUI and notebooks in a browser can query
    it, preflight included) and the evaluation slots shared by all of this app's requests."""
    from flask_cors import CORS
    app.register_blueprint(bp)
    CORS(app, resources={r"^/sparql/?$": {"origins": "*", "send_wildcard": True,
                                          "methods": ["GET", "POST", "OPTIONS"], "max_age": 86400}})
    n = int(app.config["S3FED"]["limits"].get("sparql_max_concurrent") or os.cpu_count() or 2)
    app.extensions["s3fed.sparql.slots"] = threading.BoundedSemaphore(n)


@bp.route("/sparql", methods=["GET", "POST"])
def endpoint():
    q = _query_text()
    if q is None:
        return description()
    word, services, from_default, from_named = _scan(q, settings()["node"]["base_url"] + "/sparql")
    if word in UPDATE_WORDS:
        raise Problem(403, "Read-only endpoint", READ_ONLY + f" (the request is a SPARQL update: {word.upper()})",
                      kind="sparql-read-only")
    _check_services(services)
    default, named = _dataset(from_default, from_named)
    sol_type, graph_type = _negotiate()
    if word in ("select", "ask") and sol_type is None or word in ("construct", "describe") and graph_type is None:
        raise _not_acceptable(SOLUTIONS if word in ("select", "ask") else TRIPLES)
    body, media_type = _run(q, default, named, sol_type, graph_type)
    return respond(body, media_type)


def _query_text() -> str | None:
    """The query per the SPARQL 1.1 Protocol (GET ?query=, POST form, POST sparql-query), or None."""
    mime = request.mimetype
    if "update" in request.values or mime == "application/sparql-update":
        raise Problem(403, "Read-only endpoint", READ_ONLY, kind="sparql-read-only")
    if request.method == "POST" and mime == "application/sparql-query":
        return request.get_data(as_text=True)
    if request.method == "POST" and mime not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise Problem(415, "Unsupported Media Type", "POST a query as application/sparql-query or as the "
                      "form field query= (application/x-www-form-urlencoded).")
    queries = request.values.getlist("query")
    if len(queries) > 1:
        raise Problem(400, "Bad Request", "send exactly one query parameter")
    return queries[0] if queries else None


def _negotiate() -> tuple[str | None, str | None]:
    """Media types for solutions and for graphs: ``?format=`` first, else Accept with q-values."""
    names = [n.strip() for f in request.values.getlist("format") for n in f.lower().split(",")]
    for name in names:  # SPARQLWrapper sends e.g. format=json-ld&format=application/ld+json
        sol, rdf = _SOL.get(name, name if name in SOLUTIONS else None), _RDF.get(name, name if name in TRIPLES else None)
        if sol or rdf:
            return sol, rdf
    if names:
        return None, None
    accept = request.accept_mimetypes
    if not accept:
        return next(iter(SOLUTIONS)), next(iter(TRIPLES))
    return accept.best_match(list(SOLUTIONS)), accept.best_match(list(TRIPLES))


def _scan(q: str, base: str) -> tuple[str, list[tuple[str, str | None]], list[str], list[str]]:
    """One regex pass over the query's tokens: its first keyword, its SERVICE targets (as written,
    and the IRI they spell when it is one) and its FROM / FROM NAMED graphs (resolved on ``base``).

    rdflib's parser is no help here: it fails on SERVICE after a PREFIX (its ServiceGraphPattern
    post-parse action re-searches the whole query text) and costs ≈100 ms a query."""
    toks = []
    limits = settings()["limits"]
    max_tokens = int(limits.get("sparql_max_tokens") or MAX_TOKENS)
    max_nesting = int(limits.get("sparql_max_nesting") or MAX_NESTING)
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
    """The engine's parser and planner recurse on the query's structure: past a few thousand levels
    or terms they exhaust the thread's stack and take the whole process down (a crash, not an
    error), and planning cost grows much faster than the query. So the size is bounded up front."""
    return Problem(400, "Query too complex", f"The query {what}, past this endpoint's limits "
                   "(limits.sparql_max_nesting, limits.sparql_max_tokens). Put long lists of values in a "
                   "VALUES block, or load the node's /dump locally for heavy analysis.", kind="sparql-too-complex")


def _check_services(services) -> None:
    """pyoxigraph would call any SERVICE IRI, even one bound to a variable at run time: only the
    configured peers' endpoints, named by absolute IRI, may pass (no SSRF)."""
    allowed = {p["url"] + "/sparql" for p in settings()["peers"]}
    for written, iri in services:
        if iri is None or not _ABSOLUTE.match(iri) or iri not in allowed:
            raise Problem(400, "SERVICE not allowed", f"SERVICE {written} is refused: this endpoint only "
                          "federates with its configured peers' SPARQL endpoints, named by absolute IRI ("
                          + (", ".join(f"<{a}>" for a in sorted(allowed)) or "none are configured") + ").",
                          kind="sparql-service")


def _dataset(from_default: list[str], from_named: list[str]) -> tuple[list[str], list[str]]:
    """Default and named graphs: protocol parameters win over FROM / FROM NAMED, which win over
    "every readable graph"; each graph named must be readable here."""
    readable = read_graphs()
    default = request.values.getlist("default-graph-uri")
    named = request.values.getlist("named-graph-uri")
    if not (default or named):
        default, named = from_default, from_named
    if not (default or named):
        return readable, readable
    for g in default + named:
        if g not in readable:
            raise Problem(400, "Unknown graph", f"<{g}> is not a graph this endpoint serves; its graphs are: "
                          + ", ".join(f"<{r}>" for r in readable), kind="sparql-graph")
    return default, named


class _Guard(io.BytesIO):
    """Output sink for native result serialisation that counts TSV lines (one per solution) and
    watches the deadline at every 8 KB chunk, so SELECT needs no Python loop over rows."""

    def __init__(self, deadline: float, cap: int):
        super().__init__()
        self.deadline, self.cap, self.lines = deadline, cap, 0

    def write(self, chunk) -> int:
        self.lines += bytes(chunk).count(b"\n")
        if self.lines - 1 > self.cap:
            raise ResultCapExceeded(f"the query returned more than {self.cap} results")
        if time.monotonic() > self.deadline:
            raise QueryTimeout("the query ran past its time budget")
        return super().write(chunk)


def _evaluate(st, q, default, named, sol_type, graph_type, deadline, cap, base_iri) -> tuple[bytes, str]:
    """Run and serialise natively. SELECT goes to TSV through :class:`_Guard` and is transcoded
    (lossless, ≈2 µs a row); pyoxigraph cannot build solutions from a Python iterator."""
    results = st.query(q, default_graph=default, named_graphs=named, base_iri=base_iri)
    if isinstance(results, (ox.QueryBoolean, ox.QuerySolutions)):
        if sol_type is None:
            raise _not_acceptable(SOLUTIONS)
        fmt = SOLUTIONS[sol_type]
        if isinstance(results, ox.QueryBoolean):
            return results.serialize(format=fmt), sol_type
        guard = _Guard(deadline, cap)
        results.serialize(guard, format=QRF.TSV)
        tsv = guard.getvalue()
        return (tsv if fmt == QRF.TSV else ox.parse_query_results(tsv, format=QRF.TSV).serialize(format=fmt)), sol_type
    if graph_type is None:
        raise _not_acceptable(TRIPLES)
    triples = iterate_with_limits(results, timeout_s=deadline - time.monotonic(), max_rows=cap)
    return ox.serialize(triples, format=TRIPLES[graph_type], prefixes=PREFIX_MAP), graph_type


def _not_acceptable(offered) -> Problem:
    return Problem(406, "Not Acceptable", "Results of this query are available as: " + ", ".join(offered)
                   + " (or ?format=json|xml|csv|tsv for SELECT/ASK, ttl|jsonld|nt|rdf for CONSTRUCT/DESCRIBE).")


def _run(q, default, named, sol_type, graph_type) -> tuple[bytes, str]:
    """Evaluate in a daemon thread, waiting at most the time budget (see the module docstring)."""
    limits = settings()["limits"]
    timeout, cap = float(limits["sparql_timeout_s"]), int(limits["sparql_max_results"])
    deadline = time.monotonic() + timeout
    slots = current_app.extensions["s3fed.sparql.slots"]
    if not slots.acquire(timeout=timeout):
        raise Problem(503, "SPARQL endpoint busy", "Too many queries are running on this node right now; "
                      "try again shortly.", kind="sparql-busy", headers={"Retry-After": str(max(1, round(timeout)))})
    job: dict = {}
    done = threading.Event()
    st, base_iri = store(), settings()["node"]["base_url"] + "/sparql"  # the worker has no app context

    def work():
        try:
            job["result"] = _evaluate(st, q, default, named, sol_type, graph_type, deadline, cap, base_iri)
        except Exception as e:  # noqa: BLE001 — handed to the request thread, which maps it
            job["error"] = e
        finally:
            slots.release()
            done.set()
    with _STACK_LOCK:  # the stack size applies to threads started while it is set
        previous = threading.stack_size(WORKER_STACK)
        try:
            threading.Thread(target=work, name="sparql-query", daemon=True).start()
        finally:
            threading.stack_size(previous)
    if not done.wait(max(0.0, deadline - time.monotonic())):
        current_app.logger.warning("SPARQL query abandoned after %gs: %.300s", timeout, q)
        raise _timeout(timeout)
    e = job.get("error")
    if e is None:
        return job["result"]
    if isinstance(e, Problem):
        raise e
    if isinstance(e, SyntaxError):
        raise Problem(400, "SPARQL syntax error", f"The query does not parse: {e} (line:column).",
                      kind="sparql-syntax") from None
    if isinstance(e, QueryTimeout):
        raise _timeout(timeout)
    if isinstance(e, ResultCapExceeded):
        raise Problem(400, "Too many results", f"{e}, the most this endpoint returns at once: page through "
                      "them with ORDER BY, LIMIT and OFFSET, or download the node's /dump.", kind="sparql-result-cap")
    if isinstance(e, (OSError, RuntimeError)) and re.search(r"service", q, re.IGNORECASE):
        raise Problem(502, "Federated query failed", f"A SERVICE call failed: {e}", kind="sparql-service")
    if isinstance(e, RuntimeError):
        raise Problem(400, "Query evaluation failed", str(e), kind="sparql-evaluation")
    raise e


def _timeout(timeout: float) -> Problem:
    return Problem(503, "Query timeout", f"The query ran longer than this endpoint's {timeout:g} s budget. "
                   "Narrow it (more specific patterns, LIMIT), or load the node's /dump locally for heavy "
                   "analysis.", kind="sparql-timeout")


# -- service description and query page --------------------------------------------------------

def description():
    """Service Description for machines (sd:, Turtle by default), the query page for browsers."""
    accept, fmt = request.accept_mimetypes, request.args.get("format", "").lower()
    media_type = accept.best_match([*DESCRIPTION_TYPES, HTML]) if accept else "text/turtle"
    if fmt:
        media_type = {**_RDF, "html": HTML}.get(fmt)
    if media_type == HTML:
        return respond(render_template("sparql.html", examples=EXAMPLES), HTML)
    if media_type is None:
        raise Problem(406, "Not Acceptable", "The service description is available as "
                      + ", ".join(DESCRIPTION_TYPES) + ", and a query page as text/html.")
    return respond(serialize(service_description(), media_type), media_type)


def service_description() -> Graph:
    base = settings()["node"]["base_url"]
    fmt = "http://www.w3.org/ns/formats/"
    g, sd = Graph(), URIRef(f"{base}/sparql")
    g.add((sd, RDF.type, SD.Service))
    g.add((sd, SD.endpoint, sd))
    g.add((sd, DCTERMS.title, Literal(f"SPARQL endpoint of {settings()['node']['name'] or base}", lang="en")))
    g.add((sd, SD.supportedLanguage, SD.SPARQL11Query))
    g.add((sd, SD.feature, SD.UnionDefaultGraph))
    if settings()["peers"]:
        g.add((sd, SD.feature, SD.BasicFederatedQuery))
    for name in ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                 "Turtle", "JSON-LD", "N-Triples", "RDF_XML"):
        g.add((sd, SD.resultFormat, URIRef(fmt + name)))
    dataset, default = BNode(), BNode()
    g.add((sd, SD.defaultDataset, dataset))
    g.add((dataset, RDF.type, SD.Dataset))
    g.add((dataset, SD.defaultGraph, default))
    g.add((default, RDF.type, SD.Graph))
    for name in read_graphs():
        ng = BNode()
        g.add((dataset, SD.namedGraph, ng))
        g.add((ng, RDF.type, SD.NamedGraph))
        g.add((ng, SD.name, URIRef(name)))
    return g


_P = """PREFIX s3: <https://w3id.org/s3fed/vocab#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""
#: (title, query) pairs shown on the query page; tests run each one on the sample node.
EXAMPLES = [
    ("Priority domains per region", _P + """SELECT ?region ?regionLabel ?domain ?label WHERE {
  ?domain a s3:PriorityDomain ; s3:strategy/s3:region ?region ; skos:prefLabel ?label .
  ?region skos:prefLabel ?regionLabel .
  FILTER(lang(?label) = "en" && lang(?regionLabel) = "en")
} ORDER BY ?region ?label"""),
    ("Clusters contributing to each priority domain", _P + """SELECT ?domainLabel ?cluster ?clusterLabel WHERE {
  ?cluster a s3:Cluster ; s3:contributesTo ?domain ; skos:prefLabel ?clusterLabel .
  ?domain skos:prefLabel ?domainLabel FILTER(lang(?domainLabel) = "en")
} ORDER BY ?domainLabel ?clusterLabel"""),
    ("Cluster members by actor role", _P + """SELECT ?role (COUNT(DISTINCT ?actor) AS ?members)
       (GROUP_CONCAT(DISTINCT ?actorLabel; separator=", ") AS ?who) WHERE {
  ?m a org:Membership ; org:organization ?cluster ; org:member ?actor ; org:role ?role .
  ?cluster a s3:Cluster . ?actor skos:prefLabel ?actorLabel .
} GROUP BY ?role ORDER BY DESC(?members)"""),
    ("Domains and clusters sharing a NACE activity (through skos:broader), with their regions", _P + """
SELECT ?nace ?a ?aRegion ?b ?bRegion WHERE {
  ?a s3:naceActivity/skos:broader* ?nace ; (s3:strategy/s3:region)|s3:region ?aRegion .
  ?b s3:naceActivity/skos:broader* ?nace ; (s3:strategy/s3:region)|s3:region ?bRegion .
  FILTER(STR(?a) < STR(?b))   # add FILTER(?aRegion != ?bRegion) on a hub for cross-region pairs
} ORDER BY ?nace"""),
    ("Collaborations between clusters", _P + """SELECT ?collaboration ?label ?type
       (GROUP_CONCAT(?partnerLabel; separator=" + ") AS ?partners) WHERE {
  ?collaboration a s3:Collaboration ; skos:prefLabel ?label ; s3:partner ?partner .
  OPTIONAL { ?collaboration s3:collaborationType ?type }
  ?partner skos:prefLabel ?partnerLabel .
} GROUP BY ?collaboration ?label ?type"""),
    ("Good-governance criterion assessments of each strategy", _P + """SELECT ?strategy ?criterion ?fulfilment ?evidence WHERE {
  ?a a s3:CriterionAssessment ; s3:strategy ?strategy ; s3:criterion ?criterion .
  OPTIONAL { ?a s3:fulfilment ?fulfilment } OPTIONAL { ?a s3:evidence ?evidence }
} ORDER BY ?strategy ?criterion"""),
    ("Working groups: domain, co-animators and size", _P + """SELECT ?group ?label ?domain ?coAnimator ?members WHERE {
  ?group a s3:WorkingGroup ; skos:prefLabel ?label .
  OPTIONAL { ?group s3:domain ?domain } OPTIONAL { ?group s3:coAnimator ?coAnimator }
  OPTIONAL { ?group s3:memberCount ?members }
}"""),
    ("How many entities of each kind", """SELECT ?type (COUNT(?s) AS ?n) WHERE {
  ?s a ?type FILTER(STRSTARTS(STR(?type), "https://w3id.org/s3fed/vocab#") || ?type = <http://www.w3.org/ns/org#Membership>)
} GROUP BY ?type ORDER BY DESC(?n)"""),
]
