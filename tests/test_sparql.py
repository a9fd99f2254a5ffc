"""The /sparql endpoint of a real node, driven by real SPARQL clients (SPARQLWrapper, rdflib's
SPARQLStore) and plain HTTP: every query form and result format, read-only refusals, syntax
errors, SERVICE to non-peers, the time and result limits, CORS and the service description."""
import csv
import io
import json
import time

import pytest
import requests
from markupsafe import escape
from rdflib import Graph, Literal, URIRef
from SPARQLWrapper import (
    CSV,
    JSON,
    JSONLD,
    N3,
    POST,
    POSTDIRECTLY,
    RDFXML,
    TSV,
    TURTLE,
    XML,
    SPARQLWrapper,
)

from node.sparql import EXAMPLES

# SPARQLWrapper and rdflib's JSON-LD parser build ConjunctiveGraphs internally; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")

P = """PREFIX s3: <https://w3id.org/s3fed/vocab#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""
DOMAINS = P + ('SELECT ?d ?label WHERE { ?d a s3:PriorityDomain ; skos:prefLabel ?label '
               'FILTER(lang(?label) = "en") } ORDER BY ?d')
S3 = "https://w3id.org/s3fed/vocab#"


def wrapper(node, query, fmt, method=None):
    sw = SPARQLWrapper(node.base + "/sparql")
    sw.setQuery(query)
    sw.setReturnFormat(fmt)
    if method == "direct":
        sw.setMethod(POST)
        sw.setRequestMethod(POSTDIRECTLY)
    elif method:
        sw.setMethod(method)
    return sw.query()


def post(node, data=None, **kw):
    return requests.post(node.base + "/sparql", data=data, timeout=30, **kw)


def problem(r, status):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    return r.json()


@pytest.mark.parametrize("method", [None, POST, "direct"])
def test_select_json_with_sparqlwrapper_by_get_and_both_posts(sample_node, method):
    res = wrapper(sample_node, DOMAINS, JSON, method)
    assert "Accept" in res.info()["vary"]
    rows = res.convert()["results"]["bindings"]
    assert [r["d"]["value"] for r in rows] == [sample_node.base + "/id/domain/aeronautique",
                                               sample_node.base + "/id/domain/eau"]
    assert rows[1]["label"] == {"type": "literal", "value": "Small and large water cycle", "xml:lang": "en"}


def test_select_xml_csv_tsv(sample_node):
    doc = wrapper(sample_node, DOMAINS, XML).convert()
    assert [u.firstChild.data for u in doc.getElementsByTagName("uri")][1].endswith("/id/domain/eau")
    table = list(csv.DictReader(io.StringIO(wrapper(sample_node, DOMAINS, CSV, POST).convert().decode())))
    assert table[0] == {"d": sample_node.base + "/id/domain/aeronautique",
                        "label": "Materials and processes for aeronautics and advanced industries"}
    tsv = wrapper(sample_node, DOMAINS, TSV).convert().decode().splitlines()
    assert tsv[0] == "?d\t?label" and tsv[2] == f'<{sample_node.base}/id/domain/eau>\t"Small and large water cycle"@en'


def test_ask(sample_node):
    yes = P + 'ASK { ?c skos:prefLabel "Aerospace Valley"@fr ; s3:region ?r . ?r s3:nutsCode "FRJ" }'
    assert wrapper(sample_node, yes, JSON).convert()["boolean"] is True
    assert wrapper(sample_node, P + "ASK { ?x a s3:CooperationOpportunity }", XML, POST).convert() \
        .getElementsByTagName("boolean")[0].firstChild.data == "false"


MEMBERSHIP = P + """CONSTRUCT { ?m org:organization ?c ; org:member ?a ; org:role ?role . ?a skos:prefLabel ?l }
WHERE { ?m a org:Membership ; org:organization ?c ; org:member ?a ; org:role ?role . ?a skos:prefLabel ?l }"""


@pytest.mark.parametrize("fmt,method", [(TURTLE, None), (RDFXML, POST), (N3, None), (JSONLD, "direct")])
def test_construct_in_every_graph_format(sample_node, fmt, method):
    res = wrapper(sample_node, MEMBERSHIP, fmt, method)
    out = res.convert()
    g = out if isinstance(out, Graph) else Graph().parse(data=out, format="turtle")
    m = URIRef(sample_node.base + "/id/membership/aerospace-valley-cci-toulouse")
    cluster = URIRef(sample_node.base + "/id/cluster/aerospace-valley")
    assert g.value(m, URIRef("http://www.w3.org/ns/org#organization")) == cluster
    assert str(g.value(g.value(m, URIRef("http://www.w3.org/ns/org#member")),
                       URIRef("http://www.w3.org/2004/02/skos/core#prefLabel"))) == "CCI Toulouse Haute-Garonne"


def test_construct_as_ntriples_and_describe(sample_node):
    r = requests.get(sample_node.base + "/sparql", params={"query": MEMBERSHIP},
                     headers={"Accept": "application/n-triples"}, timeout=30)
    assert r.headers["Content-Type"].startswith("application/n-triples") and r.headers["Vary"] == "Accept"
    assert len(Graph().parse(data=r.text, format="nt")) == 4
    cluster = sample_node.base + "/id/cluster/aerospace-valley"
    g = wrapper(sample_node, f"DESCRIBE <{cluster}>", RDFXML).convert()
    assert (URIRef(cluster), URIRef(S3 + "region"), URIRef(sample_node.base + "/id/region/FRJ")) in g


def test_rdflib_sparqlstore_select_ask_construct_describe(sample_node):
    g = Graph(store="SPARQLStore")
    g.open(sample_node.base + "/sparql")
    rows = list(g.query(P + """SELECT ?region ?code WHERE { ?c skos:prefLabel "Aerospace Valley"@fr ;
                              s3:region ?region . ?region s3:nutsCode ?code }"""))
    assert rows == [(URIRef(sample_node.base + "/id/region/FRJ"), Literal("FRJ"))]
    assert g.query(P + "ASK { ?d a s3:PriorityDomain }").askAnswer is True
    built = g.query(MEMBERSHIP).graph
    assert len(built) == 4
    described = g.query(f"DESCRIBE <{sample_node.base}/id/domain/eau>").graph
    assert Literal("Petit et grand cycle de l'eau", lang="fr") in set(described.objects())


def test_format_parameter_and_accept_q_values(sample_node):
    r = requests.get(sample_node.base + "/sparql", params={"query": DOMAINS, "format": "csv"}, timeout=30)
    assert r.headers["Content-Type"].startswith("text/csv") and r.text.startswith("d,label")
    r = requests.get(sample_node.base + "/sparql", params={"query": DOMAINS},
                     headers={"Accept": "text/csv;q=0.5, application/sparql-results+xml"}, timeout=30)
    assert r.headers["Content-Type"].startswith("application/sparql-results+xml")
    r = requests.get(sample_node.base + "/sparql", params={"query": DOMAINS}, headers={"Accept": "*/*"}, timeout=30)
    assert r.headers["Content-Type"].startswith("application/sparql-results+json")
    r = requests.get(sample_node.base + "/sparql", params={"query": MEMBERSHIP}, headers={"Accept": "*/*"}, timeout=30)
    assert r.headers["Content-Type"].startswith("text/turtle")
    assert problem(requests.get(sample_node.base + "/sparql", params={"query": DOMAINS},
                                headers={"Accept": "image/png"}, timeout=30), 406)["detail"]


def test_feed_and_sync_graphs_are_not_in_the_dataset(sample_node):
    feed = sample_node.base + "/graph/feed"
    r = requests.get(sample_node.base + "/sparql", params={"query": "SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } }"},
                     timeout=30)
    names = {b["g"]["value"] for b in r.json()["results"]["bindings"]}
    assert sample_node.base + "/graph/data" in names and feed not in names
    r = requests.get(sample_node.base + "/sparql", params={"query": f"SELECT * FROM <{feed}> {{ ?s ?p ?o }}"},
                     timeout=30)
    assert feed in problem(r, 400)["detail"]
    r = requests.get(sample_node.base + "/sparql", params={"query": DOMAINS, "default-graph-uri": feed}, timeout=30)
    assert problem(r, 400)["type"].endswith("sparql-graph")
    only_vocab = requests.get(sample_node.base + "/sparql", params={
        "query": DOMAINS, "default-graph-uri": sample_node.base + "/graph/vocab"}, timeout=30).json()
    assert only_vocab["results"]["bindings"] == []


def test_updates_are_refused_every_way(sample_node):
    update = P + 'INSERT DATA { <urn:x> skos:prefLabel "x" }'
    for r in (post(sample_node, {"update": update}),
              post(sample_node, update.encode(), headers={"Content-Type": "application/sparql-update"}),
              post(sample_node, {"query": update}),
              requests.get(sample_node.base + "/sparql", params={"query": "# hi\nDELETE WHERE { ?s ?p ?o }"},
                           timeout=30)):
        assert "read-only" in problem(r, 403)["detail"]
    assert wrapper(sample_node, DOMAINS, JSON).convert()["results"]["bindings"]  # nothing changed


def test_syntax_error_gives_the_parsers_message_with_line_and_column(sample_node):
    r = post(sample_node, {"query": "SELECT * WHERE {\n  ?s ?p ?o .\n  FILTER(?o = ) }"})
    body = problem(r, 400)
    assert "3:" in body["detail"] and "parse" in body["detail"]


@pytest.mark.parametrize("query,target", [
    ("SELECT * { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }", "<http://127.0.0.1:1/sparql>"),
    ("PREFIX e: <http://169.254.169.254/> SELECT * { ?a ?b ?c FILTER EXISTS { SERVICE SILENT e:x { ?s ?p ?o } } }",
     "e:x"),
    ("BASE <http://127.0.0.1:1/> SELECT * { { SELECT * { SERVICE <sparql> { ?s ?p ?o } } } }", "<sparql>"),
    ('SELECT * { ?s ?p "}" . sErViCe#c\n<http://127.0.0.1:1/sparql> { ?s ?p ?o } }', "<http://127.0.0.1:1/sparql>"),
    # what a lexer could miss: a keyword glued to a prefixed name, escapes that hide a '#' or a quote
    ("PREFIX : <http://127.0.0.1:1/> SELECT * { SERVICE:sparql { ?s ?p ?o } }", ":sparql"),
    ("PREFIX e: <http://x/> SELECT * { ?s e:a\\# ?o . SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }",
     "<http://127.0.0.1:1/sparql>"),
    ("SELECT * { <http://x/\\u0041#> ?p ?o . SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }",
     "<http://127.0.0.1:1/sparql>"),
    ("SELECT * { VALUES ?u { <http://127.0.0.1:1/> } SERVICE ?u { ?s ?p ?o } }", "?u"),
])
def test_service_to_anything_but_a_peer_is_refused(sample_node, query, target):
    body = problem(post(sample_node, {"query": query}), 400)
    assert target in body["detail"] and "peers" in body["detail"]


def test_service_in_strings_comments_and_names_is_no_service(sample_node):
    q = P + """SELECT ?service WHERE { # SERVICE <http://127.0.0.1:1/sparql> { }
      ?service skos:prefLabel "Aerospace Valley"@fr FILTER(!CONTAINS("SERVICE <http://x/> {", "Valley")) }"""
    assert len(wrapper(sample_node, q, JSON).convert()["results"]["bindings"]) == 1


def test_cors_for_reads_and_preflight(sample_node):
    r = requests.get(sample_node.base + "/sparql", params={"query": DOMAINS}, headers={"Origin": "https://yasgui.example"},
                     timeout=30)
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    pre = requests.options(sample_node.base + "/sparql", timeout=30, headers={
        "Origin": "https://yasgui.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,accept"})
    assert pre.status_code == 200 and pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert "content-type" in pre.headers["Access-Control-Allow-Headers"].lower()
    err = post(sample_node, {"update": "CLEAR ALL"}, headers={"Origin": "https://yasgui.example"})
    assert err.headers["Access-Control-Allow-Origin"] == "*"  # YASGUI can show the problem too


def test_service_description(sample_node):
    r = requests.get(sample_node.base + "/sparql", headers={"Accept": "text/turtle"}, timeout=30)
    assert r.status_code == 200 and r.headers["Vary"] == "Accept"
    g = Graph().parse(data=r.text, format="turtle")
    sd = "http://www.w3.org/ns/sparql-service-description#"
    endpoint = URIRef(sample_node.base + "/sparql")
    assert (endpoint, URIRef(sd + "endpoint"), endpoint) in g
    assert (endpoint, URIRef(sd + "supportedLanguage"), URIRef(sd + "SPARQL11Query")) in g
    names = set(g.objects(None, URIRef(sd + "name")))
    assert URIRef(sample_node.base + "/graph/data") in names and URIRef(sample_node.base + "/graph/feed") not in names
    assert requests.get(sample_node.base + "/sparql", timeout=30).headers["Content-Type"].startswith("text/turtle")


def test_query_page_has_the_examples_and_each_one_answers(sample_node):
    page = requests.get(sample_node.base + "/sparql", headers={"Accept": "text/html,*/*;q=0.8"}, timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "<textarea" in page.text and "Download CSV" in page.text and "http" not in page.text.split("<script>")[1]
    assert 6 <= len(EXAMPLES) <= 8
    for title, query in EXAMPLES:
        assert str(escape(title)) in page.text and str(escape(query)) in page.text
        rows = wrapper(sample_node, query, JSON).convert()["results"]["bindings"]
        assert rows, f"example {title!r} returned no rows on the sample node"


def test_service_to_a_peer_then_time_budget_and_result_cap(new_node, sample_node):
    """One hub-like node with sample_node as its peer and tiny limits: federation works, the cap
    answers 400, and a query whose first row would take hours answers 503 in about the budget."""
    node = new_node("EU", "Hub")
    node.write("s3fed.toml", node.config.read_text() + f'\n[[peers]]\nid = "FRJ"\nurl = "{sample_node.base}"\n')
    node.env = {"S3FED_LIMITS_SPARQL_TIMEOUT_S": "0.5", "S3FED_LIMITS_SPARQL_MAX_RESULTS": "5"}
    node.start()  # the vocabulary graph alone (thousands of triples) is enough to be slow or big
    fed = P + f"SELECT ?d {{ SERVICE <{sample_node.base}/sparql> {{ ?d a s3:PriorityDomain }} }} ORDER BY ?d"
    rows = wrapper(node, fed, JSON).convert()["results"]["bindings"]
    assert [r["d"]["value"] for r in rows] == [sample_node.base + "/id/domain/aeronautique",
                                               sample_node.base + "/id/domain/eau"]
    body = problem(post(node, {"query": "SELECT * { ?s ?p ?o }"}), 400)
    assert "more than 5 results" in body["detail"] and "LIMIT" in body["detail"]
    problem(post(node, {"query": "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"}), 400)
    ok = post(node, {"query": "SELECT * { ?s ?p ?o } LIMIT 5"}, headers={"Accept": "application/sparql-results+json"})
    assert len(json.loads(ok.text)["results"]["bindings"]) == 5
    started = time.monotonic()
    r = post(node, {"query": "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"})
    assert time.monotonic() - started < 5
    body = problem(r, 503)
    assert "0.5 s" in body["detail"] and body["type"].endswith("sparql-timeout")
    assert node.get("/health").status_code == 200  # the node still answers while that query burns a core
