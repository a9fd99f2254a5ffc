"""Hostile input from the public internet: each case gets a clear 4xx problem document and leaves
the store exactly as it was, and nothing a node is sent makes it fetch anything.

Table-driven, one row per attack (``CASES``). Each row runs against a real node: the module's
shared node (sample data, a write token), or ``tight``, a node with a 4 KB body limit and a
half-second SPARQL budget. Before and after each request the test takes the node's ``/dump``
(N-Quads) and its feed position (``X-S3fed-Sequence``): they must be byte-for-byte the same. A
loopback "evil" server stands in for every URL an attacker would want the node to fetch (remote
JSON-LD contexts, XML external entities, SPARQL LOAD and SERVICE): it must see no request.

test_importer.py (CLI files), test_api.py (tokens, 413 on import, array nesting, 415) and
test_sparql.py (updates, SERVICE spellings, time and result caps) cover neighbouring cases; the
rows here are the ones they do not, through the HTTP doors a stranger can reach.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from conftest import make_node, writable_sample_node

HOSTILE = Path(__file__).parent / "data" / "hostile"
P = ("@prefix s3: <https://w3id.org/s3fed/vocab#> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> . "
     "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix foaf: <http://xmlns.com/foaf/0.1/> .\n")
ERDF = "https://w3id.org/s3fed/concept/funding-instrument/erdf"


class Evil:
    """A loopback server that answers anything (a JSON-LD context, a DTD…) and remembers it was asked."""

    def __init__(self):
        seen = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                seen.append(self.path)
                body = b'{"@context": {"name": "http://xmlns.com/foaf/0.1/name"}}'
                self.send_response(200)
                self.send_header("Content-Type", "application/ld+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def evil():
    e = Evil()
    yield e
    e.server.shutdown()


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    with writable_sample_node(tmp_path_factory.mktemp("hostile")) as n:
        yield n


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    """Small limits: 4 KB bodies, half a second of SPARQL, 100 triples an import."""
    n = make_node(tmp_path_factory.mktemp("tight"), "ITC4", "Lombardia")
    n.env = {"S3FED_LIMITS_MAX_BODY_BYTES": "4096", "S3FED_LIMITS_SPARQL_TIMEOUT_S": "0.5",
             "S3FED_LIMITS_MAX_IMPORT_TRIPLES": "100"}
    n.auth = {"Authorization": f"Bearer {n.token()}"}
    n.start()
    yield n
    n.stop()


def state(n) -> tuple[bytes, str]:
    """Everything the node publishes, and its feed position (a refused write adds no member)."""
    r = n.get("/dump", headers={"Accept": "application/n-quads"})
    assert r.status_code == 200, r.text
    return r.content, r.headers["X-S3fed-Sequence"]


@dataclass
class Case:
    id: str
    method: str
    path: str
    status: int
    words: tuple[str, ...] = ()   # each must occur (any case) in the problem's detail or errors
    data: object = None           # bytes, str (BASE and EVIL replaced), a file in data/hostile, or a callable
    json: object = None
    ct: str | None = None         # Content-Type
    auth: bool = True
    headers: dict = field(default_factory=dict)
    target: str = "node"          # or "tight"


def body_of(c: Case, n, evil) -> bytes | None:
    data = c.data
    if callable(data):
        data = data(n.base)
    if isinstance(data, Path):
        data = data.read_bytes()
    if isinstance(data, str):
        data = data.encode("utf-8")
    if isinstance(data, bytes):
        return data.replace(b"BASE", n.base.encode()).replace(b"EVIL", evil.base.encode())
    return data


def send(n, c: Case, evil) -> requests.Response:
    headers = {**(n.auth if c.auth else {}), **c.headers}
    if c.ct is not None:
        headers["Content-Type"] = c.ct
    payload = c.json(n.base) if callable(c.json) else c.json
    return requests.request(c.method, n.base + c.path, data=body_of(c, n, evil), json=payload,
                            headers=headers, timeout=60)


def ttl(text: str) -> str:
    return P + text


def actor(slug: str, label: str = '"x"@en', extra: str = "") -> str:
    return ttl(f"<BASE/id/actor/{slug}> a s3:Actor ; skos:prefLabel {label} {extra}.")


def funding(amount: str) -> str:
    return ttl(f"<BASE/id/funding/f> a s3:Funding ; s3:instrument <{ERDF}> ; s3:amount {amount} .")


def nested_xml(n: int) -> str:
    return ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:e="urn:e#">'
            + '<rdf:Description rdf:about="BASE/id/actor/deep"><e:p>' * n
            + "</e:p></rdf:Description>" * n + "</rdf:RDF>")


def cluster(**extra):
    return lambda base: {"label": {"fr": "Pôle"}, "region": f"{base}/id/region/FRJ", **extra}


IMPORT = "/api/v1/import"
TURTLE, NT, JSONLD, RDFXML, CSV, JSON = ("text/turtle", "application/n-triples", "application/ld+json",
                                         "application/rdf+xml", "text/csv", "application/json")
SPARQL_FORM = "application/x-www-form-urlencoded"


def q(query: str) -> bytes:
    from urllib.parse import urlencode
    return urlencode({"query": query}).encode()


CASES = [
    # -- syntax errors, each format, through the API --------------------------------------------
    Case("turtle-syntax", "POST", IMPORT, 422, ("not valid text/turtle", "line"),
         data=actor("a") + "\n<BASE/id/actor/b> a s3:Actor ; skos:prefLabel \"unterminated .\n", ct=TURTLE),
    Case("ntriples-syntax", "POST", IMPORT, 422, ("not valid application/n-triples",),
         data='<BASE/id/actor/a> <http://www.w3.org/2004/02/skos/core#prefLabel> "x"@en\n', ct=NT),
    Case("ntriples-relative-iri", "POST", IMPORT, 422, ("not valid application/n-triples",),
         data='<id/actor/a> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/s3fed/vocab#Actor> .\n',
         ct=NT),
    Case("jsonld-syntax", "POST", IMPORT, 422, ("invalid json",), data='{"@id": "BASE/id/actor/a", ', ct=JSONLD),
    Case("jsonld-not-jsonld", "POST", IMPORT, 422, ("not valid application/ld+json",),
         data='{"@context": 42, "@id": "BASE/id/actor/a"}', ct=JSONLD),
    Case("rdfxml-syntax", "POST", IMPORT, 422, ("not valid application/rdf+xml",),
         data='<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description', ct=RDFXML),
    Case("trig-named-graph", "POST", IMPORT, 422, ("named graphs are not imported",),
         data="<BASE/g> { <BASE/id/actor/a> a <https://w3id.org/s3fed/vocab#Actor> }", ct="application/trig"),
    # -- shapes and identity ------------------------------------------------------------------
    Case("shacl-cluster-without-region", "POST", IMPORT, 422, ("/id/cluster/lonely", "region"),
         data=ttl('<BASE/id/cluster/lonely> a s3:Cluster ; skos:prefLabel "Lonely"@fr .'), ct=TURTLE),
    Case("shacl-good-and-bad-together", "POST", IMPORT, 422, ("/id/funding/no-instrument",),
         data=actor("fine") + ttl('<BASE/id/funding/no-instrument> a s3:Funding ; s3:amount 10.0 .'), ct=TURTLE),
    Case("other-nodes-subject", "POST", IMPORT, 422, ("https://evil.example/id/cluster/x",),
         data=ttl('<https://evil.example/id/cluster/x> a s3:Cluster ; skos:prefLabel "x"@fr ; '
                  's3:region <BASE/id/region/FRJ> .'), ct=TURTLE),
    Case("blank-node-subject", "POST", IMPORT, 422, ("blank nodes",),
         data=ttl('[] a s3:Actor ; skos:prefLabel "Anonymous"@en .'), ct=TURTLE),
    # -- fetching and expanding: XML entities, remote contexts --------------------------------
    Case("xxe-file-and-url", "POST", IMPORT, 422, ("doctype",), data=HOSTILE / "xxe.rdf", ct=RDFXML),
    Case("billion-laughs", "POST", IMPORT, 422, ("doctype",), data=HOSTILE / "laughs.rdf", ct=RDFXML),
    Case("xxe-doctype-after-64kb", "POST", IMPORT, 422, ("doctype",), data=HOSTILE / "xxe-late.rdf", ct=RDFXML),
    Case("xxe-as-application-xml", "POST", IMPORT, 422, ("doctype",), data=HOSTILE / "xxe.rdf", ct="application/xml"),
    Case("xxe-in-utf16", "POST", IMPORT, 422, ("not utf-8",),
         data=lambda base: (HOSTILE / "xxe.rdf").read_text().replace('"1.0"?>', '"1.0" encoding="UTF-16"?>', 1)
         .encode("utf-16"), ct=RDFXML),
    Case("jsonld-remote-context", "POST", IMPORT, 422, ("remote context",),
         data=HOSTILE / "remote-context.jsonld", ct=JSONLD),
    Case("jsonld-scoped-remote-context", "POST", IMPORT, 422, ("remote context",),
         data=HOSTILE / "scoped-context.jsonld", ct=JSONLD),
    Case("jsonld-context-import", "POST", IMPORT, 422, ("remote context",),
         data='{"@context": {"@version": 1.1, "@import": "EVIL/import.jsonld"}, "@id": "BASE/id/actor/i", '
              '"@type": "https://w3id.org/s3fed/vocab#Actor"}', ct=JSONLD),
    Case("sparql-load", "POST", "/sparql", 403, ("read-only",), data=q("LOAD <EVIL/data.ttl>"), ct=SPARQL_FORM),
    Case("sparql-lowercase-insert", "POST", "/sparql", 403, ("read-only",),
         data=q('prefix x: <urn:x:> insert data { x:a x:b "c" }'), ct=SPARQL_FORM),
    Case("sparql-with-delete", "POST", "/sparql", 403, ("read-only",),
         data=q("WITH <BASE/graph/data> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }"), ct=SPARQL_FORM),
    Case("sparql-clear-by-get", "GET", "/sparql?query=CLEAR%20ALL", 403, ("read-only",)),
    Case("sparql-service-evil", "POST", "/sparql", 400, ("refused", "peers"),
         data=q("SELECT * { SERVICE <EVIL/sparql> { ?s ?p ?o } }"), ct=SPARQL_FORM),
    Case("sparql-service-file", "POST", "/sparql", 400, ("refused",),
         data=q("SELECT * { SERVICE <file:///etc/passwd> { ?s ?p ?o } }"), ct=SPARQL_FORM),
    # -- nesting and size: what would exhaust a parser's stack or the planner ------------------
    Case("json-api-nested-objects", "PATCH", "/api/v1/cluster/mipyrail", 400, ("nested deeper",),
         data='{"label": ' + '{"a": ' * 5000 + '"x"' + "}" * 5001, ct=JSON),
    Case("jsonld-nested-100k", "POST", IMPORT, 422, ("nested deeper",),
         data='{"@id": "BASE/id/actor/a", "http://p": ' + '{"http://p": ' * 100_000 + "1" + "}" * 100_001, ct=JSONLD),
    Case("rdfxml-nested-100k", "POST", IMPORT, 422, ("nested deeper",), data=nested_xml(100_000), ct=RDFXML),
    Case("sparql-nested-groups", "POST", "/sparql", 400, ("more than 64 deep",),
         data=q("SELECT * { " + "{ " * 5000 + "?s ?p ?o" + " }" * 5000 + " }"), ct=SPARQL_FORM),
    Case("sparql-nested-expression", "POST", "/sparql", 400, ("more than 64 deep",),
         data=q("SELECT * { ?s ?p ?o FILTER(" + "(" * 20_000 + "1" + ")" * 20_000 + ") }"), ct=SPARQL_FORM),
    Case("sparql-nested-collections", "POST", "/sparql", 400, ("more than 64 deep",),
         data=q("SELECT * { ?s ?p " + "(" * 1000 + "?o" + ")" * 1000 + " }"), ct=SPARQL_FORM),
    Case("sparql-operator-chain", "POST", "/sparql", 400, ("more than 4000",),
         data=q("SELECT * { ?s ?p ?o FILTER(" + "!" * 20_000 + "true) }"), ct=SPARQL_FORM),
    Case("sparql-many-patterns", "POST", "/sparql", 400, ("more than 4000",),
         data=q("SELECT * { " + " ".join(f"?s{i} ?p ?o ." for i in range(2000)) + " }"), ct=SPARQL_FORM),
    Case("sparql-query-too-long-for-budget", "POST", "/sparql", 503, ("0.5 s",), target="tight",
         data=q("SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f FILTER(STRLEN(STR(?c)) >= STRLEN(STR(?f))) }"),
         ct=SPARQL_FORM),  # seconds of work (the vocabulary squared): its worker process is killed at 0.5 s
    *(Case(f"sparql-runaway-{i}", "POST", "/sparql", 503, ("0.5 s",), target="tight", ct=SPARQL_FORM,
           data=q("SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n ?o }"))
      for i in range(3)),  # days of work and no row until the end, more of them than CPUs: each is killed
    # -- size ------------------------------------------------------------------------------
    Case("import-over-body-limit", "POST", IMPORT, 413, ("4096 bytes",), target="tight",
         data=actor("big", '"' + "x" * 5000 + '"@en'), ct=TURTLE),
    Case("import-chunked-over-limit", "POST", IMPORT, 413, ("4096 bytes",), target="tight",
         data=lambda base: iter([(f"# comment line {i:04d} ............................\n").encode()
                                 for i in range(200)]), ct=TURTLE),
    Case("json-over-body-limit", "POST", "/api/v1/actor", 413, ("4096 bytes",), target="tight",
         json={"label": {"en": "x" * 5000}}),
    Case("sparql-over-body-limit", "POST", "/sparql", 413, ("4096 bytes",), target="tight",
         data="SELECT * { ?s ?p ?o } # " + "x" * 5000, ct="application/sparql-query"),
    Case("literal-over-100k", "POST", IMPORT, 422, ("longer than 100000",),
         data=actor("long-label", '"' + "x" * 100_001 + '"@en'), ct=TURTLE),
    Case("iri-over-2048", "POST", IMPORT, 422, ("iri longer than 2048",),
         data=actor("long-iri", extra=f"; foaf:homepage <https://example.org/{'a' * 3000}> "), ct=TURTLE),
    Case("json-iri-over-2048", "POST", "/api/v1/cluster", 422, ("homepage",),
         json=cluster(homepage="https://example.org/" + "a" * 3000)),
    Case("one-17mb-token", "POST", IMPORT, 422, ("too long to parse",), data=b"#" * 17_000_000, ct=TURTLE),
    Case("rdf-list-of-a-million", "POST", IMPORT, 422, ("more triples than one import takes (200000",),
         data=ttl("<BASE/id/actor/a> <urn:p> (" + " 1" * 1_000_000 + " ) ."), ct=TURTLE),  # 2 MB, 2 million triples
    Case("triples-over-configured-max", "POST", IMPORT, 422, ("(100, limits.max_import_triples)",), target="tight",
         data=ttl("<BASE/id/actor/a> <urn:p> (" + " 1" * 150 + " ) ."), ct=TURTLE),
    Case("csv-rows-over-configured-max", "POST", IMPORT + "?kind=actor", 422, ("more than 100 rows",), target="tight",
         data="slug,label@fr\n" + "".join(f"a{i},b\n" for i in range(150)), ct=CSV),
    Case("errors-listed-up-to-1000", "POST", IMPORT, 422, ("blank nodes", "only the first 1000 are listed"),
         data=ttl("[] a s3:Actor .\n" * 1100), ct=TURTLE),
    Case("csv-field-over-128k", "POST", IMPORT + "?kind=actor", 422, ("field larger",),
         data="slug,label@fr\nbig," + "x" * 200_000 + "\n", ct=CSV),
    # -- numbers that are not numbers, or too big to read back -------------------------------
    Case("decimal-nan", "POST", IMPORT, 422, ("not a valid xsd:decimal",), data=funding('"NaN"^^xsd:decimal'),
         ct=TURTLE),
    Case("decimal-exponent", "POST", IMPORT, 422, ("not a valid xsd:decimal",), data=funding('"1e5"^^xsd:decimal'),
         ct=TURTLE),
    Case("decimal-400-digits", "POST", IMPORT, 422, ("too large",), data=funding("9" * 400 + ".0"), ct=TURTLE),
    Case("integer-not-integer", "POST", IMPORT, 422, ("not a valid xsd:integer",),
         data=actor("n", extra='; s3:memberCount "twelve"^^xsd:integer '), ct=TURTLE),
    Case("json-amount-400-digits", "POST", "/api/v1/funding", 422, ("amount", "too large"),
         data='{"instrument": "' + ERDF + '", "amount": ' + "9" * 400 + "}", ct=JSON),
    Case("json-amount-infinity", "POST", "/api/v1/funding", 422, ("amount",),
         data='{"instrument": "' + ERDF + '", "amount": Infinity}', ct=JSON),
    Case("json-member-count-400-digits", "POST", "/api/v1/cluster", 422, ("memberCount",),
         data=lambda base: json.dumps(cluster()(base))[:-1] + ', "memberCount": ' + "9" * 400 + "}", ct=JSON),
    # -- unknown content types ---------------------------------------------------------------
    Case("import-pdf", "POST", IMPORT, 415, ("text/turtle",), data=b"%PDF-1.7", ct="application/pdf"),
    Case("import-no-content-type", "POST", IMPORT, 415, ("without content-type",), data=b"x", ct=""),
    Case("import-multipart", "POST", IMPORT, 415, (), data=b"--b\r\n\r\nx\r\n--b--",
         ct="multipart/form-data; boundary=b"),
    Case("json-api-as-text", "POST", "/api/v1/cluster", 415, ("application/json",), data='{"label": {}}',
         ct="text/plain"),
    Case("sparql-post-as-json", "POST", "/sparql", 415, ("application/sparql-query",), data='{"query": "ASK {}"}',
         ct=JSON),
    # -- tokens ------------------------------------------------------------------------------
    Case("token-absent-import", "POST", IMPORT, 401, ("bearer",), data=actor("a"), ct=TURTLE, auth=False),
    Case("token-basic-scheme", "POST", IMPORT, 401, ("bearer",), data=actor("a"), ct=TURTLE, auth=False,
         headers={"Authorization": "Basic YWRtaW46YWRtaW4="}),
    Case("token-empty-bearer", "DELETE", "/api/v1/cluster/mipyrail", 401, ("bearer",), auth=False,
         headers={"Authorization": "Bearer "}),
    Case("token-truncated", "DELETE", "/api/v1/cluster/mipyrail", 403, ("not valid",), auth=False,
         headers={"Authorization": "Bearer s3fed_"}),
    Case("token-huge", "PUT", "/api/v1/cluster/mipyrail", 403, ("not valid",), auth=False, json=cluster(),
         headers={"Authorization": "Bearer " + "A" * 6000}),
    Case("token-non-ascii", "PATCH", "/api/v1/cluster/mipyrail", 403, ("not valid",), auth=False, json={},
         headers={"Authorization": "Bearer s3fed_é".encode()}),
    # -- pagination out of range -------------------------------------------------------------
    *(Case(f"id-page-{name}", "GET", f"/id/cluster/?{qs}", 400, ("page",)) for name, qs in [
        ("zero", "page=0"), ("negative", "page=-1"), ("huge", "page=" + "9" * 30), ("past-max", "page=1000001"),
        ("text", "page=abc"), ("per-page-zero", "per_page=0"), ("per-page-huge", "per_page=100000"),
        ("per-page-float", "per_page=1.5")]),
    *(Case(f"api-page-{name}", "GET", f"/api/v1/cluster?{qs}", 400, ("page",)) for name, qs in [
        ("zero", "page=0"), ("huge", "page=" + "9" * 30), ("per-page-over", "per_page=1001"),
        ("per-page-negative", "per_page=-1"), ("text", "page=%00")]),
    Case("feed-since-negative", "GET", "/feed?since=-5", 400, ("since",)),
    Case("feed-page-huge", "GET", "/feed/" + "9" * 30, 404, ("does not exist",)),
    # -- filters that are not IRIs -----------------------------------------------------------
    *(Case(f"id-filter-{name}", "GET", f"/id/cluster/?region={value}", 400, ("absolute iri",)) for name, value in [
        ("relative", "FRJ"), ("nul", "http://x/%00"), ("invalid-utf8", "%FF"), ("angle", "http://x/%3E%20%3Fs"),
        ("space", "http://x/%20y")]),
    Case("api-filter-relative", "GET", "/api/v1/cluster?region=FRJ", 400, ("region", "absolute iri")),
    # -- path traversal and odd slugs ----------------------------------------------------------
    *(Case(f"slug-{name}", "GET", path, 404, ()) for name, path in [
        ("encoded-slashes", "/id/cluster/..%2F..%2Fetc%2Fpasswd"), ("dot-dot", "/id/cluster/%2e%2e"),
        ("nul", "/id/cluster/mipyrail%00"), ("unicode", "/id/cluster/caf%C3%A9"),
        ("fullwidth-slash", "/id/cluster/a%EF%BC%8Fb"), ("invalid-utf8", "/id/cluster/%FF%FE"),
        ("crlf", "/id/cluster/mipyrail%0D%0ASet-Cookie:%20a=b"), ("kind-traversal", "/id/..%2Fcluster/mipyrail"),
        ("api-encoded-slashes", "/api/v1/cluster/..%2F..%2Fetc"), ("api-nul", "/api/v1/cluster/%00"),
        ("api-unicode", "/api/v1/cluster/mipyra%C3%AFl"), ("static", "/static/..%2F..%2Fconfig.py"),
        ("static-dot-dot", "/static/%2e%2e/%2e%2e/node/config.py")]),
    Case("slug-put-traversal", "PUT", "/api/v1/cluster/%2e%2e", 404, (), json=cluster()),
    Case("slug-delete-nul", "DELETE", "/api/v1/cluster/mipyrail%00", 404, ()),
    Case("slug-post-traversal", "POST", "/api/v1/cluster", 422, ("slug",), json=cluster(slug="../../etc/passwd")),
    Case("slug-post-crlf", "POST", "/api/v1/cluster", 422, ("slug",), json=cluster(slug="x\r\nSet-Cookie: a=b")),
    Case("slug-post-unicode", "POST", "/api/v1/cluster", 422, ("slug",), json=cluster(slug="pôle")),
    Case("slug-post-id-traversal", "POST", "/api/v1/cluster", 422, ("id",),
         json=lambda base: cluster(id=f"{base}/id/cluster/../actor/ad-occ")(base)),
    Case("slug-import-encoded", "POST", IMPORT, 422, ("subjects must be this node's",),
         data=actor("..%2F..%2Fregion%2FFRJ"), ct=TURTLE),
    Case("slug-import-unicode", "POST", IMPORT, 422, ("subjects must be this node's",), data=actor("pôle"), ct=TURTLE),
    Case("slug-import-too-long", "POST", IMPORT, 422, ("subjects must be this node's",), data=actor("a" * 201),
         ct=TURTLE),
    # -- encodings ---------------------------------------------------------------------------
    Case("turtle-latin1", "POST", IMPORT, 422, ("not utf-8",), data=HOSTILE / "latin1.ttl", ct=TURTLE),
    Case("turtle-latin1-declared", "POST", IMPORT, 422, ("not utf-8",), data=HOSTILE / "latin1.ttl",
         ct="text/turtle; charset=ISO-8859-1"),
    Case("ntriples-latin1", "POST", IMPORT, 422, ("not utf-8",), ct=NT,
         data='<BASE/id/actor/e> <http://www.w3.org/2004/02/skos/core#prefLabel> "Région"@fr .\n'.encode("latin-1")),
    Case("csv-latin1", "POST", IMPORT + "?kind=actor", 422, ("not utf-8",), data="slug,label@fr\nr,Région\n"
         .encode("latin-1"), ct=CSV),
    Case("json-latin1", "POST", "/api/v1/actor", 400, ("not valid json",), ct=JSON,
         data='{"label": {"fr": "Région"}}'.encode("latin-1")),
    Case("turtle-gzip-unannounced", "POST", IMPORT, 422, ("not utf-8",), ct=TURTLE,
         data=b"\x1f\x8b\x08\x00\x00\x00\x00\x00", headers={"Content-Encoding": "gzip"}),
    # -- control characters ------------------------------------------------------------------
    Case("turtle-control-chars", "POST", IMPORT, 422, ("/id/actor/nul", "/id/actor/esc", "control characters"),
         data=HOSTILE / "control-chars.ttl", ct=TURTLE),
    *(Case(f"turtle-control-{ord(ch):02x}", "POST", IMPORT, 422, ("control characters",), ct=TURTLE,
           data=actor(f"c{ord(ch)}", f'"a{ch}b"@en')) for ch in "\x01\x08\x0b\x0c\x1f\x7f"),
    Case("ntriples-escaped-nul", "POST", IMPORT, 422, ("control characters",), ct=NT,
         data='<BASE/id/actor/n> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> '
              '<https://w3id.org/s3fed/vocab#Actor> .\n'
              '<BASE/id/actor/n> <http://www.w3.org/2004/02/skos/core#prefLabel> "a\\u0000b" .\n'),
    Case("jsonld-control-char", "POST", IMPORT, 422, ("control characters",), ct=JSONLD,
         data='{"@id": "BASE/id/actor/j", "@type": "https://w3id.org/s3fed/vocab#Actor", '
              '"http://www.w3.org/2004/02/skos/core#prefLabel": {"@value": "a\\u0007b", "@language": "en"}}'),
    Case("json-control-char", "POST", "/api/v1/cluster", 422, ("label", "control characters"),
         json=lambda base: {**cluster()(base), "label": {"fr": "a\u001bb"}}),
    Case("json-lone-surrogate", "POST", "/api/v1/cluster", 422, ("label",), ct=JSON,
         data=lambda base: json.dumps(cluster()(base)).replace('"P\\u00f4le"', '"P\\ud800le"')),
    Case("csv-nul", "POST", IMPORT + "?kind=actor", 422, ("control characters",), data=b"slug,label@fr\nn,a\x00b\n",
         ct=CSV),
    Case("csv-control-in-slug", "POST", IMPORT + "?kind=actor", 422, ("slug",), data=b"slug,label@fr\nn\x07,a\n",
         ct=CSV),
    # -- other methods -----------------------------------------------------------------------
    Case("trace", "TRACE", "/api/v1/cluster", 405, ()),
    Case("put-collection", "PUT", "/api/v1/cluster", 405, (), json=cluster()),
    Case("delete-import", "DELETE", IMPORT, 405, ()),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused_with_a_problem_and_nothing_changes(request, evil, case):
    n = request.getfixturevalue(case.target)
    before, asked = state(n), len(evil.requests)
    r = send(n, case, evil)
    assert r.status_code == case.status, r.text[:800]
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    problem = r.json()
    assert problem["status"] == case.status and problem["title"] and problem["detail"]
    text = (problem["detail"] + " " + json.dumps(problem.get("errors", []), ensure_ascii=False)).lower()
    for word in case.words:
        assert word.lower() in text, (word, problem)
    assert "set-cookie" not in {h.lower() for h in r.headers}
    assert state(n) == before  # also: the node is still up
    assert evil.requests[asked:] == []  # nothing was fetched


# -- not refused, but never a 5xx and never a change -------------------------------------------

SAFE = [
    ("q-newline", "/id/cluster/?q=a%0Ab"), ("q-carriage-return", "/id/cluster/?q=a%0D%0Ab"),
    ("q-quote-brace", "/id/cluster/?q=%22%20%7D%7D%20%23"), ("q-backslash", "/id/cluster/?q=%5C"),
    ("q-nul", "/id/cluster/?q=%00"), ("q-long", "/id/cluster/?q=" + "a" * 3000),
    ("q-invalid-utf8", "/id/cluster/?q=%FF"), ("api-q-quote", "/api/v1/cluster?q=%22%29%7D"),
    ("page-past-last", "/id/cluster/?page=999999"), ("api-page-past-last", "/api/v1/cluster?page=999999"),
    ("strategy-page-2", "/id/strategy/?page=2&per_page=1"),
    ("format-unknown", "/id/cluster/mipyrail?format=..%2F..%2Fx"),
    ("search-regex", "/search?q=%28%28%28%5C&format=json"), ("search-long", "/search?q=" + "a" * 3000 + "&format=json"),
    ("search-control", "/search?q=%01%7B1000000%7D&format=json"),
    ("accept-garbage", "/id/cluster/mipyrail"), ("if-none-match-many", "/id/cluster/mipyrail"),
]
SAFE_HEADERS = {"accept-garbage": {"Accept": "text/html;q=abc, */*;q=-1, " + ", ".join(["a/b"] * 500)},
                "if-none-match-many": {"If-None-Match": ", ".join(['"x"'] * 2000)}}


@pytest.mark.parametrize("name,path", SAFE, ids=[s[0] for s in SAFE])
def test_odd_reads_answer_without_failing(node, name, path):
    before = state(node)
    r = node.get(path, headers=SAFE_HEADERS.get(name, {"Accept": "application/json"}))
    assert r.status_code < 500, r.text[:500]
    if r.status_code >= 400:
        assert r.headers["Content-Type"].startswith("application/problem+json")
    assert state(node) == before


# -- accepted, and harmless --------------------------------------------------------------------

def test_crlf_in_a_label_never_reaches_a_header(node):
    """A label may hold line breaks (descriptions do); the slug derived from it, the Location
    header and every other header stay clean."""
    body = {"label": {"en": "Evil\r\nSet-Cookie: session=stolen\r\nLocation: https://evil.example/"},
            "region": f"{node.base}/id/region/FRJ"}
    r = requests.post(node.base + "/api/v1/cluster", json=body, headers=node.auth, timeout=30)
    assert r.status_code == 201, r.text
    slug = "evil-set-cookie-session-stolen-location-https-evil-example"
    assert r.headers["Location"] == f"{node.base}/api/v1/cluster/{slug}"
    assert "Set-Cookie" not in r.headers
    for fmt in ("html", "json", "ttl"):
        got = node.get(f"/id/cluster/{r.json()['slug']}?format={fmt}")
        assert got.status_code == 200 and "Set-Cookie" not in got.headers
    assert requests.get(r.headers["Location"], timeout=30).json()["label"] == body["label"]  # kept as written


def test_tab_newline_and_utf8_bom_are_fine(node):
    text = (P + f'<{node.base}/id/actor/tabs> a s3:Actor ; skos:prefLabel "a\\tb\\nc\\rd"@en .').encode()
    r = requests.post(node.base + IMPORT, data=b"\xef\xbb\xbf" + text, timeout=30,
                      headers={**node.auth, "Content-Type": TURTLE})
    assert r.status_code == 200 and r.json() == {"imported": 1, "triples": 2}, r.text
    assert node.get("/api/v1/actor/tabs").json()["label"] == {"en": "a\tb\nc\rd"}


def test_script_in_a_label_is_text_and_javascript_links_are_not_links(node):
    body = {"slug": "xss", "label": {"en": '<script>alert("label")</script>'},
            "region": f"{node.base}/id/region/FRJ", "homepage": "javascript:alert(document.cookie)"}
    r = requests.post(node.base + "/api/v1/cluster", json=body, headers=node.auth, timeout=30)
    assert r.status_code == 201, r.text
    for path in ("/id/cluster/xss", "/id/cluster/", "/search?q=script"):
        page = node.get(path, headers={"Accept": "text/html"}).text
        assert '<script>alert("label")' not in page and 'href="javascript:' not in page, path


def test_paging_a_kind_that_has_a_page_field(node):
    """A strategy's ``page`` (foaf:page) is a field, but ``?page=`` on its collection is paging."""
    r = node.get("/id/strategy/?page=2&per_page=1", headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["page"] == 2, r.text


def test_long_values_blocks_are_data_not_complexity(node):
    """The size limits count structure, not data: 10 000 IRIs in VALUES, or 100 VALUES blocks, pass."""
    iris = " ".join(f"<{node.base}/id/cluster/c{i}>" for i in range(10_000))
    many = " ".join(f"{{ VALUES ?c{i} {{ <urn:x:{i}> }} }}" for i in range(100))
    for query in (f"SELECT ?c {{ VALUES ?c {{ {iris} <{node.base}/id/cluster/mipyrail> }} ?c a ?t }}",
                  f"SELECT * {{ {many} }}",
                  f"SELECT ?c ?l {{ VALUES (?c ?l) {{ {' '.join(f'(<urn:c:{i}> {i})' for i in range(3000))} }} }}"):
        r = requests.post(node.base + "/sparql", data={"query": query}, timeout=60,
                          headers={"Accept": "application/sparql-results+json"})
        assert r.status_code == 200, r.text[:500]
