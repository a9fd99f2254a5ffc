"""The node's read-only SPARQL 1.1 endpoint, ``/sparql`` (Protocol, Service Description, CORS).

Dataset: the default graph is the union of :func:`node.entities.read_graphs` (data, vocabulary,
and on a hub the harvested peers and the index); the named graphs are the same list. Both are
always passed to the engine explicitly (it lets them override FROM): ``GRAPH`` on the feed or
sync graph sees nothing, and ``default-graph-uri``/``named-graph-uri``/``FROM`` may only narrow
the dataset to readable graphs (anything else is a 400).

Before evaluation, :mod:`node.sparql_scan` reads the query's tokens: updates are refused (403),
queries too deep or too long for the engine's recursive parser are refused (400), and
``SERVICE`` may only name the configured peers' endpoints (pyoxigraph would fetch any URL:
SSRF). Those checks run here, in the node, whatever evaluates the query afterwards.

Evaluation (``limits.sparql_isolation``): pyoxigraph cannot cancel a query, so on the embedded
store each query runs in a worker process (:mod:`node.sparql_pool`, ``"process"``, the default)
that is killed at ``limits.sparql_timeout_s``: the request answers 503 (as Fuseki does; no
Retry-After, since the same query would time out again) and the core is free at once. At most
``limits.sparql_max_concurrent`` queries (default: the CPU count) are evaluated at once;
beyond that a request waits for a free worker until its deadline, then answers 503 with
Retry-After, while the rest of the node stays responsive. ``"thread"`` (and every external
store, where the query runs in the SPARQL server) evaluates in the node's threads instead, see
:mod:`node.sparql_threads` for what that cannot bound. Either way answers are serialised
natively and buffered, so a limit hit mid-way is still a clean problem:
``limits.sparql_max_results`` bounds them (past it: 400, "page with LIMIT/OFFSET"), and so
does :data:`node.sparql_worker.MAX_OUTPUT_BYTES`. A SERVICE call has no timeout of its own in
pyoxigraph: a hung peer holds its worker until the deadline kills it.

Queries the node runs itself (pages, index, study, API) do not come here: they use the store
directly, in-process.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pyoxigraph as ox
from flask import Blueprint, current_app, render_template, request

from vocab.namespaces import PREFIXES

from . import settings
from .config import ConfigError
from .entities import read_graphs, respond
from .formats import HTML, serialize
from .problems import Problem
from .sparql_description import EXAMPLES, service_description
from .sparql_pool import Busy, Crashed, Pool, Timeout
from .sparql_scan import MAX_NESTING, MAX_TOKENS, UPDATE_WORDS, check_services, scan
from .sparql_threads import Threads
from .sparql_worker import MAX_OUTPUT_BYTES

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
READ_ONLY = ("this endpoint is read-only; it answers SPARQL queries (SELECT, ASK, CONSTRUCT, DESCRIBE). "
             "Change a node's data through its JSON API (/api/v1/…) or `s3fed node import`.")
RUNNER = "s3fed.sparql.runner"
__all__ = ["bp", "register", "close", "EXAMPLES", "service_description"]


def register(app) -> None:
    """Mount ``/sparql`` with open CORS for reads (so YASGUI and notebooks in a browser can query
    it, preflight included), and its evaluator: the worker pool, or thread slots.

    The pool's processes start with the app's first query, not with the app: a process that
    makes apps it does not serve SPARQL from (command lines, tests, a benchmark that serves a
    whole federation in one process) must not get workers for each. Under gunicorn,
    ``preload_app`` stays off (the store already requires it), so they are the worker's children."""
    from flask_cors import CORS
    app.register_blueprint(bp)
    CORS(app, resources={r"^/sparql/?$": {"origins": "*", "send_wildcard": True,
                                          "methods": ["GET", "POST", "OPTIONS"], "max_age": 86400}})
    cfg = app.config["S3FED"]
    size = int(cfg["limits"].get("sparql_max_concurrent") or os.cpu_count() or 2)
    isolation = cfg["limits"].get("sparql_isolation") or "process"
    if isolation not in ("process", "thread"):
        raise ConfigError(f'limits.sparql_isolation must be "process" or "thread", got {isolation!r}')
    st = app.extensions["s3fed.store"]
    if isolation == "process" and getattr(st, "path", None) is not None and hasattr(st, "checkpoint"):
        runner = Pool(st, size, Path(cfg["node"]["data_dir"]) / "sparql-checkpoints", app.extensions["s3fed.graphs"])
    else:  # external store: the query runs in the SPARQL server; in-memory store: nothing to checkpoint
        runner = Threads(st, size)
    app.extensions[RUNNER] = runner


def close(app) -> None:
    """Stop the app's SPARQL worker processes (they also stop at exit, and with the process)."""
    app.extensions[RUNNER].close()


@bp.route("/sparql", methods=["GET", "POST"])
def endpoint():
    q = _query_text()
    if q is None:
        return description()
    limits = settings()["limits"]
    word, services, from_default, from_named = scan(
        q, settings()["node"]["base_url"] + "/sparql", int(limits.get("sparql_max_tokens") or MAX_TOKENS),
        int(limits.get("sparql_max_nesting") or MAX_NESTING))
    if word in UPDATE_WORDS:
        raise Problem(403, "Read-only endpoint", READ_ONLY + f" (the request is a SPARQL update: {word.upper()})",
                      kind="sparql-read-only")
    check_services(services, {p["url"] + "/sparql" for p in settings()["peers"]})
    default, named, everything = _dataset(from_default, from_named)
    sol_type, graph_type = _negotiate()
    if word in ("select", "ask") and sol_type is None or word in ("construct", "describe") and graph_type is None:
        raise _not_acceptable(SOLUTIONS if word in ("select", "ask") else TRIPLES)
    body, media_type = _run(q, default, named, sol_type, graph_type, everything)
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
        sol = _SOL.get(name, name if name in SOLUTIONS else None)
        rdf = _RDF.get(name, name if name in TRIPLES else None)
        if sol or rdf:
            return sol, rdf
    if names:
        return None, None
    accept = request.accept_mimetypes
    if not accept:
        return next(iter(SOLUTIONS)), next(iter(TRIPLES))
    return accept.best_match(list(SOLUTIONS)), accept.best_match(list(TRIPLES))


def _dataset(from_default: list[str], from_named: list[str]) -> tuple[list[str], list[str], bool]:
    """Default and named graphs: protocol parameters win over FROM / FROM NAMED, which win over
    "every readable graph"; each graph named must be readable here. And whether the dataset is
    every readable graph (a worker may then use the union of a public checkpoint's graphs)."""
    readable = read_graphs()
    default = request.values.getlist("default-graph-uri")
    named = request.values.getlist("named-graph-uri")
    if not (default or named):
        default, named = from_default, from_named
    if not (default or named):
        return readable, readable, True
    for g in default + named:
        if g not in readable:
            raise Problem(400, "Unknown graph", f"<{g}> is not a graph this endpoint serves; its graphs are: "
                          + ", ".join(f"<{r}>" for r in readable), kind="sparql-graph")
    return default, named, False


def _not_acceptable(offered) -> Problem:
    return Problem(406, "Not Acceptable", "Results of this query are available as: " + ", ".join(offered)
                   + " (or ?format=json|xml|csv|tsv for SELECT/ASK, ttl|jsonld|nt|rdf for CONSTRUCT/DESCRIBE).")


def _run(q, default, named, sol_type, graph_type, everything: bool = False) -> tuple[bytes, str]:
    """Evaluate within the time budget, which starts now (waiting for a free evaluator counts)."""
    limits = settings()["limits"]
    timeout = float(limits["sparql_timeout_s"])
    deadline = time.monotonic() + timeout
    job = {"query": q, "default_graph": default, "named_graphs": named, "all_graphs": everything,
           "max_results": int(limits["sparql_max_results"]), "max_bytes": MAX_OUTPUT_BYTES,
           "base_iri": settings()["node"]["base_url"] + "/sparql",
           "solutions": SOLUTIONS[sol_type].media_type if sol_type else None,
           "graph": TRIPLES[graph_type].media_type if graph_type else None, "prefixes": PREFIX_MAP}
    try:
        header, body = current_app.extensions[RUNNER].run(job, deadline)
    except Busy:
        raise Problem(503, "SPARQL endpoint busy", "Too many queries are running on this node right now; "
                      "try again shortly.", kind="sparql-busy",
                      headers={"Retry-After": str(max(1, round(timeout)))}) from None
    except Timeout:
        current_app.logger.warning("SPARQL query stopped after %gs: %.300s", timeout, q)
        raise _timeout(timeout) from None
    except Crashed as e:
        current_app.logger.error("SPARQL worker died evaluating (%s): %.300s", e, q)
        raise Problem(500, "Query evaluation failed", "The process evaluating this query died (the engine "
                      "crashed, or ran out of memory); the node itself is fine. Simplify the query, or load "
                      "the node's /dump locally for heavy analysis.", kind="sparql-evaluation") from None
    if body is not None:
        return body, sol_type if header["ok"] == "solutions" else graph_type
    raise _problem(header, q, timeout)


def _problem(header: dict, q: str, timeout: float) -> Problem:
    """The problem an evaluation error (:func:`node.sparql_worker.describe`) answers with."""
    kind, message = header["error"], header["message"]
    if kind == "not-acceptable":
        return _not_acceptable(SOLUTIONS if message == "solutions" else TRIPLES)
    if kind == "syntax":
        return Problem(400, "SPARQL syntax error", f"The query does not parse: {message} (line:column).",
                       kind="sparql-syntax")
    if kind == "timeout":
        return _timeout(timeout)
    if kind in ("result-cap", "too-large"):
        return Problem(400, "Too many results", f"{message}, the most this endpoint returns at once: page through "
                       "them with ORDER BY, LIMIT and OFFSET, or download the node's /dump.", kind="sparql-result-cap")
    if kind in ("os", "runtime") and "service" in q.lower():
        return Problem(502, "Federated query failed", f"A SERVICE call failed: {message}", kind="sparql-service")
    if kind == "runtime":
        return Problem(400, "Query evaluation failed", message, kind="sparql-evaluation")
    current_app.logger.error("SPARQL evaluation failed: %s", message)
    return Problem(500, "Internal Server Error", "The node failed to answer this request; the error is in its log.")


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
