"""The scale-out store: the :class:`node.store.Store` interface over an external SPARQL 1.1 server.

Why: one machine's embedded store is opened by one process. A partner with a large registry
(or a federation hub) puts Oxigraph's server, Fuseki, GraphDB or Virtuoso behind the node
instead, and can then serve it with several gunicorn workers. Only the standard protocols are
used — SPARQL 1.1 Query (``default-graph-uri`` / ``named-graph-uri``), Update, and the Graph
Store Protocol (optional: without ``store_url`` loads become ``INSERT DATA`` and reads become
``CONSTRUCT``) — so any conforming server works; ``oxigraph serve`` is the one the tests run.

Results are real pyoxigraph objects (``parse_query_results``), so the rest of the node cannot
tell the stores apart; CONSTRUCT/DESCRIBE answers come back as :class:`RemoteTriples`, an
iterable of ``Triple`` with ``QueryTriples``' ``serialize`` (pyoxigraph cannot build the latter).
Errors are mapped to what the embedded engine raises: a refused request (400) is a
``SyntaxError``, an evaluation failure (500, or an answer that broke off mid-stream) a
``RuntimeError``, and anything about reaching the server an ``OSError`` whose message names it.

Atomicity: every write here is ONE request (an update, or one Graph Store POST), which the
server applies as one transaction. Read-then-write sequences (the change feed's sequence number,
see node/changes.py) also need mutual exclusion among writers: ``write_lock`` is re-entrant
across threads *and* takes an advisory file lock (``store.lock_file``), so gunicorn workers and
``s3fed node import`` on the same host take turns. Writers on several hosts against one server
are not supported: run the writing node on one host (reads scale anywhere).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlencode

import pyoxigraph as ox
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

try:
    import fcntl
except ImportError:  # not POSIX: in-process locking only
    fcntl = None

QRF = ox.QueryResultsFormat
SOLUTION_TYPES = {"application/sparql-results+json": QRF.JSON, "application/json": QRF.JSON,
                  "application/sparql-results+xml": QRF.XML, "application/xml": QRF.XML,
                  "text/tab-separated-values": QRF.TSV}
GRAPH_TYPES = {"application/n-triples": ox.RdfFormat.N_TRIPLES, "text/plain": ox.RdfFormat.N_TRIPLES,
               "text/turtle": ox.RdfFormat.TURTLE, "application/rdf+xml": ox.RdfFormat.RDF_XML,
               "application/ld+json": ox.RdfFormat.JSON_LD}
# SPARQL results: JSON by default (unambiguous on every server); `results = "tsv"` asks for TSV
# first — a third of the bytes and half the parsing, lossless on Oxigraph and Fuseki.
ACCEPT = {"json": "application/sparql-results+json, text/tab-separated-values;q=0.9",
          "tsv": "text/tab-separated-values, application/sparql-results+json;q=0.9"}
ACCEPT_GRAPH = "application/n-triples;q=0.9, text/turtle;q=0.8"
NO_GRAPH = "urn:x-s3fed:no-graph"  # names an empty default graph / no named graphs in the protocol
MAX_GET_URL = 4000  # longer queries (a hub's many graphs) go by POST


class RemoteTriples:
    """CONSTRUCT / DESCRIBE results: triples, iterable like ``QueryTriples``, same ``serialize``."""

    def __init__(self, triples: list[ox.Triple]):
        self._triples = triples

    def __iter__(self):
        return iter(self._triples)

    def __len__(self) -> int:
        return len(self._triples)

    def serialize(self, output=None, format: ox.RdfFormat | None = None):
        return ox.serialize(self._triples, output, format=format)


class HostLock:
    """A re-entrant lock shared by the threads of a process and, through ``flock`` on a file,
    by the processes of a host. The file is opened per process (after a fork too), because
    flock locks belong to an open file and a shared one would not exclude anyone."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._rlock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0

    def acquire(self) -> bool:
        self._rlock.acquire()
        if self._depth == 0 and fcntl is not None:
            try:
                if self._pid != os.getpid():
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._fd, self._pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
                fcntl.flock(self._fd, fcntl.LOCK_EX)  # waits (without the GIL) for other processes
            except BaseException:
                self._rlock.release()
                raise
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and fcntl is not None and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._rlock.release()

    __enter__ = acquire

    def __exit__(self, *exc) -> None:
        self.release()

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd, self._pid = None, 0


class RemoteStore:
    """A store on an external SPARQL 1.1 server, configured by the ``[store]`` table:
    ``query_url``, ``update_url``, optional ``store_url`` (Graph Store Protocol), ``timeout_s``
    (per request, default 60), ``lock_file`` (default: one per server in the temp folder),
    ``results`` ("json" or "tsv", see :data:`ACCEPT`)."""

    def __init__(self, config: dict):
        from .config import ConfigError
        self.query_url = str(config.get("query_url") or "")
        self.update_url = str(config.get("update_url") or "")
        self.store_url = str(config.get("store_url") or "")
        if not (self.query_url and self.update_url):
            raise ConfigError('store.kind = "sparql" needs store.query_url and store.update_url (for '
                              "oxigraph serve: http://HOST:7878/query and http://HOST:7878/update)")
        self.path = None
        self.timeout = (5.0, float(config.get("timeout_s") or 60.0))  # (connect, read)
        self._accept = ACCEPT.get(str(config.get("results") or "json"))
        if self._accept is None:
            raise ConfigError(f'store.results must be "json" or "tsv", got {config["results"]!r}')
        self._accept += ", " + ACCEPT_GRAPH
        lock = config.get("lock_file") or Path(tempfile.gettempdir()) / (
            "s3fed-store-" + hashlib.sha256(self.update_url.encode()).hexdigest()[:16] + ".lock")
        self.write_lock = HostLock(lock)
        self._session = requests.Session()
        # Retried: connect errors (nothing was sent yet) and, for GETs only, gateway answers. Never
        # a read timeout: it would run a slow query again. A POST is never sent twice.
        retry = Retry(total=3, connect=2, read=False, status=2, backoff_factor=0.1, raise_on_status=False,
                      status_forcelist=(502, 503, 504), allowed_methods=frozenset({"GET", "HEAD"}))
        self._session.mount("http://", HTTPAdapter(max_retries=retry, pool_maxsize=32))
        self._session.mount("https://", HTTPAdapter(max_retries=retry, pool_maxsize=32))

    # -- HTTP ----------------------------------------------------------------------------------
    def _request(self, method: str, url: str, *, ok=(200, 201, 204), **kw) -> requests.Response:
        try:
            r = self._session.request(method, url, timeout=self.timeout, **kw)
        except requests.ReadTimeout as e:
            raise TimeoutError(f"SPARQL server at {url} did not answer within {self.timeout[1]:g} s "
                               "(store.timeout_s)") from e
        except requests.RequestException as e:
            inner = getattr(e.args[0] if e.args else e, "reason", e)
            raise OSError(f"SPARQL server at {url} unreachable: {inner.args[-1] if inner.args else inner}") from e
        if r.status_code in ok:
            return r
        detail = r.text.strip()[:2000] or r.reason
        if r.status_code == 400:
            raise SyntaxError(detail)
        if r.status_code == 500:
            raise RuntimeError(detail)
        raise OSError(f"SPARQL server at {url} answered {r.status_code}: {detail}")

    # -- reads -----------------------------------------------------------------------------------
    def query(self, sparql: str, *, default_graph: list[str] | None = None,
              named_graphs: list[str] | None = None, union: bool = False, base_iri: str | None = None):
        """Run a query; the dataset semantics are the embedded store's, said in protocol terms.

        ``union`` lists every named graph as ``default-graph-uri`` (the standard way, no vendor
        flag). When only one of the lists is given, the other gets the embedded meaning: all
        named graphs, or an empty default graph (s3fed keeps nothing in the real default graph).
        """
        if union:
            every = self.named_graphs()
            default_graph, named_graphs = every, every if named_graphs is None else named_graphs
        if default_graph is not None or named_graphs is not None:
            if named_graphs is None:
                named_graphs = self.named_graphs()
            default_graph = default_graph or [NO_GRAPH]
            named_graphs = named_graphs or [NO_GRAPH]
        if base_iri:  # the protocol has no base parameter; the same line keeps error positions
            sparql = f"BASE <{base_iri}> {sparql}"
        params = [("query", sparql)] + [("default-graph-uri", g) for g in default_graph or ()] + \
                 [("named-graph-uri", g) for g in named_graphs or ()]
        headers = {"Accept": self._accept}
        if len(self.query_url) + len(urlencode(params)) < MAX_GET_URL:
            r = self._request("GET", self.query_url, params=params, headers=headers)
        else:
            r = self._request("POST", self.query_url, data=params, headers=headers)
        media_type = r.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type in SOLUTION_TYPES:
            return _solutions(r.content, SOLUTION_TYPES[media_type])
        if media_type in GRAPH_TYPES:
            return RemoteTriples(_triples(r.content, GRAPH_TYPES[media_type]))
        raise OSError(f"SPARQL server at {self.query_url} answered with {media_type or 'no media type'}, "
                      "not SPARQL results or RDF")

    def count(self, graph: str | None = None) -> int:
        where = f"GRAPH <{graph}> {{ ?s ?p ?o }}" if graph else "GRAPH ?g { ?s ?p ?o }"
        return int(next(iter(self.query(f"SELECT (COUNT(*) AS ?n) {{ {where} }}")))["n"].value)

    def named_graphs(self) -> list[str]:
        return [r["g"].value for r in self.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { } }")]

    def _graph(self, graph: str | None) -> list[ox.Triple]:
        """One graph's triples (None: the default graph), by Graph Store GET or CONSTRUCT."""
        if self.store_url:
            params = {"graph": graph} if graph else {"default": ""}
            r = self._request("GET", self.store_url, params=params, ok=(200, 404),
                              headers={"Accept": "application/n-triples, text/turtle;q=0.9"})
            if r.status_code == 404:  # the graph does not exist: empty, as for the embedded store
                return []
            media_type = r.headers.get("Content-Type", "").split(";")[0].strip().lower()
            return _triples(r.content, GRAPH_TYPES.get(media_type, ox.RdfFormat.N_TRIPLES))
        where = f"GRAPH <{graph}> {{ ?s ?p ?o }}" if graph else "?s ?p ?o"
        return list(self.query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ {where} }}"))

    def dump(self, fmt: ox.RdfFormat, graph: str | None = None) -> bytes:
        """One graph (triple formats, or quads labelled with the graph), or the whole dataset
        (quad formats: the default graph, then each named graph in turn)."""
        if graph is not None:
            triples = self._graph(graph)
            if not fmt.supports_datasets:
                return ox.serialize(triples, format=fmt)
            g = ox.NamedNode(graph)
            return ox.serialize([ox.Quad(t.subject, t.predicate, t.object, g) for t in triples], format=fmt)
        if not fmt.supports_datasets:
            raise ValueError(f"A RDF format supporting datasets was expected, {fmt.name} found")
        quads = [ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in self._graph(None)]
        for name in self.named_graphs():
            g = ox.NamedNode(name)
            quads += [ox.Quad(t.subject, t.predicate, t.object, g) for t in self._graph(name)]
        return ox.serialize(quads, format=fmt)

    # -- writes ----------------------------------------------------------------------------------
    def update(self, sparql: str) -> None:
        """Apply a SPARQL update: one request, one transaction on the server."""
        with self.write_lock:
            self._request("POST", self.update_url, data=sparql.encode("utf-8"),
                          headers={"Content-Type": "application/sparql-update; charset=utf-8"})

    def load(self, data: bytes, fmt: ox.RdfFormat, graph: str, base_iri: str | None = None) -> None:
        """Load into ``graph`` in one request. Parsed here first (native parser), so syntax
        errors and relative IRIs behave as in the embedded store whatever the server."""
        triples = [q.triple for q in ox.parse(data, format=fmt, base_iri=base_iri)]
        nt = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) if triples else b""
        with self.write_lock:
            if self.store_url:
                self._request("POST", self.store_url, params={"graph": graph}, data=nt,
                              headers={"Content-Type": "application/n-triples"})
            else:
                self.update(f"INSERT DATA {{ GRAPH <{graph}> {{\n{nt.decode('utf-8')}\n}} }}")

    def load_new_graph(self, graph: str, chunks: Iterable[bytes], fmt: ox.RdfFormat, *,
                       lenient: bool = False) -> None:
        """Fill a graph nobody reads yet, a request per chunk (see
        :meth:`node.store.Store.load_new_graph`)."""
        for chunk in chunks:
            self.load(chunk, fmt, graph)

    def drop_unread_graph(self, graph: str) -> None:
        """Drop a graph nobody reads (see :meth:`node.store.Store.drop_unread_graph`)."""
        self._request("POST", self.update_url, data=f"DROP SILENT GRAPH <{graph}>".encode(),
                      headers={"Content-Type": "application/sparql-update; charset=utf-8"})

    def replace_graph(self, graph: str, quads_nt: bytes) -> None:
        """Atomically replace a whole graph with N-Triples (one update: a Graph Store PUT is
        not guaranteed to be one transaction)."""
        self.update(f"DROP SILENT GRAPH <{graph}> ;\nINSERT DATA {{ GRAPH <{graph}> {{\n"
                    + quads_nt.decode("utf-8") + "\n} }")

    def flush(self) -> None:
        """Nothing to do: the server persists each write before answering."""

    def close(self) -> None:
        self._session.close()
        self.write_lock.close()


def _solutions(body: bytes, fmt: ox.QueryResultsFormat):
    """Parsed results. A server that fails mid-stream has already sent 200 and appends its
    error to a cut document, so the body is checked whole once (≈1 µs a row) before use."""
    try:
        results = ox.parse_query_results(body, format=fmt)
        if isinstance(results, ox.QuerySolutions):
            for _ in results:
                pass
            results = ox.parse_query_results(body, format=fmt)
        return results
    except SyntaxError as e:
        raise RuntimeError(f"the SPARQL server's answer broke off ({e}): "
                           f"{body[-300:].decode('utf-8', 'replace')}") from None


def _triples(body: bytes, fmt: ox.RdfFormat) -> list[ox.Triple]:
    try:
        return [q.triple for q in ox.parse(body, format=fmt)]
    except SyntaxError as e:
        raise RuntimeError(f"the SPARQL server's answer broke off ({e}): "
                           f"{body[-300:].decode('utf-8', 'replace')}") from None
