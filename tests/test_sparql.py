"""The /sparql endpoint of a real node, driven by real SPARQL clients (SPARQLWrapper, rdflib's
SPARQLStore) and plain HTTP: every query form and result format, read-only refusals, syntax
errors, SERVICE to non-peers, the time and result limits, CORS and the service description."""
import csv
import io
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests
from conftest import TEST_STORE, make_node, sample_text
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


# -- killable evaluation: worker processes (limits.sparql_isolation = "process") -----------------
# On the external store (S3FED_TEST_STORE=oxigraph) queries run in the server and the node has no
# workers: it answers 503 at its budget, and its slots free up at store.timeout_s (2 s here) —
# while `oxigraph serve` goes on computing (its --timeout-s stops no such query) until it stops.

RUNAWAY = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"  # no row for hours
EMBEDDED = TEST_STORE == "embedded"
POOL = 2 if EMBEDDED else 0  # worker processes of a node started by start_guarded


def workers(pid: int) -> list[psutil.Process]:
    """The SPARQL worker processes started by the process ``pid`` (its children)."""
    found = []
    for child in psutil.Process(pid).children():
        try:
            if any("sparql_worker" in part for part in child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def gone(procs: list[psutil.Process], within: float) -> bool:
    """Every process of ``procs`` has ended (exited and reaped, or a zombie) within ``within`` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = []
        for p in procs:
            try:
                if p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.NoSuchProcess:
                pass
        if not alive:
            return True
        time.sleep(0.05)
    return False


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def start_guarded(node):
    """Start ``node`` with a second of SPARQL and two query workers, and its first query (which
    starts them, and waits for them whatever the budget)."""
    node.env = {"S3FED_LIMITS_SPARQL_TIMEOUT_S": "1", "S3FED_LIMITS_SPARQL_MAX_CONCURRENT": "2",
                "S3FED_STORE_TIMEOUT_S": "2"}  # external store only
    node.start()
    assert post(node, {"query": "ASK {}"}).status_code == 200
    deadline = time.monotonic() + 10
    while len(workers(node.proc.pid)) < POOL and time.monotonic() < deadline:
        time.sleep(0.05)  # the second one may still be starting
    return node


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A node with the sample data, started by :func:`start_guarded`."""
    node = make_node(tmp_path_factory.mktemp("guarded"))
    assert node.import_text(sample_text(node)).returncode == 0
    yield start_guarded(node)
    node.stop()


def test_runaway_queries_are_killed_at_the_deadline_and_free_their_core(guarded):
    """More runaway queries than workers, twice: each answers 503 near the budget, its worker is
    killed (its CPU released) and replaced, and a normal query right after answers 200 at once.
    With evaluation in threads the runaway queries would keep both cores and every slot for hours."""
    node = guarded
    node_proc = psutil.Process(node.proc.pid)
    for _ in range(2 if EMBEDDED else 1):
        before = workers(node.proc.pid)
        assert len(before) == POOL
        with ThreadPoolExecutor(3) as pool:
            started = time.monotonic()
            answers = list(pool.map(lambda _: post(node, {"query": RUNAWAY}), range(3)))
            took = time.monotonic() - started
        assert took < 4
        kinds = {problem(r, 503)["type"].rsplit("/", 1)[-1] for r in answers}
        assert "sparql-timeout" in kinds and kinds <= {"sparql-timeout", "sparql-busy"}
        assert gone(before, within=2.0), "the workers evaluating runaway queries are still running"
        started = time.monotonic()
        while (ok := post(node, {"query": DOMAINS}, headers={"Accept": "application/sparql-results+json"})
               ).status_code == 503 and not EMBEDDED and time.monotonic() - started < 10:
            time.sleep(0.5)  # the external server's own timeout frees the slots
        assert ok.status_code == 200 and len(ok.json()["results"]["bindings"]) == 2
        assert time.monotonic() - started < (1.5 if EMBEDDED else 10)
    everyone = [node_proc, *workers(node.proc.pid)]
    spent = cpu_seconds(everyone)
    time.sleep(1.0)
    assert cpu_seconds(everyone) - spent < 0.3  # nothing left burning a core
    assert len(workers(node.proc.pid)) == POOL


def test_writes_just_made_are_seen_by_the_next_query(guarded):
    """Workers read a checkpoint of the store: a new one is made when the store was written since."""
    node = guarded
    auth = {"Authorization": f"Bearer {node.token()}"}
    for i in range(3):
        uri = f"{node.base}/id/actor/writer-{i}"
        r = requests.post(node.base + "/api/v1/actor", json={"slug": f"writer-{i}", "label": {"en": f"Writer {i}"}},
                          headers=auth, timeout=30)
        assert r.status_code == 201, r.text
        seen = post(node, {"query": f'ASK {{ <{uri}> ?p "Writer {i}"@en }}'},
                    headers={"Accept": "application/sparql-results+json"})
        assert seen.json()["boolean"] is True
        assert requests.delete(node.base + f"/api/v1/actor/writer-{i}", headers=auth, timeout=30).status_code == 204
        seen = post(node, {"query": f"ASK {{ <{uri}> ?p ?o }}"}, headers={"Accept": "application/sparql-results+json"})
        assert seen.json()["boolean"] is False
    if EMBEDDED:
        checkpoints = list((node.dir / "data" / "sparql-checkpoints").iterdir())
        assert 1 <= len(checkpoints) <= 3  # the current one, and any an idle worker still holds


def test_no_worker_outlives_a_killed_node(new_node):
    """SIGKILL of the node (SIGTERM is no different: the development server has no handler) while
    one worker evaluates and one starts: each notices its parent is gone and ends."""
    node = start_guarded(new_node())
    children = workers(node.proc.pid)
    assert len(children) == POOL
    post(node, {"query": RUNAWAY})  # one worker killed and replaced: a replacement starts
    with ThreadPoolExecutor(1) as pool:
        pool.submit(post, node, {"query": RUNAWAY})  # and one evaluates when the node goes
        time.sleep(0.2)
        children += workers(node.proc.pid)
        node.proc.kill()
        node.proc.wait(10)
    assert gone(children, within=2.0), [p.pid for p in children]


def app_of(tmp_path, **limits):
    from node import create_app
    from node.config import load_config, write_config
    return create_app(load_config(write_config(tmp_path, "FRJ", "Occitanie", "http://127.0.0.1:1"),
                                  env={}, overrides={"limits": limits}))


def test_the_pool_of_an_app_stops_with_it(tmp_path):
    """In-process: no worker before the first query, and close() stops them and removes the checkpoints."""
    from node.sparql import RUNNER, close
    app = app_of(tmp_path)
    assert app.extensions[RUNNER].pids() == []
    r = app.test_client().get("/sparql", query_string={"query": "ASK { ?s a ?t }"},
                              headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json["boolean"] is True  # the vocabulary is there
    deadline = time.monotonic() + 10
    while len(pids := app.extensions[RUNNER].pids()) < (os.cpu_count() or 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    children = [p for p in workers(os.getpid()) if p.pid in pids]
    assert len(children) == (os.cpu_count() or 2)
    close(app)
    assert gone(children, within=2.0)
    assert not (tmp_path / "data" / "sparql-checkpoints").exists()


def test_thread_isolation_still_answers(tmp_path):
    from node.config import ConfigError
    before = {p.pid for p in workers(os.getpid())}
    app = app_of(tmp_path, sparql_isolation="thread")
    r = app.test_client().get("/sparql", query_string={"query": "ASK { ?s a ?t }"},
                              headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json["boolean"] is True
    assert {p.pid for p in workers(os.getpid())} <= before  # no process started
    with pytest.raises(ConfigError, match="sparql_isolation"):
        app_of(tmp_path / "other", sparql_isolation="forked")


def test_a_worker_that_dies_mid_query_is_a_500_and_is_replaced(tmp_path):
    """An engine crash (or the OOM killer) takes one worker, not the node: here every worker is
    killed while one evaluates; the request answers 500 and the next query finds new workers."""
    import signal
    from concurrent.futures import ThreadPoolExecutor as Threads

    from node.sparql import RUNNER, close
    app = app_of(tmp_path, sparql_timeout_s=30.0, sparql_max_concurrent=2)
    client, pool = app.test_client(), app.extensions[RUNNER]
    try:
        assert client.get("/sparql", query_string={"query": "ASK {}"}).status_code == 200
        with Threads(1) as ex:
            running = ex.submit(client.get, "/sparql", query_string={"query": RUNAWAY})
            time.sleep(0.5)
            before = pool.pids()
            for pid in before:
                os.kill(pid, signal.SIGKILL)
            r = running.result(10)
        assert r.status_code == 500 and r.json["type"].endswith("sparql-evaluation") and "died" in r.json["detail"]
        ok = client.get("/sparql", query_string={"query": "ASK { ?s a ?t }"}, headers={"Accept": "application/json"})
        assert ok.status_code == 200 and ok.json["boolean"] is True
        assert not set(pool.pids()) & set(before)
    finally:
        close(app)


def test_a_worker_grown_too_big_is_retired(tmp_path, monkeypatch):
    from node import sparql_pool
    from node.sparql import RUNNER, close
    monkeypatch.setattr(sparql_pool, "RETIRE_RSS", 0)  # every worker is too big after a query
    app = app_of(tmp_path, sparql_max_concurrent=1)
    client, pool = app.test_client(), app.extensions[RUNNER]
    try:
        seen = []
        for _ in range(2):
            assert client.get("/sparql", query_string={"query": "ASK {}"}).status_code == 200
            deadline = time.monotonic() + 10
            while not pool.pids() and time.monotonic() < deadline:  # its replacement is starting
                time.sleep(0.02)
            seen.append(pool.pids())
        assert len(seen[0]) == len(seen[1]) == 1 and seen[0] != seen[1]
    finally:
        close(app)

